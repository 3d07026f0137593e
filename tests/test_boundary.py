"""Boundary search: bisection logic, the half-crossing estimate and its CI, and the CLI end to end."""

import json

import numpy as np
import pytest

from groklab.errors import GroklabError
from groklab.li2.boundary import (SearchLimits, boundary_estimate, bracket, fit_c, half_crossing, next_fraction,
                                  search_limits)
from groklab.store import Store
from helpers import cli

QUICK = ["model.width=128", "optim.lr=5e-3", "optim.weight_decay=1e-3", "train.epochs=300"]


def test_half_crossing_interpolates_the_isotonic_rate():
    assert half_crossing([0.1, 0.2, 0.3], [0.0, 0.25, 0.75]) == pytest.approx(0.25)
    # a non-monotone dip is pooled: (0.75, 0.25) -> 0.5 at both 0.2 and 0.3, so the crossing is at 0.2
    assert half_crossing([0.1, 0.2, 0.3, 0.4], [0.0, 0.75, 0.25, 1.0]) == pytest.approx(0.2)
    assert np.isnan(half_crossing([0.1, 0.2], [0.6, 1.0]))  # already above at the lowest probe
    assert np.isnan(half_crossing([0.1, 0.2], [0.0, 0.4]))  # never reaches one half


def _search(truth: float, start: float, limits: SearchLimits) -> tuple[list[float], list[float], str]:
    """Run next_fraction against a sharp boundary: every seed groks at or above `truth`."""
    fractions, rates = [], []
    while True:
        p, status = next_fraction(fractions, rates, start=start, limits=limits)
        if p is None:
            return fractions, rates, status
        fractions.append(p)
        rates.append(float(p >= truth))


def test_search_gallops_from_the_prediction_then_bisects():
    limits = SearchLimits(lowest=0.01, highest=0.95, tol=0.02)
    fractions, rates, status = _search(truth=0.3, start=0.1, limits=limits)
    assert status == "found" and fractions[:5] == [0.1, 0.12, 0.16, 0.24, 0.4]  # steps tol, 2 tol, 4 tol, 8 tol
    lo, hi = bracket(fractions, rates)
    assert lo < 0.3 <= hi and hi - lo <= 0.02 and len(fractions) <= 8
    # from above the gallop goes down the same way, and stops at the lowest fraction
    fractions, rates, status = _search(truth=0.05, start=0.3, limits=limits)
    assert fractions[:4] == [0.3, 0.28, 0.24, 0.16] and status == "found"
    assert _search(truth=0.001, start=0.3, limits=limits)[2] == "all grok"


def test_a_good_prediction_is_bracketed_in_two_probes_with_one_below_the_boundary():
    """The probes below the boundary are the expensive ones (no seed stops early): a prediction within
    tol of the truth costs one of them, from either side."""
    limits = SearchLimits(lowest=0.01, highest=0.95, tol=0.05)
    for truth, start in ((0.33, 0.3), (0.28, 0.3)):
        fractions, rates, status = _search(truth, start, limits)
        assert status == "found" and len(fractions) == 2 and rates.count(0.0) == 1
    # a bracket exactly tol wide is narrow enough, whatever the float difference of its ends says
    exact = SearchLimits(lowest=0.01, highest=0.95, tol=0.0936)
    assert 0.4683 - 0.3747 > 0.0936 and _search(0.45, 0.3747, exact)[0] == [0.3747, 0.4683]


def test_search_says_when_it_cannot_bracket():
    limits = SearchLimits(lowest=0.05, highest=0.95, tol=0.02)
    assert next_fraction([0.2, 0.4, 0.8, 0.95], [0, 0, 0, 0], 0.2, limits) == (None, "none grok")
    assert next_fraction([0.2, 0.1, 0.05], [1, 1, 1], 0.2, limits) == (None, "all grok")


def test_ci_comes_from_the_seeds_and_contains_the_bracket():
    fractions = np.array([0.2, 0.3, 0.35, 0.4, 0.5])
    four = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
    few = boundary_estimate(fractions, four, boot=1000)
    many = boundary_estimate(fractions, np.tile(four, 10), boot=1000)  # the same rates from 40 seeds
    for est in (few, many):
        lo, hi = est["bracket"]
        assert (lo, hi) == (0.3, 0.35) and est["estimate"] == pytest.approx(0.35)
        assert est["ci"][0] <= lo and est["ci"][1] >= hi
    width = lambda est: est["ci"][1] - est["ci"][0]  # noqa: E731
    assert width(many) < width(few) < 0.3


def test_fit_c_recovers_the_constant_with_an_interval():
    x = np.array([0.05, 0.1, 0.15])
    samples = 2.5 * x[:, None] + np.random.default_rng(0).normal(0, 0.005, size=(3, 400))
    fit = fit_c(2.5 * x, x, samples)
    assert fit["c"] == pytest.approx(2.5) and fit["ci"][0] < 2.5 < fit["ci"][1] and fit["groups"] == 3


def test_groups_too_small_to_split_and_bad_tolerances_are_refused():
    with pytest.raises(GroklabError, match="too small to split"):
        search_limits(1, 0.02)
    with pytest.raises(GroklabError, match="--tol ≥ 0.0625"):
        search_limits(4, 0.02)  # 16 pairs: steps of 1/16
    for tol in (0, -0.1, float("nan")):
        with pytest.raises(GroklabError, match="--tol must be a positive"):
            search_limits(23, tol)


def test_boundary_cli_finds_z23_and_a_rerun_reuses_every_probe(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    args = ["li2", "boundary", "Z23", *QUICK, "--seeds", "2", "--tol", "0.05", "--store", store, "--no-progress"]
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "found"
    # measured: half of the seeds grok between 0.42 and 0.47 here (the prediction, 0.375, is below)
    assert 0.375 < result["estimate"] < 0.56 and result["ci"][0] <= result["estimate"] <= result["ci"][1]
    assert result["bracket"][1] - result["bracket"][0] <= 0.05
    assert all(len(p["run_ids"]) == 2 for p in result["probes"])
    assert len(Store(store).runs()) == 2 * len(result["probes"])
    code, out, err = cli(capsys, *args)
    assert code == 0 and out.count("(stored)") == len(result["probes"]) and "half of the seeds grok" in out


def test_boundary_cli_says_when_nothing_is_bracketed_and_keeps_the_runs(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    code, out, err = cli(capsys, "li2", "boundary", "Z23", "model.width=32", "train.epochs=5", "--seeds", "2",
                         "--store", store, "--no-progress")
    assert code == 0 and "not bracketed" in out and "raise train.epochs" in out
    assert len(Store(store).runs()) > 0


@pytest.mark.parametrize("args, message", [
    (["Z23", "--tol", "0"], "--tol must be a positive"),
    (["Z23", "--tol", "-0.1"], "--tol must be a positive"),
    (["Z2"], "too small to split"),
    (["Z23", "train.stop=maybe"], "train.stop"),
    (["Z23", "task.train_fraction=0.3"], "set by the boundary search"),
    (["Z23", "--seeds", "0"], "--seeds"),
])
def test_bad_boundary_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    store = tmp_path / "runs.sqlite"
    code, out, err = cli(capsys, "li2", "boundary", *args, "--store", store)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not store.exists()


def test_li2_scaling_full_mode_searches_each_group_and_fits_c(tmp_path):
    """The full mode's path (search per group, c with a bootstrap CI, both figures) on a small setting."""
    from groklab.reproduce import Context
    from groklab.reproduce.li2_scaling import run_search

    ctx = Context("li2-scaling", False, tmp_path, str(tmp_path / "runs.sqlite"), seeds=2, progress=False,
                  echo=lambda s: None, groups=["Z23", "Z41"])
    verdicts = run_search(ctx, dict(seeds=2, tol=0.1, base=[*QUICK, "train.eval_every=10", "train.stop=grok"]))
    bracketed, _, constant, decreasing = verdicts
    assert bracketed.passed, bracketed.measured
    assert decreasing.passed  # Z41's boundary lies below Z23's
    c = constant.measured["fitted c"]
    low, high = constant.measured["95% CI"]
    assert low <= c <= high and 1.0 < c < 6.0
    assert [p.name for p in ctx.figures] == ["li2_scaling_phase.png", "li2_scaling_boundaries.png"]
    assert all(p.stat().st_size > 20_000 for p in ctx.figures)
    assert ctx.extra["cost"]["member_epochs"] > 0
