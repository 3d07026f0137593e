"""AdEMAMix: each member matches the reference implementation (pytorch-optimizer's AdEMAMix with decoupled
weight decay) to 1e-6, a member of an ensemble steps exactly as it does alone, and frozen members stay put."""

from __future__ import annotations

import pytest
import torch

from groklab.optim import AdEMAMix, build_optimizer
from test_optim import LR, S, SHAPES, WD, assert_members_match, grad_of, make_data, run_batched

reference = pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer (the dev extra) is the reference")

F64 = torch.float64


@pytest.mark.parametrize("warmup", [None, 15])
def test_members_match_the_reference(warmup):
    init, noise = make_data(SHAPES, 40, seed=3)
    kw = dict(betas=(0.9, 0.98), beta3=0.999, alpha=4.0, warmup=warmup, eps=1e-8)
    ours, _ = run_batched(lambda p: AdEMAMix(p, lr=LR, weight_decay=WD, **kw), init, noise)
    assert_members_match(ours, lambda p, s: reference.AdEMAMix(
        list(p.values()), lr=float(LR[s]), betas=(0.9, 0.98, 0.999), alpha=4.0, t_alpha_beta3=warmup, eps=1e-8,
        weight_decay=float(WD[s]), weight_decouple=True, foreach=False), init, noise, tol=1e-6)


def test_a_member_steps_as_it_does_alone():
    init, noise = make_data(SHAPES, 25, seed=4)
    together, _ = run_batched(lambda p: AdEMAMix(p, lr=LR, weight_decay=WD, warmup=10), init, noise)
    for s in range(S):
        alone = {n: v[s:s + 1].clone() for n, v in init.items()}
        opt = AdEMAMix(alone, lr=LR[s:s + 1], weight_decay=WD[s:s + 1], warmup=10)
        for nz in noise:
            for n, p in alone.items():
                p.grad = grad_of(p, nz[n][s:s + 1])
            opt.step()
        for n in init:
            assert torch.equal(alone[n][0], together[n][s]), (s, n)


def test_frozen_members_are_untouched_and_resume_their_schedule():
    init, noise = make_data(SHAPES, 12, seed=5)
    active = [torch.tensor([True, t not in range(3, 7), True]) for t in range(12)]
    params = {n: v.clone() for n, v in init.items()}
    opt = build_optimizer(params, kind="ademamix", lr=LR, weight_decay=WD, warmup=5)
    for t, nz in enumerate(noise):
        for n, p in params.items():
            p.grad = grad_of(p, nz[n])
        opt.step(active[t])
    assert opt.optimizers["main"].shared["step"].tolist() == [12, 8, 12]
    free, _ = run_batched(lambda p: build_optimizer(p, kind="ademamix", lr=LR, weight_decay=WD, warmup=5),
                          init, noise)
    for n in params:
        assert torch.equal(params[n][[0, 2]], free[n][[0, 2]])


def test_state_dict_round_trip():
    init, noise = make_data(SHAPES, 6, seed=6)
    _, opt = run_batched(lambda p: AdEMAMix(p, lr=LR, weight_decay=WD, warmup=4), init, noise)
    twin = AdEMAMix({n: v.clone() for n, v in init.items()}, lr=0.1, warmup=4)
    twin.load_state_dict(opt.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(opt.member_tensors()[len(init):], twin.member_tensors()[len(init):]))
