"""Li₂ gradient diagnostics against explicit computations and the theory (docs/li2-quantities.md)."""

import numpy as np
import pytest
import torch

from groklab.errors import GroklabError
from groklab.li2 import diagnostics as D
from groklab.li2.theory import gf_infinity, node_features, ridge_top_layer, stage2_signal


def _problem(S=2, n=60, K=40, C=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    F = torch.randn(S, n, K, generator=g, dtype=torch.float64) ** 2
    V = 0.1 * torch.randn(S, C, K, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (S, n), generator=g)
    return F, V, y


def _zm_table(M):
    a, b = np.meshgrid(np.arange(M), np.arange(M), indexing="ij")
    return torch.from_numpy(np.stack([a.ravel(), b.ravel()], 1)), torch.from_numpy((a.ravel() + b.ravel()) % M)


def test_gf_paper_is_minus_dJ_dF_by_autograd():
    F, V, y = _problem()
    beta = 1.7
    G = D.backprop_gradient(F, V, y, "sample", beta)
    Fr = F.clone().requires_grad_(True)
    Y = torch.nn.functional.one_hot(y, V.shape[1]).double()
    R = Y - beta * Fr @ V.transpose(1, 2)
    (0.5 * (R - R.mean(dim=1, keepdim=True)).square().sum()).backward()
    assert torch.allclose(G, -Fr.grad, atol=1e-12)


def test_gf_of_the_class_centred_loss_by_autograd():
    F, V, y = _problem()
    beta, C = 0.6, V.shape[1]
    Fr = F.clone().requires_grad_(True)
    Yc = torch.nn.functional.one_hot(y, C).double() - 1.0 / C
    out = beta * Fr @ V.transpose(1, 2)
    (0.5 * (Yc - (out - out.mean(dim=-1, keepdim=True))).square().sum()).backward()
    assert torch.allclose(D.backprop_gradient(F, V, y, "class", beta), -Fr.grad, atol=1e-12)


def test_gf_reference_matches_the_reference_formula_written_out():
    F, V, y = _problem(S=1)
    F, V, y = F[0], V[0], y[0]
    C = V.shape[0]
    G = D.backprop_gradient(F, V, y, "reference")
    expected = np.zeros(F.shape)
    for i in range(F.shape[0]):  # dF = (Y_c − V(x)) @ V.weight, row by row
        target = -np.full(C, 1.0 / C)
        target[int(y[i])] += 1
        expected[i] = (target - V.numpy() @ F[i].numpy()) @ V.numpy()
    assert np.allclose(G.numpy(), expected, atol=1e-12)


def test_gradient_stats_equal_the_explicit_matrices():
    F, V, y = _problem()
    st = D.gradient_stats(F, V, y, output_scale=0.7)
    G = D.backprop_gradient(F, V, y, "sample", 0.7)
    S2 = D.stage2_prediction(F, y, V.shape[1])
    assert torch.allclose(st["gf_norm"], G.norm(dim=(1, 2)), rtol=1e-10)
    assert torch.allclose(st["gf_norm_ref"], D.backprop_gradient(F, V, y, "reference", 0.7).norm(dim=(1, 2)), rtol=1e-10)
    assert torch.allclose(st["gf_norm_class"], D.backprop_gradient(F, V, y, "class", 0.7).norm(dim=(1, 2)), rtol=1e-10)
    assert torch.allclose(st["gf_stage2_cos"], D.frobenius_cosine(G, S2), atol=1e-12)
    # single member == member of the batch; and the theory module's Ỹ(ỸᵀF̃)
    one = D.gradient_stats(F[1], V[1], y[1], output_scale=0.7)
    assert one["gf_norm"].ndim == 0 and torch.allclose(one["gf_norm"], st["gf_norm"][1])
    Y = torch.nn.functional.one_hot(y[0], V.shape[1]).double()
    assert torch.allclose(S2[0], stage2_signal(F[0], Y), atol=1e-10)


def test_stage2_cosine_near_one_at_the_ridge_solution_of_wide_random_features():
    """Lemma 1: with V at V_ridge on a wide random first layer, G_F = G_F(∞) ∝ η ỸỸᵀF̃."""
    M = 11
    idx, y = _zm_table(M)
    Y = torch.nn.functional.one_hot(y, M).double()
    cos, norms = {}, {}
    for K in (256, 4096):
        W = torch.randn(K, 2 * M, generator=torch.Generator().manual_seed(K), dtype=torch.float64)
        F = node_features(W, idx)
        for eta in (1e-2, 1e-1):
            V = ridge_top_layer(F, Y, eta).T
            st = D.gradient_stats(F, V, y)
            assert torch.allclose(D.backprop_gradient(F, V, y), gf_infinity(F, Y, eta), atol=1e-9)
            cos[K, eta], norms[K, eta] = float(st["gf_stage2_cos"]), float(st["gf_norm"])
    assert cos[4096, 1e-2] > 0.95 and cos[4096, 1e-2] > cos[256, 1e-2] + 0.3  # collinear as K grows
    assert norms[4096, 1e-1] / norms[4096, 1e-2] == pytest.approx(10, rel=1e-3)  # linear in small η


def test_kernel_statistics():
    F, _, _ = _problem()
    Ft = F - F.mean(dim=1, keepdim=True)
    A = (Ft.transpose(1, 2) @ Ft).abs()
    K = A.shape[-1]
    off = (A.sum(dim=(1, 2)) - A.diagonal(dim1=1, dim2=2).sum(-1)) / (K * (K - 1))
    assert torch.allclose(D.kernel_offdiag_ratio(F), off / A.diagonal(dim1=1, dim2=2).mean(-1))
    nodes = torch.arange(0, K, 3)
    sub = A[:, nodes][:, :, nodes]
    m = len(nodes)
    expect = (sub.sum(dim=(1, 2)) - sub.diagonal(dim1=1, dim2=2).sum(-1)) / (m * (m - 1)) / sub.diagonal(dim1=1, dim2=2).mean(-1)
    assert torch.allclose(D.kernel_offdiag_ratio(F, nodes), expect)
    # an ideal kernel aI + b11ᵀ is at distance 0; the LS fit is the diagonal/off-diagonal means
    n = 12
    X = torch.cat([torch.eye(n), torch.ones(n, 1)], dim=1).double()  # XXᵀ = I + 11ᵀ
    assert float(D.ff_ideal_distance(X)) < 1e-12
    B = (F[0] @ F[0].T)
    a, b = B.diagonal().mean(), (B.sum() - B.diagonal().sum()) / (B.shape[0] * (B.shape[0] - 1))
    fit = (a - b) * torch.eye(B.shape[0], dtype=B.dtype) + b
    assert float(D.ff_ideal_distance(F[0])) == pytest.approx(float((B - fit).norm() / B.norm()))
    assert float(D.ff_ideal_distance(F[0], torch.arange(20))) == pytest.approx(float(D.ff_ideal_distance(F[0, :20])))


def test_update_cosine():
    p0 = torch.zeros(2, 3, 4)
    p1 = torch.ones(2, 3, 4)
    p2 = torch.stack([2 * torch.ones(3, 4), torch.zeros(3, 4)])
    assert torch.allclose(D.update_cosine(p0, p1, p2), torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert torch.isnan(D.update_cosine(p0, p0, p1)).all()  # no previous update: undefined


def test_ridge_distance_is_zero_at_theory_ridge_solutions():
    F, _, y = _problem()
    C, eta, beta = 7, 0.3, 1.7
    for m in range(2):
        Y = torch.nn.functional.one_hot(y[m], C).double()
        Vs = ridge_top_layer(F[m], Y, eta).T / beta
        assert float(D.ridge_distance(F[m], Vs, y[m], eta, "sample", beta)) < 1e-12
        Vc = ridge_top_layer(F[m], Y - 1.0 / C, eta, centre=False).T / beta
        # the class-centred loss does not see V's class mean: adding a constant per node changes nothing
        assert float(D.ridge_distance(F[m], Vc + 3.0, y[m], eta, "class", beta)) < 1e-12
        assert float(D.ridge_distance(F[m], 2 * Vs, y[m], eta, "sample", beta)) == pytest.approx(1.0, rel=1e-9)


def test_nominal_eta():
    assert float(D.nominal_eta(2016, 2e-4, "class")) == pytest.approx(0.2016)  # η = n·wd/2 for the class-centred loss
    assert float(D.nominal_eta(2016, 2e-4, "sample")) == pytest.approx(0.4032)
    assert float(D.nominal_eta(100, 1e-2, "class", output_scale=2.0)) == pytest.approx(0.125)
    with pytest.raises(GroklabError, match="allowed: sample, class"):
        D.nominal_eta(10, 0.1, "rows")


def test_thm6_projected_rule_is_exact_and_similarity_rule_is_a_rate():
    F, _, _ = _problem(n=50, K=24)
    exact = D.sign_match(F, 0.5, pairs=12, rule="projected")
    assert torch.equal(exact, torch.ones(2, dtype=torch.float64))  # Schur complement: always holds
    rate = D.sign_match(F, 0.5, pairs=12)
    assert ((rate >= 0) & (rate <= 1)).all()
    # two identical nodes: B couples them negatively (they repel), as the rule says
    F2 = torch.cat([F[0], F[0][:, :1]], dim=1)
    assert float(D.sign_match(F2, 0.5, pairs=1)) == 1.0
    with pytest.raises(GroklabError, match="allowed: similarity, projected"):
        D.sign_match(F, 0.5, rule="exact")


def test_bad_shapes_raise_one_line_errors():
    F, V, y = _problem()
    with pytest.raises(GroklabError, match=r"F must be \[n, K\]"):
        D.gradient_stats(F[0, 0], V[0], y[0])
    with pytest.raises(GroklabError, match="V must be"):
        D.gradient_stats(F, V[:, :, :5], y)
    with pytest.raises(GroklabError, match="labels"):
        D.gradient_stats(F, V, y[:, :5])


def test_training_hook_logs_every_key_and_matches_a_direct_computation(tmp_path):
    from groklab.config import load_config
    from groklab.li2.hook import KEYS
    from groklab.train.checkpoint import list_snapshots, load_snapshot
    from groklab.train.loop import run_ensemble
    from groklab.train.setup import setup

    cfg = load_config(None, ["task.group=Z11", "task.train_fraction=0.6", "model.width=48", "train.epochs=30",
                             "optim.lr=5e-3", "optim.weight_decay=[1e-3,0]", "li2.every=1", "li2.kernel_samples=16",
                             "train.checkpoint_dense_until=0", "train.checkpoint_every=1000", "train.progress=false"])
    out = run_ensemble(cfg, tmp_path)  # li2.every in cfg: setup builds the hook
    rows = out.history.series_rows(0)
    keys = {k for _, k, _ in rows}
    assert keys == set(KEYS)
    by_key = {k: {e: v for e, kk, v in rows if kk == k} for k in keys}
    assert min(by_key["li2.dW_cos"]) == 2  # needs two earlier parameter sets
    assert set(by_key["li2.sign_match"]) == {0, 10, 20, 30}  # the K×K diagnostics run every 10th call
    # the last epoch's G_F norm, recomputed from the final weights
    run = setup(cfg)
    data, model = run.data, run.model
    params = load_snapshot(list_snapshots(tmp_path)[-1][1])
    model.load_state_dict({**model.state_dict(), **params})
    with torch.no_grad():
        F = model.hidden(data.x_train)
        expect = D.gradient_stats(F, model.V, data.y_train)
    assert by_key["li2.gf_norm"][30] == pytest.approx(float(expect["gf_norm"][0]), rel=1e-5)
    assert by_key["li2.gf_stage2_cos"][30] == pytest.approx(float(expect["gf_stage2_cos"][0]), abs=1e-5)
