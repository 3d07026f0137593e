"""Li₂ energy E(w) and its maxima (Thm 1, Thm 2, Cor 2, Thm 5, Thm 7; RC3, RC14; docs/li2-quantities.md).

Normalisation asserted throughout: the definition as written, E = ½‖Ỹᵀσ(Xw)‖² (Z_M full data:
M/4 per complex frequency, M/2 for k = M/2), i.e. 4× the paper's constants (docs/li2-quantities.md#energy-normalisation).
"""

import numpy as np
import pytest
import torch

from groklab.errors import GroklabError
from groklab.groups import get_group, real_irrep_groups
from groklab.li2 import (
    ascend_energy,
    ascend_memorization,
    ascend_missing_features,
    census,
    closed_form_energy,
    energy,
    energy_and_grad,
    fourier_vector,
    full_data,
    isotypic_maximum,
    memorization_data,
    memorization_optimum,
    memorization_shape,
    missing_feature_energy,
)
from groklab.tasks import group_composition, split_rows


def _table(name):
    group = get_group(name)
    task = group_composition(group)
    return group, torch.from_numpy(task.inputs), torch.from_numpy(task.labels)


def _dense_energy(w, idx, labels, num_classes, act):
    """E from the definition with explicit one-hot X and P₁⊥Y (the reference for the gather form)."""
    n, arity = idx.shape
    m = w.shape[1] // arity
    X = torch.zeros(n, arity * m, dtype=w.dtype)
    for j in range(arity):
        X[torch.arange(n), j * m + idx[:, j]] = 1.0
    Y = torch.nn.functional.one_hot(labels, num_classes).to(w.dtype)
    Yt = Y - Y.mean(dim=0, keepdim=True)
    return 0.5 * ((Yt.T @ act(X @ w.T)) ** 2).sum(dim=0)


def test_energy_matches_dense_definition_and_gradient():
    group, idx, labels = _table("Z7")
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 14, dtype=torch.float64, generator=gen)
    sub = torch.randperm(49, generator=gen)[:30]
    for act, fn in [("sqr", lambda z: z * z), ("relu", torch.relu), ("silu", torch.nn.functional.silu)]:
        e = energy(w, idx[sub], labels[sub], 7, act)
        assert torch.allclose(e, _dense_energy(w, idx[sub], labels[sub], 7, fn), rtol=1e-12, atol=1e-12)
        wg = w.clone().requires_grad_(True)
        energy(wg, idx[sub], labels[sub], 7, act).sum().backward()
        e2, g2 = energy_and_grad(w, idx[sub], labels[sub], 7, act)
        assert torch.allclose(e2, e) and torch.allclose(g2, wg.grad, rtol=1e-10, atol=1e-12)
    # arity 3 and a single vector
    task = group_composition(group, arity=3)
    idx3, lab3 = torch.from_numpy(task.inputs), torch.from_numpy(task.labels)
    w3 = torch.randn(21, dtype=torch.float64, generator=gen)
    assert torch.allclose(energy(w3, idx3, lab3, 7), _dense_energy(w3[None], idx3, lab3, 7, lambda z: z * z)[0])
    assert energy(w.float(), idx, labels, 7).dtype == torch.float32


@pytest.mark.parametrize("name", ["Z11", "Z12"])
def test_zm_maxima_are_single_frequencies_with_energy_m_over_4(name):
    group, idx, labels = _table(name)
    M = group.order
    res = ascend_energy(idx, labels, M, starts=96, seed=0)
    assert bool(res.converged.all())
    assert torch.allclose(res.w.norm(dim=1), torch.ones(96, dtype=torch.float64))
    c = census(res.w, group, res.energy, res.converged)
    assert float(c["purity"].min()) > 0.99
    for label, e in zip(c["label"], res.energy):
        expected = M / 2 if label == f"k={M // 2}" and M % 2 == 0 else M / 4
        assert abs(float(e) - expected) < 1e-8
        assert closed_form_energy(group, label) == expected
    # ‖u‖ = ‖v‖ = 1/√2 at every maximum
    assert torch.allclose(c["block_norms"], torch.full_like(c["block_norms"], 2**-0.5), atol=1e-5)
    assert sum(row["count"] for row in c["table"]) == 96
    assert all(abs(row["energy_mean"] - row["closed_form"]) < 1e-8 for row in c["table"])
    # at least half of the (M-1)/2 frequencies are found from 96 starts
    assert len(c["summary"]) >= (M - 1) // 4


def test_closed_values_phase_freedom_and_paper_constants():
    for M in (11, 12):
        group, idx, labels = _table(f"Z{M}")
        for phase in (0.0, 0.7, 2.0):  # any relative phase is a maximiser (docs/li2-quantities.md#phase-freedom)
            w = fourier_vector(M, 3, phase)
            assert abs(float(energy(w, idx, labels, M)) - M / 4) < 1e-10
            assert abs(float(energy(w, idx, labels, M, paper_constants=True)) - M / 16) < 1e-10
        if M % 2 == 0:
            alt = torch.tensor([(-1.0) ** m for m in range(M)], dtype=torch.float64)
            w = torch.cat([alt, alt]) / np.sqrt(2 * M)
            assert abs(float(energy(w, idx, labels, M)) - M / 2) < 1e-10
            assert abs(float(energy(w, idx, labels, M, paper_constants=True)) - M / 8) < 1e-10
            assert closed_form_energy(M, M // 2) == M / 2 and closed_form_energy(M, M // 2, paper_constants=True) == M / 8
        assert closed_form_energy(M, 1) == M / 4 and closed_form_energy(M, 0) == 0.0
        # random unit vectors score far lower
        rnd = torch.randn(1000, 2 * M, dtype=torch.float64, generator=torch.Generator().manual_seed(M))
        rnd = rnd / rnd.norm(dim=1, keepdim=True)
        e = energy(rnd, idx, labels, M)
        assert float(e.mean()) < 0.25 * M / 4 and float(e.max()) < 0.6 * M / 4
        # unequal block norms give lower energy
        u, v = fourier_vector(M, 2)[:M], fourier_vector(M, 2)[M:]
        skew = torch.cat([u * 1.2, v * 0.8]) / torch.cat([u * 1.2, v * 0.8]).norm()
        assert float(energy(skew, idx, labels, M)) < M / 4 - 1e-3


@pytest.mark.parametrize("name", ["S3", "D10", "Q8", "A4", "Dic12"])
def test_nonabelian_maxima_lie_in_one_isotypic_subspace(name):
    group, idx, labels = _table(name)
    res = ascend_energy(idx, labels, group.order, starts=48, seed=1)
    assert bool(res.converged.all())
    c = census(res.w, group, res.energy, res.converged)
    assert float(c["purity"].min()) > 0.99
    assert "mixed" not in c["summary"]
    for label, e in zip(c["label"], res.energy):
        assert abs(float(e) - closed_form_energy(group, label)) < 1e-8
    # the closed form M/(2d) real, M/(4d) complex pair or quaternionic, checked irrep by irrep
    for ri in real_irrep_groups(group)[1:]:
        assert abs(isotypic_maximum(group, ri.label, starts=8) - closed_form_energy(group, ri.label)) < 1e-8


def test_memorising_maxima_below_the_critical_ratio():
    group, idx, labels = _table("Z23")
    M = 23
    sub = torch.from_numpy(split_rows(M * M, seed=0, train_fraction=0.15).train)
    i2, l2 = idx[sub], labels[sub]
    fourier_best = max(isotypic_maximum(group, ri.label, i2, l2, starts=4) for ri in real_irrep_groups(group)[1:])
    res = ascend_energy(i2, l2, M, starts=24, seed=0)
    assert bool(res.converged.all())
    c = census(res.w, group, res.energy, res.converged)
    assert float(c["purity"].max()) < 0.5  # no maximum is a single frequency
    assert bool((res.energy > fourier_best).all())  # and all beat the best Fourier energy
    top2 = (res.w**2).sort(dim=1, descending=True).values[:, :2].sum(dim=1)
    assert float(top2.median()) > 0.5  # concentrated on a few pairs (memorisation)
    # Fourier starts: destroyed at 15 % of the data, kept at 90 %
    init = torch.stack([fourier_vector(M, k, 0.5) for k in range(1, 12)])
    low = census(ascend_energy(i2, l2, M, init=init).w, group)
    assert float(low["purity"].max()) < 0.5
    sub = torch.from_numpy(split_rows(M * M, seed=0, train_fraction=0.9).train)
    high = census(ascend_energy(idx[sub], labels[sub], M, init=init).w, group)
    assert float(high["purity"].min()) > 0.95
    assert high["label"] == [f"k={k}" for k in range(1, 12)]


@pytest.mark.parametrize("name", ["Z11", "D10"])
def test_thm5_focused_for_square_spread_for_relu(name):
    group = get_group(name)
    M = group.order
    p = np.random.default_rng(0).uniform(0.5, 1.5, M)
    data = memorization_data(group, 3, p)
    assert bool((group.table[data.idx[:, 0], data.idx[:, 1]] == 3).all())
    # σ = x²: every start ends at (e_{g*}, e_{g*⁻¹h})/√2, g* = argmax p
    res = ascend_memorization(data, "sqr", starts=16, seed=0)
    shape = memorization_shape(res.w, data)
    assert bool(res.converged.all())
    assert float(shape["focus"].min()) > 0.999
    assert bool((shape["argmax"] == int(np.argmax(p))).all())
    opt = memorization_optimum(data, "sqr")
    dist = torch.minimum((res.w - opt).norm(dim=1), (res.w + opt).norm(dim=1))
    assert float(dist.max()) < 1e-3
    e_opt = float(energy(opt, data.idx, data.labels, M, centre=False, weights=data.weights))
    assert abs(e_opt - 0.5 * (2 * p.max() / p.sum()) ** 2) < 1e-12  # ½(p_{g*}·σ(√2))²
    # ReLU: spread, s_g ∝ p_g (from positive starts, where no unit is dead)
    init = torch.rand(16, 2 * M, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    res = ascend_memorization(data, "relu", init=init)
    shape = memorization_shape(res.w, data)
    assert bool(res.converged.all())
    assert float(shape["p_cosine"].min()) > 0.9999
    assert float(shape["focus"].max()) < 0.5
    assert float((res.w - memorization_optimum(data, "relu")).norm(dim=1).max()) < 1e-4
    # SiLU (φ decreasing on x > 0) spreads too
    shape = memorization_shape(ascend_memorization(data, "silu", init=init).w, data)
    assert float(shape["focus"].max()) < 0.5


def test_thm7_ascent_on_missing_feature_energy_finds_only_missing_irreps():
    group, idx, labels = _table("Z11")
    learned = ["k=1", "k=2", 3]  # labels and indices; 3 marks the pair {3, 8}
    res = ascend_missing_features(group, learned, starts=48, seed=0)
    c = census(res.w, group, res.energy, res.converged)
    assert bool(res.converged.all()) and float(c["purity"].min()) > 0.99
    assert set(c["summary"]) <= {"k=4", "k=5"}
    assert abs(float(res.energy.min()) - 11 / 4) < 1e-8  # the missing maxima keep their full energy
    assert float(missing_feature_energy(fourier_vector(11, 2), group, learned)) < 1e-20
    assert abs(float(missing_feature_energy(fourier_vector(11, 5), group, learned, idx, labels)) - 11 / 4) < 1e-10
    group, idx, labels = _table("S4")
    res = ascend_missing_features(group, ["1b", "2a"], starts=32, seed=0)
    c = census(res.w, group, res.energy, res.converged)
    assert set(c["summary"]) <= {"3a", "3b"} and float(c["purity"].min()) > 0.99


def test_ascent_within_a_subspace_and_validation():
    idx, labels = full_data(get_group("Z7"))
    with pytest.raises(GroklabError, match="activation"):
        energy(torch.zeros(14), idx, labels, 7, "relu6")
    with pytest.raises(GroklabError, match="labels"):
        energy(torch.zeros(14), idx, labels + 1, 7)
    with pytest.raises(GroklabError, match="irrep"):
        closed_form_energy(get_group("S3"), "9z")
    with pytest.raises(GroklabError, match="x²"):
        closed_form_energy(7, 1, activation="relu")
    res = ascend_energy(idx, labels, 7, starts=4, steps=3, seed=0)
    assert not bool(res.converged.any())  # three steps are not enough
    assert res.w.shape == (4, 14)
