"""Li₂ closed-form predictions: Eqn 4 / Lemma 1 (RC12), Thm 3 (RC13), Thm 4, Thm 8 (docs/li2-quantities.md)."""

import math

import numpy as np
import pytest
import torch

from groklab.errors import GroklabError
from groklab.groups import get_group
from groklab.li2 import (
    collection_probabilities,
    cosine,
    coupon_collector_T0,
    critical_ratio,
    fit_critical_constant,
    fourier_nodes,
    gf_infinity,
    irrep_nodes,
    muon_bound_Ta,
    muon_expected_T,
    node_features,
    reconstruct,
    reconstruction_residual,
    ridge_top_layer,
    simulate_collection,
    stage2_signal,
)
from groklab.tasks import group_composition


def _random_problem(n=60, K=20, C=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    F = torch.randn(n, K, dtype=torch.float64, generator=gen)
    Y = torch.nn.functional.one_hot(torch.randint(0, C, (n,), generator=gen), C).to(torch.float64)
    return F, Y, F - F.mean(0), Y - Y.mean(0)


def test_ridge_top_layer_matches_solve():
    F, Y, Ft, Yt = _random_problem()
    K = F.shape[1]
    for eta in (1e-3, 0.3, 10.0):
        expected = torch.linalg.solve(Ft.T @ Ft + eta * torch.eye(K, dtype=torch.float64), Ft.T @ Yt)
        assert torch.allclose(ridge_top_layer(F, Y, eta), expected, atol=1e-12)
    assert torch.allclose(ridge_top_layer(F, Y, 0.0), torch.linalg.lstsq(Ft, Yt).solution, atol=1e-10)
    unc = ridge_top_layer(F, Y, 0.3, centre=False)
    assert torch.allclose(unc, torch.linalg.solve(F.T @ F + 0.3 * torch.eye(K, dtype=torch.float64), F.T @ Y))
    with pytest.raises(GroklabError, match="eta"):
        ridge_top_layer(F, Y, -1.0)


def test_gf_infinity_is_eqn4():
    F, Y, Ft, Yt = _random_problem()
    n, K = F.shape
    eta = 0.3
    left = torch.linalg.solve(Ft @ Ft.T + eta * torch.eye(n, dtype=torch.float64), Yt @ Yt.T @ Ft)
    expected = eta * left @ torch.linalg.inv(Ft.T @ Ft + eta * torch.eye(K, dtype=torch.float64))
    assert torch.allclose(gf_infinity(F, Y, eta), expected, atol=1e-12)
    assert torch.allclose(stage2_signal(F, Y), Yt @ Yt.T @ Ft)
    # η = 0 with realisable targets: feature learning stops (G_F → 0)
    Fw, Yw, _, _ = _random_problem(n=30, K=60)
    assert float(gf_infinity(Fw, Yw, 0.0).norm()) < 1e-10


def test_lemma1_wide_random_features():
    M = 7
    task = group_composition(get_group(f"Z{M}"))
    idx = torch.from_numpy(task.inputs)
    Y = torch.nn.functional.one_hot(torch.from_numpy(task.labels), M).to(torch.float64)
    norms = {}
    for K in (256, 2048):
        W = torch.randn(K, 2 * M, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        F = node_features(W, idx, "sqr")
        g = gf_infinity(F, Y, 1e-2)
        norms[K] = float(g.norm())
        # linear in η for small η
        assert abs(float(gf_infinity(F, Y, 2e-2).norm()) / norms[K] - 2.0) < 0.01
    assert cosine(gf_infinity(F, Y, 1e-2), stage2_signal(F, Y)) > 0.9  # K = 2048 ≫ n = 49
    assert norms[2048] < norms[256] / 10  # shrinks with width (NTK limit)


def test_cosine():
    a = torch.randn(4, 3, dtype=torch.float64)
    assert abs(cosine(a, 2 * a) - 1) < 1e-12 and abs(cosine(a, -a) + 1) < 1e-12
    assert cosine(a, torch.zeros_like(a)) == 0.0


@pytest.mark.parametrize("M", [7, 11])
def test_thm3_complex_fourier_nodes_reconstruct(M):
    W = fourier_nodes(M)
    assert W.shape == (2 * M - 2, 2 * M) and W.dtype == torch.complex128
    assert reconstruct(M) < 1e-8
    assert reconstruct(M, K=2 * M - 4) > 0.1  # one frequency (a ± pair) missing
    assert reconstruct(M, K=M) > 0.1
    # real weights: 3(M−1) nodes (three phase pairs per frequency) reconstruct, the 2M−2 real
    # parts of the complex nodes do not (cos k(a+b) yes, sin k(a+b) no: residual ≈ 1/√2)
    real = fourier_nodes(M, complex=False)
    assert real.shape[0] == 3 * (M - 1) and reconstruct(M, complex=False) < 1e-8
    first_two = torch.cat([real[6 * i : 6 * i + 4] for i in range((M - 1) // 2)])
    assert first_two.shape[0] == 2 * M - 2
    task = group_composition(get_group(f"Z{M}"))
    F = node_features(first_two, task.inputs)
    Y = torch.nn.functional.one_hot(torch.from_numpy(task.labels), M).to(torch.float64)
    assert abs(reconstruction_residual(F, Y) - 2**-0.5) < 1e-6


def test_thm3_even_order_and_nonabelian_groups():
    assert reconstruct(12) < 1e-8 and reconstruct(12, complex=False) < 1e-8
    assert fourier_nodes(12, complex=False).shape[0] == 3 * 10 + 2
    assert irrep_nodes(get_group("Z7")).shape[0] == 12  # 2M − 2 for abelian groups
    for name in ("S3", "Q8", "D10"):
        group = get_group(name)
        assert reconstruct(group) < 1e-8
        K = irrep_nodes(group).shape[0]
        assert reconstruct(group, K=K - 2) > 0.1
    with pytest.raises(GroklabError, match="Z_M"):
        reconstruct(get_group("S3"), complex=False)


def test_critical_ratio_values():
    table = {23: 0.375, 41: 0.249, 71: 0.165, 89: 0.139, 127: 0.105}  # docs/li2-quantities.md#critical-data-ratio
    for M, p in table.items():
        assert abs(critical_ratio(M) - p) < 5e-4
    assert critical_ratio(71, c=1.0) == pytest.approx(math.log(71) / 71)
    assert critical_ratio(24, d_max=2) == pytest.approx(2.7482 * math.log(24) / 24)
    assert critical_ratio(24, d_max=4) == pytest.approx(2 * 2.7482 * math.log(24) / 24)


def test_fit_critical_constant_recovers_c():
    rng = np.random.default_rng(0)
    c_true = 2.7482
    orders, fracs, accs = [], [], []
    for M in (23, 41, 71, 89, 127):
        p_star = c_true * math.log(M) / M
        for f in np.linspace(0.3, 2.0, 18) * p_star:
            for _ in range(5):  # seeds
                orders.append(M)
                fracs.append(f)
                accs.append(1 / (1 + math.exp(-(f - p_star) / (0.03 * p_star))) + rng.normal(0, 0.01))
    fit = fit_critical_constant(orders, fracs, accs)
    assert abs(fit["c"] - c_true) < 0.05
    for M in (23, 71, 127):
        assert fit["p_star"][M] == pytest.approx(c_true * math.log(M) / M, rel=0.03)
    # an order that never crosses is left out
    fit = fit_critical_constant([7, 7, 11, 11], [0.1, 0.2, 0.1, 0.9], [0.0, 0.1, 0.0, 1.0])
    assert math.isnan(fit["p_star"][7]) and fit["p_star"][11] == pytest.approx(0.5)
    assert fit["c"] == pytest.approx(0.5 / (math.log(11) / 11))


def test_coupon_collector_T0():
    for L in (1, 5, 10, 35):
        harmonic = sum(1 / k for k in range(1, L + 1))
        assert coupon_collector_T0(np.full(L, 1 / L)) == pytest.approx(L * harmonic, rel=1e-3)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    t0 = coupon_collector_T0(p)
    assert t0 >= max(1 / p.min(), 4 * sum(1 / k for k in range(1, 5)))  # appendix form of the bound
    assert muon_bound_Ta(p, 2.0) == pytest.approx(t0 / 4 + 0.75 * 4)
    with pytest.raises(GroklabError):
        coupon_collector_T0([0.5, 0.4])


def test_simulated_muon_collection_beats_independent_nodes():
    mu = np.linspace(1.0, 2.0, 8)
    a = 2.0
    ind = simulate_collection(mu, a, nodes=3000, trials=3000, seed=0)
    mu_run = simulate_collection(mu, a, nodes=3000, trials=3000, seed=1, muon=True)
    assert ind["completed"] == 1.0 and mu_run["completed"] == 1.0
    assert abs(ind["mean"] - ind["T0"]) < 4 * ind["sem"]  # the simulator agrees with T0
    assert mu_run["mean"] <= mu_run["bound"] + 3 * mu_run["sem"]  # Thm 8 bound (tight at s = ½)
    assert mu_run["mean"] < ind["mean"] - 10 * ind["sem"]
    stronger = simulate_collection(mu, a, nodes=3000, trials=3000, seed=2, muon=True, suppression=0.25)
    assert stronger["mean"] < stronger["bound"] - 3 * stronger["sem"]
    expected = muon_expected_T(collection_probabilities(mu, a), a, suppression=0.25)
    assert abs(stronger["mean"] - expected) < 4 * stronger["sem"]
