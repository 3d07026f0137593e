"""Irreducible unitary representations of a finite group, computed from its Cayley table.

`irreps(group)` returns an `Irreps` record, computed once per group object and cached.

Two paths:

- **Cyclic products** (`group.factors` set, e.g. `Z71`, `Z4xZ7`): the exact DFT characters
  ρ_k(x) = exp(2πi Σ_i k_i x_i / o_i). Irrep j is the frequency vector k whose mixed-radix index
  (first factor fastest, like the elements) is j, so irrep k of `Z_M` is frequency k.
- **Everything else** (numerical, checked to 1e-8; `groklab.groups.irreps_numerical`):
  (a) characters from the class algebra (Burnside–Dixon): one Hermitian eigenproblem of size
      #classes for a random central element;
  (b) per irrep of degree d > 1, the isotypic component W ⊂ C^G (range of the character projector,
      dim d²) is ρ ⊗ ρ* under left × right multiplication; a random Hermitian element of the
      right-regular algebra acts on W as I ⊗ M, and one eigenvalue cluster of M gives an
      orthonormal basis B of one copy of ρ, with ρ(g) = Bᴴ L_g B (L_g e_h = e_{gh});
  (c) ρ(g) is computed on a few generators and propagated along a spanning tree of the Cayley
      graph. A degenerate random draw is detected and retried once with another seed.
  The seeds are fixed, so results are deterministic for a given numpy/LAPACK. The basis of a
  non-abelian irrep is defined only up to a unitary change of basis; characters, projectors and
  powers are basis-free. Table-given abelian groups take this path too (all d = 1; the
  eigenproblem is |G|×|G|, fine for the catalog's orders ≤ 128, about 5 s at |G| = 1024), and
  their characters are snapped to exact roots of unity of the group exponent.

Irrep order: the trivial irrep first, then by degree ascending; ties are broken by the character
(class by class, larger real part first, then larger imaginary part), which is basis-free and so
deterministic. Non-DFT labels are degree + letter: "1a", "1b", "2a", "3a", ...
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from groklab.groups.group import FiniteGroup
from groklab.groups.irreps_numerical import decompose, roots_of_unity

_FS_TYPES = {1: "real", 0: "complex", -1: "quaternionic"}

_CACHE: "weakref.WeakKeyDictionary[FiniteGroup, Irreps]" = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class Irreps:
    """All irreps of one group (arrays are read-only: they are shared through the cache).

    Attributes:
        matrices: per irrep k, complex128 [order, d_k, d_k] with matrices[k][g] = ρ_k(g), unitary.
        degrees: int64 [num_irreps].
        characters: complex128 [num_irreps, order], χ_k(g) = tr ρ_k(g).
        fs_indicator: int64 [num_irreps], Frobenius–Schur ν_k = (1/|G|) Σ_g χ_k(g²) ∈ {1, 0, -1}.
        fs_type: 'real' | 'complex' | 'quaternionic' per irrep (ν = 1, 0, -1).
        labels: "k=3" / "k=(1,0,2)" for cyclic products, "1a", "2a", ... otherwise.
        conjugate: int64 [num_irreps], index of the irrep with character conj(χ_k).
        exact: True when the matrices are the closed-form DFT characters.
    """

    group_name: str
    matrices: list[np.ndarray]
    degrees: np.ndarray
    characters: np.ndarray
    fs_indicator: np.ndarray
    fs_type: list[str]
    labels: list[str]
    conjugate: np.ndarray
    exact: bool

    @property
    def num_irreps(self) -> int:
        return len(self.matrices)

    @cached_property
    def by_degree(self) -> list[tuple[np.ndarray, int, np.ndarray]]:
        """[(irrep indices, d, basis [order, m, d, d])] per distinct degree d, ascending.

        Element-major, so `basis.reshape(order, -1)` is a free view and the Fourier transform is
        one matmul per degree instead of one einsum per irrep (an abelian group has |G| irreps).
        """
        out = []
        for d in np.unique(self.degrees):
            idx = np.nonzero(self.degrees == d)[0]
            basis = np.ascontiguousarray(np.stack([self.matrices[k] for k in idx], axis=1))
            basis.flags.writeable = False
            out.append((idx, int(d), basis))
        return out

    def __repr__(self) -> str:
        return f"Irreps({self.group_name!r}, degrees={self.degrees.tolist()})"


def irreps(group: FiniteGroup) -> Irreps:
    """The irreps of `group`, computed on first use and cached on the group object."""
    cached = _CACHE.get(group)
    if cached is None:
        cached = _exact_dft(group) if group.factors is not None else _finish(group, *decompose(group), exact=False)
        _CACHE[group] = cached
    return cached


# -- cyclic products: closed-form DFT --------------------------------------------------------
def _exact_dft(group: FiniteGroup) -> Irreps:
    orders = group.factors
    n = group.order
    digits = _digits(n, orders)  # digits[i, x]: component i of element x (and of frequency x)
    lcm = math.lcm(*orders)
    # phase[k, x] = Σ_i k_i x_i (lcm / o_i) mod lcm, an integer, so the characters are exact
    # lookups into one table of lcm-th roots of unity.
    phase = np.zeros((n, n), dtype=np.int64)
    for i, o in enumerate(orders):
        phase = (phase + np.outer(digits[i], digits[i]) * (lcm // o)) % lcm
    characters = roots_of_unity(lcm)[phase]
    conjugate = np.zeros(n, dtype=np.int64)  # frequency -k, component-wise
    stride = 1
    for i, o in enumerate(orders):
        conjugate += ((-digits[i]) % o) * stride
        stride *= o
    fs = (conjugate == np.arange(n)).astype(np.int64)  # real iff k = -k, never quaternionic
    if len(orders) == 1:
        labels = [f"k={k}" for k in range(n)]
    else:
        labels = ["k=(" + ",".join(str(int(c)) for c in digits[:, k]) + ")" for k in range(n)]
    return _finish(group, [characters[k][:, None, None] for k in range(n)], characters, fs, labels, conjugate, True)


def _digits(total: int, orders) -> np.ndarray:
    idx = np.arange(total)
    out = np.empty((len(orders), total), dtype=np.int64)
    for i, o in enumerate(orders):
        out[i], idx = idx % o, idx // o
    return out


def _finish(group, matrices, characters, fs, labels, conjugate, exact) -> Irreps:
    for array in (*matrices, characters, fs, conjugate):
        array.flags.writeable = False
    degrees = np.array([m.shape[1] for m in matrices], dtype=np.int64)
    degrees.flags.writeable = False
    return Irreps(
        group_name=group.name,
        matrices=matrices,
        degrees=degrees,
        characters=characters,
        fs_indicator=fs,
        fs_type=[_FS_TYPES[int(v)] for v in fs],
        labels=labels,
        conjugate=conjugate,
        exact=exact,
    )
