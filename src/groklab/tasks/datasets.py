"""Full tables of the tasks: group composition (Li₂) and the six Muon-grokking tasks.

Every task is the *complete* table of its operation, with rows enumerated first-operand-major
(itertools.product order: for two operands the row index is a·M + b). This is the order in which the
Li₂ reference code (`modular_addition_simple2.py`: `itertools.product` for `modular_addition`,
nested loops for `sym`/`collection`/`expression`) builds its rows before `train_test_split`, so that
with the same row order a seeded split selects the same rows (see `splits.py`).

Conventions fixed here where the papers are silent (docs/conventions.md#tasks-and-data):
  * div excludes b = 0 (97·96 = 9312 rows, as in the cited base code); there is no option to keep it,
    because a/0 has no value to use as a label.
  * exp is pow(a, b, p) with 0^0 = 1; gcd is math.gcd with gcd(0, 0) = 0 (all labels < p already).
  * parity enumerates all 2^bits strings, most significant bit first (row i = binary of i).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from groklab.errors import GroklabError, closest
from groklab.groups.group import FiniteGroup

MAX_PARITY_BITS = 20  # 2^20 rows; beyond that the full table is no longer a small toy task
# Full tables above 2^24 rows (Z4096 composed with itself, or modulus 4096) are refused before they are
# built: they would need gigabytes before a model exists, and no experiment here uses one.
MAX_EXAMPLES = 2**24


@dataclass(eq=False)
class TaskData:
    """The full table of one task.

    Attributes:
        name: short label, e.g. `compose:Z71`, `add:97`, `parity:10`.
        inputs: int64 [N, arity] operand values, each in 0..num_values-1.
        labels: int64 [N] target class, in 0..num_classes-1.
        num_classes: size of the label alphabet (|G|, p, or 2 for parity).
        num_values: size of the operand alphabet (|G|, p, or 2 for parity bits).
        group: the group for `compose`; None for the Muon tasks (add mod p is Z_p, but the
            Muon tasks are used as plain token tasks, so no group is attached).
        op: the operation name (one of OPS).
    """

    name: str
    inputs: np.ndarray
    labels: np.ndarray
    num_classes: int
    num_values: int
    group: FiniteGroup | None
    op: str

    def __post_init__(self) -> None:
        self.inputs = np.ascontiguousarray(self.inputs, dtype=np.int64)
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int64)

    @property
    def arity(self) -> int:
        return int(self.inputs.shape[1])

    def __len__(self) -> int:
        return int(self.labels.shape[0])


# -- group composition (Li₂) -------------------------------------------------------------------


def _all_tuples(num_values: int, arity: int) -> np.ndarray:
    """All arity-tuples over 0..num_values-1 in itertools.product order (first operand slowest)."""
    grids = np.meshgrid(*([np.arange(num_values, dtype=np.int64)] * arity), indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1)


def group_composition(group: FiniteGroup, arity: int = 2) -> TaskData:
    """All |G|^arity products a·b (or (a·b)·c), rows first-operand-major."""
    if arity not in (2, 3):
        raise GroklabError(f"arity must be 2 or 3, got {arity}")
    inputs = _all_tuples(group.order, arity)
    labels = inputs[:, 0]
    for j in range(1, arity):  # left-associative; associativity makes the bracketing immaterial
        labels = group.table[labels, inputs[:, j]]
    return TaskData(
        name=f"compose:{group.name}" + (f":arity{arity}" if arity != 2 else ""),
        inputs=inputs,
        labels=labels,
        num_classes=group.order,
        num_values=group.order,
        group=group,
        op="compose",
    )


# -- modular tasks (Muon-grokking) -------------------------------------------------------------


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


def _check_modulus(p: int) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 2:
        raise GroklabError(f"modulus must be an integer ≥ 2, got {p!r}")
    return int(p)


def _modular(op: str, p: int, inputs: np.ndarray, labels: np.ndarray) -> TaskData:
    return TaskData(name=f"{op}:{p}", inputs=inputs, labels=labels, num_classes=p, num_values=p, group=None, op=op)


def modular_add(p: int = 97) -> TaskData:
    p = _check_modulus(p)
    x = _all_tuples(p, 2)
    return _modular("add", p, x, (x[:, 0] + x[:, 1]) % p)


def modular_sub(p: int = 97) -> TaskData:
    p = _check_modulus(p)
    x = _all_tuples(p, 2)
    return _modular("sub", p, x, (x[:, 0] - x[:, 1]) % p)  # numpy % is non-negative for p > 0


def modular_mul(p: int = 97) -> TaskData:
    p = _check_modulus(p)
    x = _all_tuples(p, 2)
    return _modular("mul", p, x, (x[:, 0] * x[:, 1]) % p)


def modular_div(p: int = 97) -> TaskData:
    """a · b^(p-2) mod p (Fermat inverse) for b ≠ 0: p·(p-1) rows.

    b = 0 is always excluded (a/0 is undefined, so there is no label to train on); the cited base
    code does the same, which is why the table has 9312 rows for p = 97 rather than the paper's 9409.
    A prime modulus is required so that every b ≠ 0 has an inverse.
    """
    p = _check_modulus(p)
    if not is_prime(p):
        raise GroklabError(
            f"division needs a prime modulus (got {p}): only then does every b ≠ 0 have an inverse; "
            "use a prime such as 97"
        )
    inv = np.array([0] + [pow(b, p - 2, p) for b in range(1, p)], dtype=np.int64)
    a = np.repeat(np.arange(p, dtype=np.int64), p - 1)  # first operand slowest, as in the base code
    b = np.tile(np.arange(1, p, dtype=np.int64), p)
    return _modular("div", p, np.stack([a, b], axis=1), (a * inv[b]) % p)


def modular_exp(p: int = 97) -> TaskData:
    """pow(a, b, p) over a, b ∈ [0, p); 0^0 = 1 as in Python's pow."""
    p = _check_modulus(p)
    power = np.empty((p, p), dtype=np.int64)  # power[a, b] = a^b mod p, built column by column
    power[:, 0] = 1 % p
    base = np.arange(p, dtype=np.int64)
    for b in range(1, p):
        power[:, b] = (power[:, b - 1] * base) % p
    x = _all_tuples(p, 2)
    return _modular("exp", p, x, power[x[:, 0], x[:, 1]])


def modular_gcd(p: int = 97) -> TaskData:
    """gcd(a, b) over a, b ∈ [0, p); gcd(0, 0) = 0. No reduction needed: every gcd is < p."""
    p = _check_modulus(p)
    x = _all_tuples(p, 2)
    return _modular("gcd", p, x, np.gcd(x[:, 0], x[:, 1]))


def parity(bits: int = 10) -> TaskData:
    """All 2^bits bit strings (MSB first, row i is the binary expansion of i); label = XOR of bits."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_PARITY_BITS:
        raise GroklabError(f"parity bits must be an integer in 1..{MAX_PARITY_BITS}, got {bits!r}")
    bits = int(bits)
    rows = np.arange(2**bits, dtype=np.int64)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    inputs = (rows[:, None] >> shifts[None, :]) & 1
    return TaskData(
        name=f"parity:{bits}", inputs=inputs, labels=inputs.sum(axis=1) % 2,
        num_classes=2, num_values=2, group=None, op="parity",
    )


@dataclass(frozen=True)
class TaskOp:
    """One task op of the registry: its builder and its default training fraction."""

    build: Callable  # compose: (group, arity); modular ops: (modulus); parity: (bits)
    train_fraction: float  # used when a config names no split (groklab.tasks.build)
    modular: bool = False  # a binary op mod `task.modulus`


# The task ops: one registry for make_task, the default splits and the config (task.op's allowed values).
# Default fractions: Li2 Fig. 3 (n = 2016 of 5041 for Z71) for group composition, and the Muon paper's
# Fig. 2 fractions for its tasks (sub is not in the paper; it follows add).
OPS: dict[str, TaskOp] = {
    "compose": TaskOp(group_composition, 0.4),
    "add": TaskOp(modular_add, 0.8, modular=True),
    "sub": TaskOp(modular_sub, 0.8, modular=True),
    "mul": TaskOp(modular_mul, 0.5, modular=True),
    "div": TaskOp(modular_div, 0.8, modular=True),
    "exp": TaskOp(modular_exp, 0.7, modular=True),
    "gcd": TaskOp(modular_gcd, 0.5, modular=True),
    "parity": TaskOp(parity, 0.5),
}
MODULAR_OPS = tuple(name for name, op in OPS.items() if op.modular)


def make_task(
    op: str = "compose",
    group: FiniteGroup | None = None,
    modulus: int = 97,
    arity: int = 2,
    parity_bits: int = 10,
) -> TaskData:
    """Build the full table of one task.

    `compose` needs `group` (a FiniteGroup; names are resolved by the config layer) and accepts
    arity 2 or 3. The modular ops use `modulus` and are binary only (for a 3-operand sum use
    `compose` over Z_p). `parity` uses `parity_bits`.
    """
    if op not in OPS:
        hint = closest(str(op), OPS)
        raise GroklabError(
            f"unknown task op {op!r}" + (f" (did you mean {hint!r}?)" if hint else "") + f"; allowed: {', '.join(OPS)}"
        )
    if op == "compose":
        if group is None:
            raise GroklabError("task op 'compose' needs a group (e.g. Z71, D12, S4)")
        _check_examples(group.order**arity if arity in (2, 3) else 0, f"compose:{group.name} with arity {arity}",
                        "use a smaller group or arity 2")
        return OPS[op].build(group, arity)
    if arity != 2:
        raise GroklabError(f"task op {op!r} is binary (arity 2), got arity {arity}; only 'compose' allows arity 3")
    if op != "parity":
        _check_examples(modulus**2 if isinstance(modulus, int) else 0, f"{op} mod {modulus}", "use a smaller modulus")
    if op == "parity":
        return OPS[op].build(parity_bits)
    return OPS[op].build(modulus)


def _check_examples(rows: int, what: str, fix: str) -> None:
    if rows > MAX_EXAMPLES:
        raise GroklabError(f"task {what} has {rows} examples, more than the {MAX_EXAMPLES} allowed; {fix}")
