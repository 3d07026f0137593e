"""Per-member losses and the softmax-collapse metric."""

import entmax
import pytest
import torch
import torch.nn.functional as F

from groklab.errors import GroklabError
from groklab.losses import (
    LOSSES,
    cross_entropy,
    get_loss,
    mse_class_centred,
    mse_sample_centred,
    softmax_collapse_fraction,
    sparsemax_loss,
    stablemax,
    stablemax_cross_entropy,
    zero_loss_fraction,
)

S, N, C = 3, 20, 7


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(S, N, C, dtype=torch.float64, generator=gen) * 2
    labels = torch.randint(0, C, (S, N), generator=gen)
    return logits, labels


def test_mse_class_centred_matches_formula_and_reference_expansion(data):
    z, y = data
    loss = mse_class_centred(z, y)
    assert loss.shape == (S,)
    for s in range(S):
        target = F.one_hot(y[s], C).double() - 1.0 / C
        oc = z[s] - z[s].mean(dim=1, keepdim=True)
        torch.testing.assert_close(loss[s], ((oc - target) ** 2).sum(dim=1).mean())
        # the reference code's expanded form
        ref = oc.pow(2).sum(1).mean() - 2 * oc.gather(1, y[s, :, None]).mean() + 1 - 1.0 / C
        torch.testing.assert_close(loss[s], ref)


def test_mse_sample_centred_matches_projector(data):
    z, y = data
    P = torch.eye(N, dtype=torch.float64) - torch.ones(N, N, dtype=torch.float64) / N
    for normalise in (True, False):
        loss = mse_sample_centred(z, y, normalise=normalise)
        for s in range(S):
            R = F.one_hot(y[s], C).double() - z[s]
            expected = 0.5 * (P @ R).pow(2).sum()
            torch.testing.assert_close(loss[s], expected / N if normalise else expected)
    # invariant to a per-class offset shared by all samples (the projector removes it)
    torch.testing.assert_close(mse_sample_centred(z + torch.randn(C, dtype=torch.float64), y), mse_sample_centred(z, y))


def test_cross_entropy_matches_torch_per_member(data):
    z, y = data
    z32 = z.float()
    for dtype in ("float32", "float64"):
        loss = cross_entropy(z32, y, dtype=dtype)
        assert loss.dtype == torch.float32 and loss.shape == (S,)
        for s in range(S):
            torch.testing.assert_close(loss[s], F.cross_entropy(z32[s], y[s]))
    # shared labels broadcast to all members
    torch.testing.assert_close(cross_entropy(z, y[0]), torch.stack([F.cross_entropy(z[s], y[0]) for s in range(S)]))


def test_float64_cross_entropy_keeps_float64_and_the_default_rounds_to_float32():
    # A float64 run still computes its cross-entropy in float32 unless loss.dtype=float64: on CUDA and on the
    # CPU that float32 step rounds differently (one float32 ulp of the loss, measured on an H200), so a
    # device-equality check in float64 must set loss.dtype=float64 as tests/test_gpu.py does.
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 40, 7, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, 7, (2, 40), generator=g)
    reference = torch.stack([F.cross_entropy(logits[s], labels[s]) for s in range(2)])
    exact = get_loss("ce", dtype="float64")(logits, labels)
    rounded = get_loss("ce")(logits, labels)
    assert exact.dtype == rounded.dtype == torch.float64
    torch.testing.assert_close(exact, reference, rtol=1e-14, atol=0)
    assert (rounded - reference).abs().max() > 1e-12  # the float32 round trip is there, and visible


def test_stablemax_is_softmax_of_log_ramp_and_not_shift_invariant(data):
    z, y = data
    s = torch.where(z >= 0, z + 1, 1 / (1 - z))
    torch.testing.assert_close(stablemax(z), torch.softmax(torch.log(s), dim=-1))  # Prieto Prop. 1
    loss = stablemax_cross_entropy(z, y)
    for m in range(S):
        torch.testing.assert_close(loss[m], F.nll_loss(torch.log_softmax(torch.log(s[m]), -1), y[m]))
    assert not torch.allclose(stablemax(z + 3.0), stablemax(z))
    assert not torch.allclose(stablemax_cross_entropy(z + 3.0, y), loss)
    # computed in float64 and cast back; gradients finite at the branch point
    z32 = torch.tensor([[[0.0, 1.0, -1.0, 1e6]]], requires_grad=True)
    out = stablemax_cross_entropy(z32, torch.tensor([[1]]))
    out.sum().backward()
    assert out.dtype == torch.float32 and torch.isfinite(z32.grad).all()


def test_sparsemax_loss_matches_entmax_and_gradient(data):
    z, y = data
    z = z.clone().requires_grad_()
    loss = sparsemax_loss(z, y)
    crit = entmax.SparsemaxLoss(reduction="elementwise_mean")
    for s in range(S):
        torch.testing.assert_close(loss[s], crit(z[s], y[s]))
    loss.sum().backward()
    expected = (entmax.sparsemax(z.detach(), dim=-1) - F.one_hot(y, C).double()) / N
    torch.testing.assert_close(z.grad, expected)
    assert (loss >= 0).all()


def test_softmax_collapse_fraction():
    margin = torch.zeros(2, 10, 5)
    margin[..., 0] = 200.0  # exp(-200) underflows against 1 in float32
    assert torch.equal(softmax_collapse_fraction(margin, "float32"), torch.ones(2))
    assert torch.equal(softmax_collapse_fraction(torch.randn(2, 10, 5) * 0.1, "float32"), torch.zeros(2))
    # float64 delays collapse: a margin of 30 collapses in float32 but not in float64
    m30 = torch.zeros(1, 4, 5, dtype=torch.float64)
    m30[..., 2] = 30.0
    assert softmax_collapse_fraction(m30, "float32").item() == 1.0
    assert softmax_collapse_fraction(m30, "float64").item() == 0.0
    mixed = torch.cat([margin[:1, :5], torch.zeros(1, 5, 5)], dim=1)
    assert softmax_collapse_fraction(mixed).item() == 0.5
    assert zero_loss_fraction(margin, torch.zeros(2, 10, dtype=torch.long)).tolist() == [1.0, 1.0]


def test_get_loss_registry(data):
    z, y = data
    assert set(LOSSES) == {"mse", "ce", "stablemax", "sparsemax"}
    torch.testing.assert_close(get_loss("mse")(z, y), mse_class_centred(z, y))
    torch.testing.assert_close(get_loss("mse", centring="sample")(z, y), mse_sample_centred(z, y))
    torch.testing.assert_close(
        get_loss("mse", centring="sample", normalise=False)(z, y), mse_sample_centred(z, y, normalise=False)
    )
    torch.testing.assert_close(get_loss("ce", dtype="float64")(z, y), cross_entropy(z, y, "float64"))
    torch.testing.assert_close(get_loss("stablemax")(z, y), stablemax_cross_entropy(z, y))
    torch.testing.assert_close(get_loss("sparsemax")(z, y), sparsemax_loss(z, y))


def test_get_loss_errors():
    with pytest.raises(GroklabError, match="'hinge'.*mse, ce, stablemax, sparsemax"):
        get_loss("hinge")
    with pytest.raises(GroklabError, match="did you mean 'stablemax'"):
        get_loss("stablemx")
    with pytest.raises(GroklabError, match="centring='row'.*class, sample"):
        get_loss("mse", centring="row")
    with pytest.raises(GroklabError, match="float16"):
        get_loss("ce", dtype="float16")


def test_members_get_independent_gradients(data):
    z, y = data
    for kind in LOSSES:
        zz = z.clone().requires_grad_()
        get_loss(kind)(zz, y).sum().backward()
        alone = z[1:2].clone().requires_grad_()
        get_loss(kind)(alone, y[1:2]).sum().backward()
        torch.testing.assert_close(zz.grad[1], alone.grad[0])
