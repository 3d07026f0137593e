"""model.complex_init: complex nets that start complex, and stay complex through training (Li2 Figs. 10–11)."""

import math

import pytest
import torch

from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.li2.features import active_nodes, complexness
from groklab.models import TwoLayerEnsemble
from groklab.optim import build_optimizer
from groklab.train.cells import member_weights
from groklab.train.loop import train
from groklab.store import Store


def test_complex_init_law_and_member_independence():
    real = TwoLayerEnsemble(23, 2, 23, 4096, seeds=[3, 4], extra_layers=1)
    cplx = TwoLayerEnsemble(23, 2, 23, 4096, seeds=[3, 4], extra_layers=1, complex_weights=True, complex_init=True)
    # the real parts are the real init scaled by 1/√2 (same generator, imaginary parts drawn after)
    torch.testing.assert_close(cplx.W.real, real.W / math.sqrt(2))
    torch.testing.assert_close(cplx.V.real, real.V / math.sqrt(2))
    torch.testing.assert_close(cplx.U[0].real, real.U[0] / math.sqrt(2))
    # imaginary parts: the same law as the real parts, independent of them
    for p in (cplx.W, cplx.V):
        assert abs(p.imag.pow(2).mean() / p.real.pow(2).mean() - 1) < 0.02
        assert abs(torch.corrcoef(torch.stack([p.real.flatten(), p.imag.flatten()]))[0, 1]) < 0.01
    # E|w|² equals the real init's second moment b²/3 (b = 1/√fan_in): node norms start as a real net's
    for p, q in ((cplx.W, real.W), (cplx.V, real.V)):
        b2 = 1 / p.shape[-1]
        assert abs(p.abs().pow(2).mean() / (b2 / 3) - 1) < 0.02
        assert abs(p.abs().pow(2).mean() / q.pow(2).mean() - 1) < 0.02
    # a member equals the same run alone
    solo = TwoLayerEnsemble(23, 2, 23, 4096, seeds=[4], extra_layers=1, complex_weights=True, complex_init=True)
    torch.testing.assert_close(solo.W[0], cplx.W[1])
    torch.testing.assert_close(cplx.member(1).W, solo.W)


def test_complex_init_needs_complex_weights():
    with pytest.raises(GroklabError, match="needs model.complex_weights=true"):
        TwoLayerEnsemble(5, 2, 5, 8, complex_init=True)
    with pytest.raises(GroklabError, match="needs model.complex_weights=true"):
        load_config("li2_fig3", ["model.complex_init=true"])


def test_adam_steps_a_complex_parameter_as_torch_does():
    # torch.optim.Adam updates a complex parameter as its real view; g² (complex) would be wrong
    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(1, 5, 6, dtype=torch.complex128, generator=gen)
    grads = [torch.randn(1, 5, 6, dtype=torch.complex128, generator=gen) for _ in range(4)]
    ours, ref = p0.clone(), p0[0].clone().requires_grad_(True)
    opt = build_optimizer({"W": ours}, kind="adam", lr=1e-2, weight_decay=1e-3)
    topt = torch.optim.Adam([ref], lr=1e-2, weight_decay=1e-3)
    for g in grads:
        ours.grad, ref.grad = g.clone(), g[0].clone()
        opt.step()
        topt.step()
    torch.testing.assert_close(ours[0], ref.detach())


def test_a_complex_initialised_net_stays_complex_and_learns(tmp_path):
    store = tmp_path / "runs.sqlite"
    base = ["task.group=Z23", "task.train_fraction=0.8", "model.width=64", "optim.lr=5e-3",
            "optim.weight_decay=5e-5", "train.epochs=150", "train.eval_every=10", "train.progress=false",
            "train.seeds=[0,1]", "model.complex_weights=true", f"store.path={store}"]
    results = {}
    for init in ("false", "true"):
        cfg = load_config("li2_fig3", [*base, f"model.complex_init={init}"])
        results[init] = train(cfg, progress=False)
    for r in results["true"]:
        W = member_weights(Store(str(store)), r["run_id"])["W"]
        # not collapsed to a real net: half the power is imaginary, and the active nodes are not real rows
        # times a phase (which would compute what real nodes do), whose complexness would be 0
        share = W.imag.pow(2).sum() / W.abs().pow(2).sum()
        assert 0.2 < share < 0.8, share
        assert complexness(W)[active_nodes(W)].median() > 0.3
        assert r["final_train_acc"] > 0.99  # and it learned its training set
    for r in results["false"]:  # the reference's complex mode (real start) stays exactly real
        W = member_weights(Store(str(store)), r["run_id"])["W"]
        assert torch.count_nonzero(W.imag) == 0 and complexness(W).max() == 0


def test_complexness_separates_rotated_real_rows_from_complex_exponentials():
    x = torch.arange(23, dtype=torch.float64)
    real = torch.cos(2 * torch.pi * 3 * x / 23 + 0.4).to(torch.complex128)
    rotated = torch.stack([real * torch.exp(torch.tensor(1j * phi)) for phi in (0.0, 0.7, 2.0)])
    assert complexness(rotated).max() < 1e-12
    exponential = torch.exp(2j * torch.pi * 3 * x / 23)[None]
    assert abs(float(complexness(exponential)[0]) - 1) < 1e-12
