"""Irreducible unitary representations of a finite group, computed from its Cayley table.

`irreps(group)` returns an `Irreps` record, computed once per group object and cached.

Two paths:

- **Cyclic products** (`group.factors` set, e.g. `Z71`, `Z4xZ7`): the exact DFT characters
  ρ_k(x) = exp(2πi Σ_i k_i x_i / o_i). Irrep j is the frequency vector k whose mixed-radix index
  (first factor fastest, like the elements) is j, so irrep k of `Z_M` is frequency k.
- **Everything else** (numerical, checked to 1e-8):
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
from groklab.runtime import single_threaded_blas

_SEEDS = (20240917, 7)  # first try, and one retry when a random element is unluckily degenerate
_CLUSTER_TOL = 1e-9  # eigenvalue clusters: relative gap, far above eigh's ~1e-14 error
_CHECK_TOL = 1e-8  # character orthonormality and homomorphism spot checks
_FS_TYPES = {1: "real", 0: "complex", -1: "quaternionic"}

_CACHE: "weakref.WeakKeyDictionary[FiniteGroup, Irreps]" = weakref.WeakKeyDictionary()
_TREES: "weakref.WeakKeyDictionary[FiniteGroup, tuple]" = weakref.WeakKeyDictionary()  # generator BFS


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
        cached = _exact_dft(group) if group.factors is not None else _numerical(group)
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
    characters = _roots_of_unity(lcm)[phase]
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


def _roots_of_unity(m: int) -> np.ndarray:
    """exp(2πi j/m), with ±1 and ±i exact (so real characters come out exactly real)."""
    roots = np.exp(2j * np.pi * np.arange(m) / m)
    for quarter, value in enumerate((1, 1j, -1, -1j)):
        if (quarter * m) % 4 == 0:
            roots[quarter * m // 4] = value
    return roots


# -- general groups: decomposition of the regular representation ------------------------------
def _numerical(group: FiniteGroup) -> Irreps:
    errors = []
    for seed in _SEEDS:
        try:
            # |G| <= 720 here, where BLAS threads gain little; on a busy machine their spinning made
            # eigh/cholesky 10-30x slower (S6: 0.6 s -> 30 s)
            with single_threaded_blas():
                return _decompose(group, np.random.default_rng(seed))
        except _Unlucky as err:  # a random element was (numerically) degenerate; retry once
            errors.append(str(err))
    raise RuntimeError(f"irrep decomposition of {group.name} failed with both seeds: {'; '.join(errors)}")


class _Unlucky(Exception):
    pass


def _decompose(group: FiniteGroup, rng: np.random.Generator) -> Irreps:
    n, table = group.order, group.table
    characters = _class_algebra_characters(group, rng)  # [num_irreps, n], any order
    degrees = np.rint(characters[:, group.identity].real).astype(np.int64)
    if group.is_abelian:
        characters = _snap_to_roots(characters, int(np.lcm.reduce(group.element_orders)))
    matrices = []
    for chi, d in zip(characters, degrees):
        if d == 1:
            matrices.append(np.ascontiguousarray(chi[:, None, None]))
            continue
        basis = _one_copy(group, chi, int(d), rng)
        rho = _represent(group, basis)
        if np.abs(np.trace(rho, axis1=1, axis2=2) - chi).max() > _CHECK_TOL:
            raise _Unlucky(f"degree-{d} matrices do not reproduce their character")
        matrices.append(rho)
    _check(group, matrices, characters, rng)

    conjugate = _match_conjugates(characters)
    squares = table[np.arange(n), np.arange(n)]
    fs = np.rint(characters[:, squares].sum(axis=1).real / n).astype(np.int64)
    order = _sort_order(group, characters)
    matrices = [matrices[k] for k in order]
    characters = characters[order]
    rank = np.argsort(order)  # old index -> new index
    conjugate = rank[conjugate[order]]
    fs = fs[order]
    return _finish(group, matrices, characters, fs, _degree_labels(degrees[order].tolist()), conjugate, False)


def _class_algebra_characters(group: FiniteGroup, rng: np.random.Generator) -> np.ndarray:
    """Burnside–Dixon: the character table from one Hermitian eigenproblem of size #classes.

    With C_i C_j = Σ_k a_ijk C_k, every central character ω_k(C) = |C| χ_k(C)/d_k is a common
    eigenvector of the matrices (A_i)_jk = a_ijk. For weights w with w[inverse class] = conj(w),
    D⁻¹(Σ_i w_i A_i)D (D = diag √|C|) is Hermitian with eigenvectors ∝ √|C| χ_k(C): small and
    well-conditioned, unlike an eigenproblem of the |G|×|G| regular representation.
    """
    n, table, inv = group.order, group.table, group.inverses
    classes, class_of = group.conjugacy_classes, group.class_of
    m = len(classes)
    sizes = np.array([len(c) for c in classes], dtype=np.float64)
    reps = np.array([int(c[0]) for c in classes])
    inverse_class = class_of[inv[reps]]
    re, im = rng.standard_normal(m), rng.standard_normal(m)
    w = (re + re[inverse_class]) + 1j * (im - im[inverse_class])
    # M_jk = Σ_i w_i a_ijk with a_ijk = #{x ∈ C_i : x⁻¹ z_k ∈ C_j} (z_k represents C_k): add
    # w[class of x] at [class of x⁻¹ z_k, k] for every x — never the m³ tensor a itself.
    quotient_class = class_of[table[inv][:, reps]]  # [x, k]
    weight = np.broadcast_to(w[class_of][:, None], quotient_class.shape)
    columns = np.broadcast_to(np.arange(m)[None, :], quotient_class.shape)
    mixed = np.zeros((m, m), dtype=np.complex128)
    np.add.at(mixed, (quotient_class, columns), weight)
    root = np.sqrt(sizes)
    h = mixed * root[None, :] / root[:, None]  # D⁻¹ M D
    values, vectors = np.linalg.eigh((h + h.conj().T) / 2)
    if len(_clusters(values)) != m:
        raise _Unlucky("two irreps share an eigenvalue of the random central element")
    omega = root[:, None] * vectors  # columns: central characters up to scale
    omega = omega / omega[class_of[group.identity]]  # ω(identity) = 1
    degrees = np.sqrt(n / (np.abs(omega) ** 2 / sizes[:, None]).sum(axis=0))
    if np.abs(degrees - np.rint(degrees)).max() > 1e-6:
        raise _Unlucky("class-algebra eigenvectors give non-integer degrees")
    per_class = (np.rint(degrees) * omega / sizes[:, None]).T  # [irrep, class]
    return per_class[:, class_of]


def _one_copy(group: FiniteGroup, chi: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
    """Orthonormal basis B [n, d] of one copy of ρ inside C^G (left regular action).

    The isotypic component W = image of P = (d/n) Σ_g conj χ(g) L_g has dimension d² and is
    ρ ⊗ ρ* under left × right multiplication. A random Hermitian element of the right algebra
    acts on W as I ⊗ M; one eigenvalue cluster of M (d eigenvectors) is a copy of ρ.
    """
    n, table, inv = group.order, group.table, group.inverses
    projector = (d / n) * np.conj(chi)[table[:, inv]]  # P[x, h] = (d/n) conj χ(x h⁻¹)
    u = _range_basis(projector, d * d, rng)
    if np.abs(projector @ u - u).max() > _CHECK_TOL:
        raise _Unlucky("random sketch of an isotypic component was rank deficient")
    # Y = Σ_g y_g R_g over ALL g (R_g e_h = e_{h g⁻¹}, so Y[x, h] = y[x⁻¹h]); y[g⁻¹] = conj(y[g])
    # makes it Hermitian. A few elements are not enough: in extraspecial groups, sums of a few
    # "Pauli" matrices square to scalars and have degenerate eigenvalues.
    c = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    y = c + np.conj(c[inv])
    restricted = u.conj().T @ (y[table[inv]] @ u)
    values, vectors = np.linalg.eigh((restricted + restricted.conj().T) / 2)
    if [len(k) for k in _clusters(values)] != [d] * d:
        raise _Unlucky(f"right-algebra element on a degree-{d} component is degenerate")
    return u @ vectors[:, :d]


def _range_basis(projector: np.ndarray, rank: int, rng: np.random.Generator) -> np.ndarray:
    """Orthonormal basis [n, rank] of the range of a Hermitian projector of that rank.

    Randomised range finder (projector @ Gaussian), orthonormalised by CholeskyQR2: matrix
    products and a small Cholesky only, because LAPACK's QR or eigh on the tall matrix is many
    times slower when BLAS threads compete for busy cores. A rank-deficient draw fails the
    Cholesky (or the caller's check) and triggers the retry with another seed.
    """
    n = projector.shape[0]
    sample = projector @ (rng.standard_normal((n, rank)) + 1j * rng.standard_normal((n, rank)))
    for _ in range(2):
        try:
            lower = np.linalg.cholesky(sample.conj().T @ sample)
        except np.linalg.LinAlgError:
            raise _Unlucky("random sketch of an isotypic component was rank deficient") from None
        sample = np.linalg.solve(lower.conj(), sample.T).T  # sample @ lower⁻ᴴ
    return sample


def _clusters(values: np.ndarray) -> list[np.ndarray]:
    """Indices of sorted eigenvalues grouped where consecutive gaps are below the tolerance."""
    tol = _CLUSTER_TOL * max(1.0, float(np.abs(values).max()))
    cuts = np.nonzero(np.diff(values) > tol)[0] + 1
    return np.split(np.arange(len(values)), cuts)


def _represent(group: FiniteGroup, basis: np.ndarray) -> np.ndarray:
    """ρ(g) = Bᴴ L_g B for all g.

    Computed directly only on a few generators s, using (L_s B)[x] = B[s⁻¹x]; every other ρ(g)
    follows along a breadth-first spanning tree of the Cayley graph as ρ(parent)·ρ(s). That is
    |G|·d³ work instead of |G|²·d², and the path products lose only ~depth·1e-16 of accuracy.
    """
    gens, layers = _spanning_tree(group)
    d = basis.shape[1]
    out = np.empty((group.order, d, d), dtype=np.complex128)
    out[group.identity] = np.eye(d)
    at_gens = basis.conj().T @ basis[group.table[group.inverses[gens]]]  # [gens, d, d]
    for children, parents, which in layers:
        out[children] = out[parents] @ at_gens[which]
    return out


def _spanning_tree(group: FiniteGroup):
    """Generators and BFS layers (children, parents, generator index) with child = parent·gen."""
    cached = _TREES.get(group)
    if cached is not None:
        return cached
    n, table = group.order, group.table
    # greedy generating set: elements of largest order first, each one not yet generated
    gens: list[int] = []
    reached = np.zeros(n, dtype=bool)
    reached[group.identity] = True
    for g in np.argsort(-group.element_orders, kind="stable"):
        if not reached[g]:
            gens.append(int(g))
            frontier = np.nonzero(reached)[0]
            while len(frontier):  # closure of ⟨gens⟩: right-multiply until nothing new
                nxt = np.unique(table[frontier[:, None], np.array(gens)[None, :]])
                frontier = nxt[~reached[nxt]]
                reached[frontier] = True
    gens_arr = np.array(gens, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    seen[group.identity] = True
    frontier, layers = np.array([group.identity]), []
    while len(frontier):
        children = table[frontier[:, None], gens_arr[None, :]].ravel()
        parents = np.repeat(frontier, len(gens_arr))
        which = np.tile(np.arange(len(gens_arr)), len(frontier))
        fresh = ~seen[children]
        children, first = np.unique(children[fresh], return_index=True)
        parents, which = parents[fresh][first], which[fresh][first]
        seen[children] = True
        if len(children):
            layers.append((children, parents, which))
        frontier = children
    _TREES[group] = (gens_arr, layers)
    return gens_arr, layers


def _snap_to_roots(characters: np.ndarray, exponent: int) -> np.ndarray:
    """Abelian characters are exponent-th roots of unity: replace the numerical values by them."""
    steps = np.rint(np.angle(characters) * exponent / (2 * np.pi)).astype(np.int64) % exponent
    snapped = _roots_of_unity(exponent)[steps]
    if np.abs(snapped - characters).max() > 1e-6:
        raise RuntimeError("abelian characters are not roots of unity; the decomposition is wrong")
    return snapped


def _check(group: FiniteGroup, matrices, characters: np.ndarray, rng: np.random.Generator) -> None:
    """Orthonormal characters, complete set, and ρ(a)ρ(b) = ρ(ab) on random pairs."""
    n = group.order
    gram = characters @ characters.conj().T / n
    if np.abs(gram - np.eye(len(characters))).max() > _CHECK_TOL:
        raise _Unlucky("characters are not orthonormal")
    if sum(m.shape[1] ** 2 for m in matrices) != n:
        raise _Unlucky("degrees do not satisfy Σ d² = |G|")
    a, b = rng.integers(0, n, 32), rng.integers(0, n, 32)
    for m in matrices:
        if np.abs(m[a] @ m[b] - m[group.table[a, b]]).max() > _CHECK_TOL:
            raise _Unlucky("matrices are not a homomorphism")


def _match_conjugates(characters: np.ndarray) -> np.ndarray:
    # Distinct irreps have orthogonal characters, so the best match is unambiguous.
    overlap = np.abs(characters.conj() @ characters.conj().T)  # ⟨conj χ_i, χ_j⟩ up to 1/|G|
    return np.argmax(overlap, axis=1).astype(np.int64)


def _sort_order(group: FiniteGroup, characters: np.ndarray) -> np.ndarray:
    """Trivial first, then degree, then the class-by-class character (larger Re, then Im)."""
    reps = [int(c[0]) for c in group.conjugacy_classes]
    chi = np.round(characters[:, reps], 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    degrees = np.rint(characters[:, group.identity].real).astype(int)

    def key(k: int):
        trivial = bool(np.all(chi[k] == 1))
        return (not trivial, degrees[k], *[(-z.real, -z.imag) for z in chi[k]])

    return np.array(sorted(range(len(characters)), key=key), dtype=np.int64)


def _degree_labels(degrees: list[int]) -> list[str]:
    """'1a', '1b', ..., '1z', '1aa', ... per degree, in irrep order."""
    seen: dict[int, int] = {}
    labels = []
    for d in degrees:
        i = seen.get(d, 0)
        seen[d] = i + 1
        letters = ""
        i += 1
        while i:  # bijective base 26
            i, r = divmod(i - 1, 26)
            letters = chr(ord("a") + r) + letters
        labels.append(f"{d}{letters}")
    return labels


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
