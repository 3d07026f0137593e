"""The Li2 ensemble network: gather first layer, initialisation, options, ridge top layer."""

import math

import pytest
import torch
import torch.nn as nn

from groklab.errors import GroklabError
from groklab.losses import mse_class_centred
from groklab.models import TwoLayerEnsemble, dense_first_layer, gather_first_layer
from groklab.models.gather import one_hot_inputs


def _offset_idx(shape, M, arity, gen):
    vals = torch.randint(0, M, (*shape, arity), generator=gen)
    return vals + torch.arange(arity) * M


@pytest.mark.parametrize("arity", [2, 3])
@pytest.mark.parametrize("shared", [False, True])
def test_gather_equals_dense_forward_and_gradients(arity, shared):
    gen = torch.Generator().manual_seed(0)
    S, K, M, n = 3, 16, 5, 40
    D = arity * M
    W = torch.randn(S, K, D, dtype=torch.float64, generator=gen)
    idx = _offset_idx((n,) if shared else (S, n), M, arity, gen)
    idx[..., :2, :] = idx[..., :1, :]  # repeated rows: the scatter must accumulate
    G = torch.randn(S, n, K, dtype=torch.float64, generator=gen)

    W1 = W.clone().requires_grad_()
    H1 = gather_first_layer(W1, idx)
    (H1 * G).sum().backward()
    W2 = W.clone().requires_grad_()
    H2 = dense_first_layer(W2, idx)
    (H2 * G).sum().backward()

    assert H1.shape == (S, n, K)
    torch.testing.assert_close(H1, H2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(W1.grad, W2.grad, rtol=1e-12, atol=1e-12)
    assert W1.grad.is_contiguous()
    # and the explicit one-hot formula, member by member
    X = one_hot_inputs(idx, D, torch.float64)
    for s in range(S):
        Xs = X if shared else X[s]
        torch.testing.assert_close(H1[s], Xs @ W[s].T)


def test_gather_gradcheck():
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(2, 4, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    idx = _offset_idx((2, 5), 3, 2, gen)
    assert torch.autograd.gradcheck(gather_first_layer, (W, idx))
    assert torch.autograd.gradcheck(gather_first_layer, (W, idx[0]))


def test_gather_complex_matches_dense():
    gen = torch.Generator().manual_seed(2)
    W = torch.randn(2, 4, 6, dtype=torch.complex128, generator=gen)
    idx = _offset_idx((2, 7), 3, 2, gen)
    G = torch.randn(2, 7, 4, dtype=torch.complex128, generator=gen)
    W1, W2 = W.clone().requires_grad_(), W.clone().requires_grad_()
    (gather_first_layer(W1, idx) * G).sum().real.backward()
    (dense_first_layer(W2, idx) * G).sum().real.backward()
    torch.testing.assert_close(W1.grad, W2.grad)


def test_member_init_equals_standalone_and_nn_linear():
    cfg = dict(num_values=5, arity=2, num_classes=5, width=8, extra_layers=1)
    ens = TwoLayerEnsemble(**cfg, seeds=[3, 11, 7])
    for s, seed in enumerate([3, 11, 7]):
        alone = TwoLayerEnsemble(**cfg, seeds=[seed])
        assert torch.equal(ens.W[s], alone.W[0])
        assert torch.equal(ens.U[0][s], alone.U[0][0])
        assert torch.equal(ens.V[s], alone.V[0])
        torch.testing.assert_close(ens.member(s).W, alone.W, rtol=0, atol=0)
    # W, U, V equal PyTorch's default Linear init drawn in that order from torch.manual_seed(seed)
    torch.manual_seed(11)
    lw, lu, lv = nn.Linear(10, 8, bias=False), nn.Linear(8, 8, bias=False), nn.Linear(8, 5, bias=False)
    assert torch.equal(ens.W[1], lw.weight) and torch.equal(ens.U[0][1], lu.weight) and torch.equal(ens.V[1], lv.weight)
    assert ens.W.abs().max() <= 1 / math.sqrt(10) and ens.V.abs().max() <= 1 / math.sqrt(8)


def test_member_forward_equals_standalone_forward_and_gradients():
    cfg = dict(num_values=7, arity=2, num_classes=7, width=16)
    seeds = [0, 1, 2]
    ens = TwoLayerEnsemble(**cfg, seeds=seeds, dtype="float64")
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 7, (3, 30, 2), generator=gen)
    y = (idx[..., 0] + idx[..., 1]) % 7
    mse_class_centred(ens(idx), y).sum().backward()
    for s, seed in enumerate(seeds):
        alone = TwoLayerEnsemble(**cfg, seeds=[seed], dtype="float64")
        mse_class_centred(alone(idx[s : s + 1]), y[s : s + 1]).sum().backward()
        torch.testing.assert_close(ens.W.grad[s], alone.W.grad[0])
        torch.testing.assert_close(ens.V.grad[s], alone.V.grad[0])


def test_forward_matches_explicit_formula_and_options():
    M, K = 5, 8
    m = TwoLayerEnsemble(M, 2, M, K, activation="relusqr", seeds=[0, 1], output_scale=2.5, dtype="float64")
    idx = torch.tensor([[0, 1], [4, 4], [2, 3]])
    X = torch.zeros(3, 2 * M, dtype=torch.float64)
    X[torch.arange(3), idx[:, 0]] = 1
    X[torch.arange(3), M + idx[:, 1]] = 1
    for s in range(2):
        expected = 2.5 * (torch.relu(X @ m.W[s].T) ** 2) @ m.V[s].T
        torch.testing.assert_close(m(idx)[s], expected)


@pytest.mark.parametrize("activation", ["sqr", "relu", "silu", "relusqr", "linear"])
def test_activations_run(activation):
    m = TwoLayerEnsemble(5, 2, 5, 8, activation=activation, seeds=[0])
    out = m(torch.randint(0, 5, (6, 2)))
    assert out.shape == (1, 6, 5) and torch.isfinite(out).all()


def test_top_init_scale_zero_gives_zero_V():
    m = TwoLayerEnsemble(5, 2, 5, 8, seeds=[0, 1], top_init_scale=0.0)
    assert torch.count_nonzero(m.V) == 0
    assert torch.count_nonzero(m(torch.randint(0, 5, (4, 2)))) == 0
    half = TwoLayerEnsemble(5, 2, 5, 8, seeds=[0, 1], top_init_scale=0.5)
    full = TwoLayerEnsemble(5, 2, 5, 8, seeds=[0, 1])
    torch.testing.assert_close(half.V, 0.5 * full.V)
    torch.testing.assert_close(half.W, full.W)


def test_extra_layers_shapes_and_residual_forward():
    M, K, L = 5, 8, 2
    m = TwoLayerEnsemble(M, 2, M, K, activation="silu", seeds=[0, 1], extra_layers=L, dtype="float64")
    names = dict(m.named_parameters())
    assert set(names) == {"W", "V", "U.0", "U.1"}
    assert m.W.shape == (2, K, 2 * M) and m.V.shape == (2, M, K)
    assert all(u.shape == (2, K, K) for u in m.U)
    idx = torch.randint(0, M, (2, 6, 2))
    Fs = m.hidden(idx, all_layers=True)
    assert len(Fs) == L + 1
    act = torch.nn.functional.silu
    x = act(dense_first_layer(m.W, m.offset_index(idx)))
    for U in m.U:
        x = act(x + x @ U.transpose(1, 2))
    torch.testing.assert_close(Fs[-1], x)
    torch.testing.assert_close(m(idx), x @ m.V.transpose(1, 2))


def test_complex_weights_real_logits_and_training_step():
    m = TwoLayerEnsemble(7, 2, 7, 32, seeds=[0, 1], complex_weights=True, extra_layers=1)
    assert m.W.dtype == torch.complex64 and m.V.is_complex() and m.U[0].is_complex()
    ref = TwoLayerEnsemble(7, 2, 7, 32, seeds=[0, 1], extra_layers=1)
    torch.testing.assert_close(m.W.real, ref.W)  # reference: real init cast to complex
    assert torch.count_nonzero(m.W.imag) == 0
    idx = torch.randint(0, 7, (40, 2), generator=torch.Generator().manual_seed(0))
    y = (idx[:, 0] + idx[:, 1]) % 7
    out = m(idx)
    assert not out.is_complex() and out.dtype == torch.float32
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    loss0 = mse_class_centred(m(idx), y)
    loss0.sum().backward()
    # as in the reference, a real init stays real: Re(output) has zero derivative in the imaginary parts there
    assert torch.count_nonzero(m.W.grad.imag) == 0 and torch.count_nonzero(m.V.grad.imag) == 0
    opt.step()
    loss1 = mse_class_centred(m(idx), y)
    assert (loss1 < loss0).all()


def test_complex_rejects_relu():
    with pytest.raises(GroklabError, match="complex"):
        TwoLayerEnsemble(5, 2, 5, 8, activation="relu", complex_weights=True)


def test_bad_config_errors_name_the_value():
    with pytest.raises(GroklabError, match="'tanh'.*sqr, relu, silu, relusqr, linear"):
        TwoLayerEnsemble(5, 2, 5, 8, activation="tanh")
    with pytest.raises(GroklabError, match="float16"):
        TwoLayerEnsemble(5, 2, 5, 8, dtype="float16")
    with pytest.raises(GroklabError, match="width"):
        TwoLayerEnsemble(5, 2, 5, 0)


@pytest.mark.parametrize("extra_layers", [0, 1])
def test_ridge_top_layer_is_closed_form_ridge(extra_layers):
    M, K, lam = 7, 12, 0.3
    m = TwoLayerEnsemble(M, 2, M, K, seeds=[0, 1], dtype="float64", extra_layers=extra_layers, output_scale=2.0)
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, M, (2, 30, 2), generator=gen)
    y = (idx[..., 0] + idx[..., 1]) % M
    m.ridge_top_layer_(idx, y, lam)
    Fs = m.hidden(idx)
    for s in range(2):
        Fm = Fs[s]
        Yc = torch.nn.functional.one_hot(y[s], M).double() - 1.0 / M
        V_T = torch.linalg.solve(Fm.T @ Fm + lam * torch.eye(K, dtype=torch.float64), Fm.T @ Yc)
        torch.testing.assert_close(m.V[s].T * 2.0, V_T)  # beta * V is the ridge solution
    # the output is now the ridge prediction
    torch.testing.assert_close(m(idx)[0], Fs[0] @ (m.V[0].T * 2.0))


def test_ridge_top_layer_complex():
    M, K, lam = 5, 6, 0.1
    m = TwoLayerEnsemble(M, 2, M, K, seeds=[0], dtype="float64", complex_weights=True)
    with torch.no_grad():
        m.W.imag.copy_(torch.randn(m.W.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 0.3)
    idx = torch.randint(0, M, (20, 2), generator=torch.Generator().manual_seed(0))
    y = (idx[:, 0] + idx[:, 1]) % M
    m.ridge_top_layer_(idx, y, lam)
    Fm = m.hidden(idx)[0]
    Yc = (torch.nn.functional.one_hot(y, M).double() - 1.0 / M).to(Fm.dtype)
    V_T = torch.linalg.solve(Fm.mH @ Fm + lam * torch.eye(K, dtype=Fm.dtype), Fm.mH @ Yc)
    torch.testing.assert_close(m.V[0].T, V_T)


def test_float64_and_device_placement():
    m = TwoLayerEnsemble(5, 2, 5, 8, seeds=[0], dtype=torch.float64, device="cpu")
    assert m.W.dtype == torch.float64 and m(torch.randint(0, 5, (3, 2))).dtype == torch.float64
    m32 = TwoLayerEnsemble(5, 2, 5, 8, seeds=[0])
    torch.testing.assert_close(m.W.float(), m32.W, rtol=0, atol=0)  # same draws, cast


@pytest.mark.parametrize("activation", ["sqr", "relu", "silu", "relusqr", "linear"])
def test_fused_gather_activation_matches_autograd(activation):
    from groklab.models.gather import gather_activation
    from groklab.models.two_layer import activation_fn

    gen = torch.Generator().manual_seed(3)
    W = torch.randn(2, 6, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    idx = _offset_idx((2, 9), 4, 2, gen)
    G = torch.randn(2, 9, 6, dtype=torch.float64, generator=gen)
    (gather_activation(W, idx, activation) * G).sum().backward()
    g_fused = W.grad.clone()
    W.grad = None
    out = activation_fn(activation)(dense_first_layer(W, idx))
    (out * G).sum().backward()
    torch.testing.assert_close(g_fused, W.grad)
    torch.testing.assert_close(gather_activation(W, idx, activation), out)
    assert torch.autograd.gradcheck(lambda w: gather_activation(w, idx, activation), (W,))


@pytest.mark.parametrize("activation", ["sqr", "silu"])
def test_fused_gather_activation_complex(activation):
    from groklab.models.gather import gather_activation
    from groklab.models.two_layer import activation_fn

    gen = torch.Generator().manual_seed(4)
    W = torch.randn(1, 5, 6, dtype=torch.complex128, generator=gen, requires_grad=True)
    idx = _offset_idx((7,), 3, 2, gen)
    G = torch.randn(1, 7, 5, dtype=torch.complex128, generator=gen)
    (gather_activation(W, idx, activation) * G).sum().real.backward()
    g_fused = W.grad.clone()
    W.grad = None
    (activation_fn(activation)(dense_first_layer(W, idx)) * G).sum().real.backward()
    torch.testing.assert_close(g_fused, W.grad)


def test_gather_activation_custom_op_registration():
    from groklab.models.gather import _gather_activation_op, flat_index

    gen = torch.Generator().manual_seed(5)
    W = torch.randn(2, 4, 6, generator=gen, requires_grad=True)
    flat = flat_index(_offset_idx((2, 5), 3, 2, gen), 2, 6)
    for activation in ("sqr", "linear"):
        torch.library.opcheck(_gather_activation_op, (W, flat, activation))
