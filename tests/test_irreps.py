"""Irreps (DFT and numerical), Frobenius–Schur types and the group Fourier transform."""

import numpy as np
import pytest
import torch

from groklab.errors import GroklabError
from groklab.groups import (
    direct_product,
    fourier_transform,
    from_table,
    get_group,
    inverse_fourier_transform,
    irrep_power,
    irreps,
    isotypic_projector,
    real_irrep_groups,
    real_irrep_power,
)


def _relabelled(name: str, seed: int):
    """The group `name` as a bare table with shuffled element indices (no factors, no labels)."""
    g = get_group(name)
    perm = np.random.default_rng(seed).permutation(g.order)  # new index of old element
    table = np.empty_like(g.table)
    table[perm[:, None], perm[None, :]] = perm[g.table]
    return from_table(table, name=f"shuffled {name}")


REPRESENTATIVE = [
    "Z1", "Z2", "Z7", "Z12", "Z4xZ7", "Z2xZ2xZ9", "D4", "D10", "D12", "Dic12", "Dic16", "Q8",
    "S3", "S4", "S5", "A4", "A5", "Semidirect(7,3,2)", "Semidirect(9,2,8)",
]  # fmt: skip
TABLE_GIVEN = [("Dic12", 1), ("Z3xZ5", 2), ("S4", 3)]


def _groups():
    # Q8xD8 has a 4-dim irrep made of "Pauli" matrices, the case where sparse random elements of the
    # right algebra are degenerate.
    extra = [direct_product(get_group("Q8"), get_group("D8")), direct_product(get_group("S3"), get_group("Z4"))]
    return [get_group(n) for n in REPRESENTATIVE] + [_relabelled(n, s) for n, s in TABLE_GIVEN] + extra


@pytest.fixture(scope="module", params=_groups(), ids=lambda g: g.name)
def group(request):
    return request.param


def test_complete_and_ordered(group):
    ir = irreps(group)
    assert int((ir.degrees**2).sum()) == group.order
    assert ir.num_irreps == len(group.conjugacy_classes)
    assert np.allclose(ir.characters[0], 1)  # trivial first
    assert (np.diff(ir.degrees) >= 0).all()
    assert len(ir.labels) == len(set(ir.labels)) == ir.num_irreps
    assert irreps(group) is ir  # cached


def test_unitary_homomorphism(group):
    ir = irreps(group)
    t = group.table
    for m in ir.matrices:
        d = m.shape[1]
        assert m.shape == (group.order, d, d) and m.dtype == np.complex128
        assert np.abs(m @ np.conj(np.swapaxes(m, 1, 2)) - np.eye(d)).max() < 1e-10
        products = m[:, None] @ m[None, :]  # ρ(a)ρ(b) for all pairs
        assert np.abs(products - m[t]).max() < 1e-10


def test_schur_orthogonality(group):
    """Columns √(d_k/n) ρ_k(g)_ij over all (k, i, j) form a unitary n×n matrix."""
    ir = irreps(group)
    n = group.order
    cols = np.concatenate([np.sqrt(m.shape[1] / n) * m.reshape(n, -1) for m in ir.matrices], axis=1)
    assert cols.shape == (n, n)
    assert np.abs(cols.conj().T @ cols - np.eye(n)).max() < 1e-8


def test_characters_conjugates_and_fs(group):
    ir = irreps(group)
    n = group.order
    chi = ir.characters
    assert np.abs(chi @ chi.conj().T / n - np.eye(ir.num_irreps)).max() < 1e-8
    assert np.allclose(chi[ir.conjugate], chi.conj(), atol=1e-10)
    squares = group.table[np.arange(n), np.arange(n)]
    assert np.allclose(chi[:, squares].sum(axis=1) / n, ir.fs_indicator, atol=1e-8)
    for k in range(ir.num_irreps):
        assert (ir.fs_indicator[k] == 0) == (ir.conjugate[k] != k)
        assert ir.fs_type[k] == {1: "real", 0: "complex", -1: "quaternionic"}[ir.fs_indicator[k]]
    # constant on conjugacy classes
    for members in group.conjugacy_classes:
        assert np.allclose(chi[:, members], chi[:, members[:1]], atol=1e-10)


DEGREES = {
    "S3": [1, 1, 2],
    "S4": [1, 1, 2, 3, 3],
    "S5": [1, 1, 4, 4, 5, 5, 6],
    "A4": [1, 1, 1, 3],
    "A5": [1, 3, 3, 4, 5],
    "D12": [1, 1, 1, 1, 2, 2],
    "D10": [1, 1, 2, 2],
    "Q8": [1, 1, 1, 1, 2],
    "Dic12": [1, 1, 1, 1, 2, 2],
    "Semidirect(7,3,2)": [1, 1, 1, 3, 3],
}


@pytest.mark.parametrize("name", sorted(DEGREES))
def test_known_degrees(name):
    assert irreps(get_group(name)).degrees.tolist() == DEGREES[name]


def test_frobenius_schur_types():
    q8 = irreps(get_group("Q8"))
    assert q8.fs_type == ["real"] * 4 + ["quaternionic"]
    for n in (3, 4, 5):
        assert set(irreps(get_group(f"S{n}")).fs_type) == {"real"}
    z7 = irreps(get_group("Z7"))
    assert z7.fs_type == ["real"] + ["complex"] * 6
    assert irreps(get_group("Z8")).fs_type.count("real") == 2  # k = 0 and 4
    assert "quaternionic" in irreps(get_group("Dic12")).fs_type
    assert irreps(get_group("Semidirect(7,3,2)")).fs_type == ["real"] + ["complex"] * 4


def test_large_permutation_groups():
    s6, a6 = irreps(get_group("S6")), irreps(get_group("A6"))
    assert s6.degrees.tolist() == [1, 1, 5, 5, 5, 5, 9, 9, 10, 10, 16]
    assert a6.degrees.tolist() == [1, 5, 5, 8, 8, 9, 10]
    for ir, n in ((s6, 720), (a6, 360)):
        assert np.abs(ir.characters @ ir.characters.conj().T / n - np.eye(ir.num_irreps)).max() < 1e-8


def test_dft_is_exact_for_cyclic_groups():
    g = get_group("Z12")
    ir = irreps(g)
    assert ir.exact and ir.labels[:3] == ["k=0", "k=1", "k=2"]
    k, x = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
    assert np.abs(ir.characters - np.exp(2j * np.pi * (k * x % 12) / 12)).max() < 1e-15
    assert ir.characters[6].imag.max() == 0 and ir.characters[3][1] == 1j  # exact ±1, ±i
    assert ir.conjugate.tolist() == [0] + list(range(11, 0, -1))
    f = np.random.default_rng(0).standard_normal((4, 12))
    fhat = np.stack([c[..., 0, 0] for c in fourier_transform(g, f)], axis=-1)
    assert np.allclose(fhat, 12 * np.fft.ifft(f, axis=-1))  # Σ_x f(x) e^{+2πi kx/n}


def test_dft_labels_for_products():
    g = get_group("Z4xZ7")
    ir = irreps(g)
    assert ir.labels[1 + 4 * 2] == "k=(1,2)"
    x0, x1 = np.arange(28) % 4, np.arange(28) // 4
    expected = np.exp(2j * np.pi * (1 * x0 / 4 + 2 * x1 / 7))
    assert np.abs(ir.characters[1 + 4 * 2] - expected).max() < 1e-14
    assert ir.conjugate[1 + 4 * 2] == 3 + 4 * 5


def test_table_given_abelian_characters_are_exact_roots():
    g = _relabelled("Z3xZ5", 2)
    ir = irreps(g)
    assert not ir.exact and ir.degrees.tolist() == [1] * 15
    assert np.abs(ir.characters**15 - 1).max() < 1e-12


def test_deterministic_for_equal_tables():
    a = irreps(_relabelled("S4", 5))
    b = irreps(_relabelled("S4", 5))
    assert a is not b
    assert np.array_equal(a.characters, b.characters)
    assert all(np.array_equal(x, y) for x, y in zip(a.matrices, b.matrices))


FOURIER_GROUPS = ["Z12", "Z4xZ7", "Q8", "S4", "Semidirect(7,3,2)", "A5"]


@pytest.mark.parametrize("name", FOURIER_GROUPS)
def test_fourier_round_trip_and_plancherel_numpy(name):
    g = get_group(name)
    f = np.random.default_rng(1).standard_normal((3, 2, g.order))
    coeffs = fourier_transform(g, f)
    ir = irreps(g)
    assert [c.shape for c in coeffs] == [(3, 2, d, d) for d in ir.degrees]
    assert np.abs(inverse_fourier_transform(g, coeffs) - f).max() < 1e-12
    assert np.abs(inverse_fourier_transform(g, coeffs, real=True) - f).max() < 1e-12
    power = irrep_power(g, f)
    assert power.shape == (3, 2, ir.num_irreps) and power.dtype == np.float64
    assert np.allclose(power.sum(-1), (f**2).sum(-1))
    # complex input, single function
    z = f[0, 0] + 1j * f[1, 1]
    assert np.allclose(inverse_fourier_transform(g, fourier_transform(g, z)), z)
    assert np.isclose(irrep_power(g, z).sum(), (np.abs(z) ** 2).sum())


@pytest.mark.parametrize("name", FOURIER_GROUPS)
def test_fourier_round_trip_and_plancherel_torch(name):
    g = get_group(name)
    f64 = torch.randn(5, g.order, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    coeffs = fourier_transform(g, f64)
    assert all(isinstance(c, torch.Tensor) and c.dtype == torch.complex128 for c in coeffs)
    back = inverse_fourier_transform(g, coeffs, real=True)
    assert isinstance(back, torch.Tensor) and (back - f64).abs().max() < 1e-12
    power = irrep_power(g, f64)
    assert torch.allclose(power.sum(-1), (f64**2).sum(-1))
    assert np.allclose(power.numpy(), irrep_power(g, f64.numpy()))  # same numbers as numpy
    f32 = f64.float().requires_grad_()
    p32 = irrep_power(g, f32)
    assert p32.dtype == torch.float32
    p32.sum().backward()  # autograd flows: d/df Σ_g f² = 2f
    assert torch.allclose(f32.grad, 2 * f32.detach(), atol=1e-4)


def test_fourier_rejects_wrong_length():
    with pytest.raises(GroklabError, match="last axis of length 12"):
        fourier_transform(get_group("Z12"), np.zeros(11))


@pytest.mark.parametrize("name", ["Z7", "Z4xZ7", "S4", "Semidirect(7,3,2)", "Dic12"])
def test_isotypic_projectors(name):
    g = get_group(name)
    ir = irreps(g)
    f = np.random.default_rng(2).standard_normal((4, g.order))
    power = irrep_power(g, f)
    total = np.zeros((g.order, g.order), dtype=complex)
    for k in range(ir.num_irreps):
        p = isotypic_projector(g, k)
        assert np.allclose(p, p.conj().T) and np.allclose(p @ p, p)
        assert round(np.trace(p).real) == ir.degrees[k] ** 2
        assert np.allclose(np.linalg.norm(f @ p.T, axis=-1) ** 2, power[:, k])
        # its image is where the Fourier transform of p f lives
        others = [c for j, c in enumerate(fourier_transform(g, f @ p.T)) if j != k]
        assert all(np.abs(c).max() < 1e-10 for c in others)
        total += p
    assert np.allclose(total, np.eye(g.order))
    for group_ in real_irrep_groups(g):
        k = group_.members[0]
        pr = isotypic_projector(g, ir.labels[k], pair_conjugate=True)
        assert pr.dtype == np.float64 and np.allclose(pr, pr.T) and np.allclose(pr @ pr, pr)
        assert np.allclose(pr, sum(isotypic_projector(g, j) for j in group_.members))


def test_real_irrep_groups_and_power():
    g = get_group("Z7")
    groups = real_irrep_groups(g)
    assert [r.label for r in groups] == ["k=0", "k=1", "k=2", "k=3"]
    assert [r.members for r in groups] == [(0,), (1, 6), (2, 5), (3, 4)]
    f = np.random.default_rng(3).standard_normal((2, 7))
    power = irrep_power(g, f)
    assert np.allclose(power[:, 1], power[:, 6])  # conjugates carry equal power for real f
    rp = real_irrep_power(g, torch.tensor(f))
    assert rp.shape == (2, 4) and torch.allclose(rp.sum(-1), torch.tensor((f**2).sum(-1)))
    sd = real_irrep_groups(get_group("Semidirect(7,3,2)"))
    assert [r.label for r in sd] == ["1a", "1b+1c", "3a+3b"]
    assert [r.label for r in real_irrep_groups(get_group("S3"))] == ["1a", "1b", "2a"]


def test_projector_rejects_unknown_irrep():
    with pytest.raises(GroklabError, match="no irrep labelled"):
        isotypic_projector(get_group("S3"), "7z")
    with pytest.raises(GroklabError, match="out of range"):
        isotypic_projector(get_group("S3"), 3)
