"""A finite group as a Cayley table.

Elements are the integers 0..order-1 and `table[a, b]` is the index of the product a·b. Every
named family (cyclic, dihedral, symmetric, ...) builds such a table; everything downstream —
irreps, datasets, energies — works from the table alone, so any group given as a table is a
first-class citizen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from groklab.errors import GroklabError

_ASSOCIATIVITY_CHUNK = 64  # rows of a·b checked at once, bounds memory at 64·n² ints


@dataclass(eq=False)
class FiniteGroup:
    """A finite group given by its Cayley table (validated on construction).

    Attributes:
        name: the canonical name (`Z71`, `D12`, `SmallGroup(24,12)`, or a user label).
        table: int64 array [n, n], table[a, b] = a·b.
        labels: optional human-readable element labels (same order as the table).
        factors: the orders of cyclic factors when the group is a named product of cyclic groups
            (mixed-radix indexing, first factor fastest); None otherwise.
    """

    name: str
    table: np.ndarray
    labels: list[str] | None = None
    factors: tuple[int, ...] | None = None
    smallgroup_id: tuple[int, int] | None = None
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.table = np.ascontiguousarray(np.asarray(self.table, dtype=np.int64))
        if not self._checked:
            check_group_axioms(self.table, self.name)
            self._checked = True

    # -- basic structure -------------------------------------------------------------------
    @property
    def order(self) -> int:
        return int(self.table.shape[0])

    def __len__(self) -> int:
        return self.order

    @cached_property
    def identity(self) -> int:
        rows = np.nonzero((self.table == np.arange(self.order)).all(axis=1))[0]
        return int(rows[0])

    @cached_property
    def inverses(self) -> np.ndarray:
        """inverses[g] = g⁻¹."""
        a, b = np.nonzero(self.table == self.identity)
        inv = np.empty(self.order, dtype=np.int64)
        inv[a] = b
        return inv

    @cached_property
    def is_abelian(self) -> bool:
        return bool((self.table == self.table.T).all())

    @cached_property
    def conjugacy_classes(self) -> list[np.ndarray]:
        """Classes as sorted index arrays, ordered by their smallest element (identity first)."""
        n = self.order
        # conj[h, g] = h g h⁻¹
        conj = self.table[self.table[np.arange(n)[:, None], np.arange(n)[None, :]], self.inverses[:, None]]
        seen = np.zeros(n, dtype=bool)
        classes = []
        for g in range(n):
            if not seen[g]:
                members = np.unique(conj[:, g])
                seen[members] = True
                classes.append(members)
        return classes

    @cached_property
    def class_of(self) -> np.ndarray:
        """class_of[g] = index of g's conjugacy class in `conjugacy_classes`."""
        out = np.empty(self.order, dtype=np.int64)
        for k, members in enumerate(self.conjugacy_classes):
            out[members] = k
        return out

    @cached_property
    def element_orders(self) -> np.ndarray:
        orders = np.ones(self.order, dtype=np.int64)
        power = np.arange(self.order)
        e = self.identity
        done = power == e
        k = 1
        while not done.all():
            power = self.table[power, np.arange(self.order)]
            k += 1
            newly = (power == e) & ~done
            orders[newly] = k
            done |= newly
        return orders

    def multiply(self, a, b):
        """Vectorised product a·b for index arrays."""
        return self.table[a, b]

    def element_label(self, g: int) -> str:
        return self.labels[g] if self.labels else str(g)

    def __repr__(self) -> str:
        return f"FiniteGroup({self.name!r}, order={self.order})"


def check_group_axioms(table: np.ndarray, name: str = "group") -> None:
    """Raise GroklabError unless `table` is the Cayley table of a group.

    Checks: square shape, entries in range, an identity, Latin-square rows and columns (which gives
    inverses), and associativity (checked exhaustively, chunked to bound memory).
    """
    if table.ndim != 2 or table.shape[0] != table.shape[1] or table.shape[0] == 0:
        raise GroklabError(f"{name}: a Cayley table must be a non-empty square n×n array, got shape {table.shape}")
    n = table.shape[0]
    if table.min() < 0 or table.max() >= n:
        raise GroklabError(f"{name}: Cayley table entries must lie in 0..{n - 1}")
    arange = np.arange(n)
    identities = np.nonzero((table == arange).all(axis=1) & (table.T == arange).all(axis=1))[0]
    if len(identities) != 1:
        raise GroklabError(f"{name}: Cayley table has no two-sided identity element")
    if not (np.sort(table, axis=1) == arange).all() or not (np.sort(table, axis=0) == arange[:, None]).all():
        raise GroklabError(f"{name}: every row and column of a Cayley table must be a permutation (inverses)")
    for start in range(0, n, _ASSOCIATIVITY_CHUNK):
        a = arange[start : start + _ASSOCIATIVITY_CHUNK]
        left = table[table[a][:, :, None], arange[None, None, :]]  # (a·b)·c
        right = table[a[:, None, None], table[None, :, :]]  # a·(b·c)
        if not np.array_equal(left, right):
            raise GroklabError(f"{name}: Cayley table is not associative")
