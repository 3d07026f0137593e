"""Group names: `get_group("D12")` and the table behind `groklab groups list`.

Accepted names (case-insensitive, spaces ignored; the returned group carries the canonical
spelling): `Z71`, `Z4xZ7`, `D12`, `Dic12`, `Q8`, `S4`, `A5`, `Semidirect(7,3,2)`,
`SmallGroup(24,12)`. `Dic8` is the same group as `Q8` and is returned under that name.

Groups are cached by canonical name, so `get_group("z4xz7") is get_group("Z4xZ7")` and the
irreps cached on the group object are computed once per process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from groklab.errors import GroklabError, closest
from groklab.groups import families
from groklab.groups.group import FiniteGroup


class FamilyInfo(NamedTuple):
    """One row of `groklab groups list`."""

    pattern: str
    example: str
    description: str
    limits: str


_FAMILIES = [
    FamilyInfo("Z<n>", "Z71", "cyclic group of order n (addition mod n)", f"1 <= n <= {families.MAX_ORDER}"),
    FamilyInfo(
        "Z<a>xZ<b>x...",
        "Z4xZ7",
        "direct product of cyclic groups; mixed-radix indices, first factor fastest",
        f"each factor >= 1, order <= {families.MAX_ORDER}",
    ),
    FamilyInfo("D<2n>", "D12", "dihedral group of order 2n (GAP convention: D12 has order 12)", "even order >= 4"),
    FamilyInfo("Dic<4n>", "Dic12", "dicyclic group of order 4n", "order divisible by 4, >= 8"),
    FamilyInfo("Q8", "Q8", "quaternion group (= Dic8)", "-"),
    FamilyInfo("S<n>", "S4", "symmetric group on n points (sympy order, as the Li2 reference)", "n = 1..6"),
    FamilyInfo("A<n>", "A5", "alternating group on n points (sympy order)", "n = 1..6"),
    FamilyInfo(
        "Semidirect(n,m,r)",
        "Semidirect(7,3,2)",
        "Z_n ⋊ Z_m with (a,b)(c,d) = (a + r^b c, b + d)",
        "gcd(r,n) = 1 and r^m = 1 mod n",
    ),
    FamilyInfo("SmallGroup(n,i)", "SmallGroup(24,12)", "group i of order n in GAP's SmallGroups library", "needs GAP"),
]

_PATTERNS = ", ".join(f.pattern for f in _FAMILIES)

_INT = r"(\d+)"
_PRODUCT = re.compile(r"z\d+(xz\d+)*")
_SIMPLE = re.compile(r"(dic|d|s|a)(\d+)")
_CALL = re.compile(r"(semidirect|smallgroup)\((.*)\)")


def list_families() -> list[FamilyInfo]:
    """Rows (pattern, example, description, limits) for the accepted group names."""
    return list(_FAMILIES)


def get_group(name: str) -> FiniteGroup:
    """The group called `name` (see the module docstring); bad names raise GroklabError."""
    if not isinstance(name, str):
        raise GroklabError(f"bad group {name!r}: a group name must be a string such as 'Z71' or 'S4'")
    return _build(canonical_name(name))


def canonical_name(name: str) -> str:
    """The canonical spelling of a group name, e.g. 'z4xz7' -> 'Z4xZ7'; raises on bad names."""
    raw = name
    key = "".join(name.split()).lower()

    def bad(why: str) -> GroklabError:
        return GroklabError(f"bad group {raw!r}: {why}")

    if not key:
        raise bad(f"empty name; accepted patterns: {_PATTERNS}")
    if key.startswith("z"):
        if not _PRODUCT.fullmatch(key):
            raise bad("malformed cyclic product; write Z<n> or Z<a>xZ<b>x... with positive integers, e.g. Z4xZ7")
        orders = [int(p[1:]) for p in key.split("x")]
        if any(o < 1 for o in orders):
            raise bad("Z<n> needs n >= 1")
        return "x".join(f"Z{o}" for o in orders)
    if key == "q8":
        return "Q8"
    if m := _SIMPLE.fullmatch(key):
        kind, n = m.group(1), int(m.group(2))
        if kind == "d" and (n < 4 or n % 2):
            raise bad("dihedral D<2n> needs an even order >= 4 (D12 is the dihedral group of order 12)")
        if kind == "dic" and (n < 8 or n % 4):
            raise bad("dicyclic Dic<4n> needs an order divisible by 4 and >= 8 (Dic12 has order 12)")
        if kind in "sa" and not 1 <= n <= families.MAX_PERMUTATION_DEGREE:
            raise bad(
                f"{kind.upper()}<n>: n must be 1..{families.MAX_PERMUTATION_DEGREE} "
                "(S7 has 5040 elements: its irreps and order² datasets are too big)"
            )
        if kind == "dic" and n == 8:
            return "Q8"
        return {"d": "D", "dic": "Dic", "s": "S", "a": "A"}[kind] + str(n)
    if m := _CALL.fullmatch(key):
        func, args = m.group(1), m.group(2).split(",")
        if func == "semidirect":
            if len(args) != 3 or not all(re.fullmatch(_INT, a) for a in args):
                raise bad("write Semidirect(n,m,r) with three non-negative integers, e.g. Semidirect(7,3,2)")
            return "Semidirect({},{},{})".format(*(int(a) for a in args))
        if len(args) != 2 or not all(re.fullmatch(_INT, a) for a in args):
            raise bad("write SmallGroup(order,id) with two positive integers, e.g. SmallGroup(24,12)")
        order, gid = int(args[0]), int(args[1])
        if order < 1 or gid < 1:
            raise bad("SmallGroup(order,id) needs order >= 1 and id >= 1")
        return f"SmallGroup({order},{gid})"
    hint = closest(raw.strip(), [f.example for f in _FAMILIES])
    hint = f"did you mean {hint!r}? " if hint else ""
    raise bad(f"unknown group name; {hint}accepted patterns: {_PATTERNS} (e.g. Z71, Z4xZ7, D12, S4, SmallGroup(24,12))")


@lru_cache(maxsize=None)
def _build(canonical: str) -> FiniteGroup:
    try:
        return _construct(canonical)
    except GroklabError as err:
        msg = str(err).removeprefix(f"{canonical}: ")  # constructors may name the group themselves
        raise GroklabError(msg if msg.startswith("bad group") else f"bad group {canonical!r}: {msg}") from None


def _construct(name: str) -> FiniteGroup:
    if name.startswith("Z"):
        orders = [int(p[1:]) for p in name.split("x")]
        return families.cyclic_product(orders)
    if name == "Q8":
        return families.quaternion()
    if name.startswith("Semidirect("):
        n, m, r = (int(a) for a in name[len("Semidirect(") : -1].split(","))
        return families.semidirect(n, m, r)
    if name.startswith("SmallGroup("):
        order, gid = (int(a) for a in name[len("SmallGroup(") : -1].split(","))
        try:
            from groklab.groups.gap import smallgroup  # optional: only SmallGroup names need GAP
        except ImportError as err:
            raise GroklabError(f"{name} needs the GAP SmallGroups support (groklab.groups.gap): {err}") from None
        return smallgroup(order, gid)
    kind, n = re.fullmatch(r"(Dic|D|S|A)(\d+)", name).groups()
    constructor = {"D": families.dihedral, "Dic": families.dicyclic, "S": families.symmetric, "A": families.alternating}
    return constructor[kind](int(n))
