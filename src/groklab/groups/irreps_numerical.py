"""The numerical path of `groklab.groups.irreps`: irreps of any finite group from its Cayley table.

(a) characters from the class algebra (Burnside–Dixon); (b) per irrep of degree d > 1, one copy of ρ
from an eigenvalue cluster of a random Hermitian element acting on the isotypic component; (c) ρ(g)
on a few generators, propagated along a spanning tree of the Cayley graph. A degenerate random draw is
detected and retried once with another seed; the seeds are fixed, so results are deterministic for a
given numpy/LAPACK. `irreps.py`'s module docstring gives the details and the irrep order.
"""

from __future__ import annotations

import weakref

import numpy as np

from groklab.groups.group import FiniteGroup
from groklab.runtime import single_threaded_blas

_SEEDS = (20240917, 7)  # first try, and one retry when a random element is unluckily degenerate
_CLUSTER_TOL = 1e-9  # eigenvalue clusters: relative gap, far above eigh's ~1e-14 error
_CHECK_TOL = 1e-8  # character orthonormality and homomorphism spot checks
_TREES: "weakref.WeakKeyDictionary[FiniteGroup, tuple]" = weakref.WeakKeyDictionary()  # generator BFS


# -- general groups: decomposition of the regular representation ------------------------------
def decompose(group: FiniteGroup) -> tuple:
    """(matrices, characters, fs indicators, labels, conjugate index) of `group`'s irreps, in irrep order."""
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


def _decompose(group: FiniteGroup, rng: np.random.Generator) -> tuple:
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
    return matrices, characters, fs, _degree_labels(degrees[order].tolist()), conjugate


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
    snapped = roots_of_unity(exponent)[steps]
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


def roots_of_unity(m: int) -> np.ndarray:
    """exp(2πi j/m), with ±1 and ±i exact (so real characters come out exactly real)."""
    roots = np.exp(2j * np.pi * np.arange(m) / m)
    for quarter, value in enumerate((1, 1j, -1, -1j)):
        if (quarter * m) % 4 == 0:
            roots[quarter * m // 4] = value
    return roots
