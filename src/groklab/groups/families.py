"""Constructors for the named group families, each returning a `FiniteGroup`.

Index conventions (they fix the meaning of every dataset row, so they are part of the API):

- cyclic products `Z4xZ7`: mixed radix, first factor fastest — idx = x0 + x1·o0 + x2·o0·o1 + ...
  (the Li2 reference code's `modular_addition` convention);
- direct_product(G, H): the same mixed radix with G fastest — idx = g + |G|·h;
- dihedral D<2n>: r^k s^e at index k + n·e;
- dicyclic Dic<4n>: a^k x^e at index k + 2n·e;
- semidirect Z_n ⋊_r Z_m: (a, b) at index a + n·b;
- S<n>, A<n>: sympy's `generate_schreier_sims()` order, product g_a·g_b = "apply g_a, then g_b"
  (the Li2 reference code's `sym` convention — needed to reproduce its tables).

The constructions are correct by construction and checked in the tests, so they skip the
O(n³) associativity check of `FiniteGroup` (which would dominate for S6 and large Z_n).
Bad parameters raise `GroklabError`; `names.get_group` adds the group name to the message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup

# The Cayley table has order² int64 entries; 4096² is 128 MiB, beyond which tables (and the
# order² datasets built on them) stop being practical.
MAX_ORDER = 4096
# S7 has 5040 elements: its table, irreps and order² datasets are too big for this toolkit.
MAX_PERMUTATION_DEGREE = 6


def _check_order(order: int, what: str) -> None:
    if order > MAX_ORDER:
        raise GroklabError(f"{what} has order {order}; groups are limited to order <= {MAX_ORDER}")


def _trusted(name: str, table: np.ndarray, labels: list[str] | None = None, **kw) -> FiniteGroup:
    """A FiniteGroup from a table we built ourselves (axioms hold by construction)."""
    return FiniteGroup(name=name, table=table, labels=labels, _checked=True, **kw)


# -- abelian: cyclic groups and their products -----------------------------------------------
def cyclic(n: int) -> FiniteGroup:
    """Z<n>: integers mod n under addition, element x at index x."""
    return cyclic_product([n])


def cyclic_product(orders: Sequence[int]) -> FiniteGroup:
    """Z<o0> x Z<o1> x ...: component-wise addition, mixed-radix indices (first factor fastest)."""
    orders = tuple(int(o) for o in orders)
    if not orders or any(o < 1 for o in orders):
        raise GroklabError(f"cyclic factors need orders >= 1, got {list(orders)}")
    name = "x".join(f"Z{o}" for o in orders)
    total = math.prod(orders)
    _check_order(total, name)
    digits = _mixed_radix_digits(total, orders)  # [k, total]
    strides = np.cumprod((1,) + orders[:-1])
    # (x + y) component-wise mod o_i, re-encoded in the same radix
    table = np.zeros((total, total), dtype=np.int64)
    for i, o in enumerate(orders):
        table += ((digits[i][:, None] + digits[i][None, :]) % o) * strides[i]
    if len(orders) == 1:
        labels = [str(x) for x in range(total)]
    else:
        labels = ["(" + ",".join(str(int(d)) for d in digits[:, x]) + ")" for x in range(total)]
    return _trusted(name, table, labels, factors=orders)


def _mixed_radix_digits(total: int, orders: Sequence[int]) -> np.ndarray:
    """digits[i, x] = i-th component of index x (first factor fastest)."""
    idx = np.arange(total)
    out = np.empty((len(orders), total), dtype=np.int64)
    for i, o in enumerate(orders):
        out[i] = idx % o
        idx = idx // o
    return out


def direct_product(g: FiniteGroup, h: FiniteGroup, name: str | None = None) -> FiniteGroup:
    """G x H with index g + |G|·h (G fastest, as for cyclic products).

    `factors` is kept when both sides are cyclic products, because the concatenated factor list
    then describes exactly the same mixed-radix indexing.
    """
    name = name or f"{g.name}x{h.name}"
    n, m = g.order, h.order
    _check_order(n * m, name)
    gi, hi = np.arange(n * m) % n, np.arange(n * m) // n
    table = g.table[gi[:, None], gi[None, :]] + n * h.table[hi[:, None], hi[None, :]]
    labels = [f"({g.element_label(int(a))},{h.element_label(int(b))})" for a, b in zip(gi, hi)]
    factors = g.factors + h.factors if g.factors is not None and h.factors is not None else None
    return _trusted(name, table, labels, factors=factors)


# -- dihedral and dicyclic -------------------------------------------------------------------
def dihedral(order: int) -> FiniteGroup:
    """D<2n> of order 2n (GAP convention: D12 has order 12): r^k s^e at index k + n·e.

    (r^k s^e)(r^l s^f) = r^(k + (-1)^e l) s^(e+f), since s r s⁻¹ = r⁻¹. D4 is the Klein group.
    """
    if order < 4 or order % 2:
        raise GroklabError(f"dihedral D<2n> needs an even order >= 4, got {order}")
    n = order // 2
    _check_order(order, f"D{order}")
    k, e = np.arange(order) % n, np.arange(order) // n
    sign = 1 - 2 * e  # (-1)^e
    rot = (k[:, None] + sign[:, None] * k[None, :]) % n
    table = rot + n * ((e[:, None] + e[None, :]) % 2)
    labels = [_word("r", int(a), "s", int(b)) for a, b in zip(k, e)]
    return _trusted(f"D{order}", table, labels)


def dicyclic(order: int, name: str | None = None) -> FiniteGroup:
    """Dic<4n> of order 4n, n >= 2: ⟨a, x | a^2n = 1, x² = aⁿ, x a x⁻¹ = a⁻¹⟩; a^k x^e at k + 2n·e.

    (a^k x^e)(a^l x^f) = a^(k + (-1)^e l + n·[e=f=1]) x^(e+f), because x a^l = a^-l x and x² = aⁿ.
    Dic8 is the quaternion group Q8.
    """
    if order < 8 or order % 4:
        raise GroklabError(f"dicyclic Dic<4n> needs an order divisible by 4 and >= 8, got {order}")
    n = order // 4
    m = 2 * n  # order of a
    _check_order(order, f"Dic{order}")
    k, e = np.arange(order) % m, np.arange(order) // m
    sign = 1 - 2 * e
    both = e[:, None] * e[None, :]  # x·x contributes x² = aⁿ
    rot = (k[:, None] + sign[:, None] * k[None, :] + n * both) % m
    table = rot + m * ((e[:, None] + e[None, :]) % 2)
    labels = [_word("a", int(a), "x", int(b)) for a, b in zip(k, e)]
    return _trusted(name or f"Dic{order}", table, labels)


def quaternion() -> FiniteGroup:
    """Q8 = Dic8 (same indexing as `dicyclic(8)`)."""
    return dicyclic(8, name="Q8")


def _word(r: str, k: int, s: str, e: int) -> str:
    parts = ([r if k == 1 else f"{r}^{k}"] if k else []) + ([s] if e else [])
    return "".join(parts) or "e"


# -- symmetric and alternating (sympy order, as in the Li2 reference) -------------------------
def symmetric(n: int) -> FiniteGroup:
    """S<n>, n = 1..6, in sympy's schreier–sims order with sympy's product (apply left first)."""
    return _permutation_group("S", n)


def alternating(n: int) -> FiniteGroup:
    """A<n>, n = 1..6, enumerated like `symmetric` but from sympy's AlternatingGroup."""
    return _permutation_group("A", n)


def _permutation_group(kind: str, n: int) -> FiniteGroup:
    if not 1 <= n <= MAX_PERMUTATION_DEGREE:
        raise GroklabError(
            f"{kind}<n>: n must be 1..{MAX_PERMUTATION_DEGREE}, got {n} (S7 has 5040 elements: its irreps "
            "and order² datasets are too big)"
        )
    from sympy.combinatorics import AlternatingGroup, SymmetricGroup  # slow import, only when needed

    group = (SymmetricGroup if kind == "S" else AlternatingGroup)(n)
    # sympy's AlternatingGroup(2) has degree 1; pad with fixed points so every array has length n
    forms = [p.array_form for p in group.generate_schreier_sims()]
    perms = np.array([f + list(range(len(f), n)) for f in forms], dtype=np.int64)
    # sympy: (p*q)(i) = q(p(i)), i.e. the product's array form is q[p]. Permutations are looked up
    # by their base-n code (n^n <= 46656 entries), which keeps the table build vectorised.
    codes = perms @ (n ** np.arange(n))  # base-n code of each permutation, unique
    lookup = np.full(n**n, -1, dtype=np.int64)
    lookup[codes] = np.arange(len(perms))
    # composed[a, b, i] = perms[b][perms[a][i]]
    composed = perms[np.arange(len(perms))[None, :, None], perms[:, None, :]]
    table = lookup[composed @ (n ** np.arange(n))]
    labels = [_cycle_notation(p) for p in perms]
    return _trusted(f"{kind}{n}", table, labels)


def _cycle_notation(perm: np.ndarray) -> str:
    """'(0 1 2)(3 4)' (0-based, as sympy prints), '()' for the identity."""
    seen, cycles = set(), []
    for start in range(len(perm)):
        if start in seen or perm[start] == start:
            continue
        cycle, i = [], start
        while i not in seen:
            seen.add(i)
            cycle.append(str(int(i)))
            i = int(perm[i])
        cycles.append("(" + " ".join(cycle) + ")")
    return "".join(cycles) or "()"


# -- semidirect products of cyclic groups ----------------------------------------------------
def semidirect(n: int, m: int, r: int) -> FiniteGroup:
    """Z_n ⋊_r Z_m: (a, b)(c, d) = (a + r^b·c mod n, b + d mod m), (a, b) at index a + n·b.

    b acts on Z_n by multiplication with r^b, an automorphism only when gcd(r, n) = 1, and a
    homomorphism Z_m → Aut(Z_n) only when r^m ≡ 1 (mod n).
    """
    name = f"Semidirect({n},{m},{r})"
    if n < 1 or m < 1:
        raise GroklabError(f"{name}: Z_n ⋊ Z_m needs n >= 1 and m >= 1")
    if math.gcd(r, n) != 1:
        raise GroklabError(f"{name}: r must be a unit mod n (gcd(r, n) = 1), got gcd({r}, {n}) = {math.gcd(r, n)}")
    if pow(r, m, n) != 1 % n:
        raise GroklabError(
            f"{name}: r^m must be 1 mod n so that Z_m acts on Z_n, got {r}^{m} ≡ {pow(r, m, n)} (mod {n})"
        )
    _check_order(n * m, name)
    a, b = np.arange(n * m) % n, np.arange(n * m) // n
    rpow = np.array([pow(r, int(x), n) for x in range(m)], dtype=np.int64)  # r^b mod n
    first = (a[:, None] + rpow[b][:, None] * a[None, :]) % n
    table = first + n * ((b[:, None] + b[None, :]) % m)
    labels = [f"({x},{y})" for x, y in zip(a, b)]
    return _trusted(name, table, labels)


# -- user tables -----------------------------------------------------------------------------
def from_table(table, name: str = "custom", labels: list[str] | None = None) -> FiniteGroup:
    """A group from a Cayley table (0-based, table[a, b] = a·b); the axioms are checked."""
    table = np.asarray(table)
    if table.dtype.kind not in "iu":
        raise GroklabError(f"{name}: a Cayley table must hold integers, got dtype {table.dtype}")
    if table.ndim == 2:
        _check_order(table.shape[0], name)
    return FiniteGroup(name=name, table=table, labels=labels)
