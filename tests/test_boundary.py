"""Boundary search: bisection logic, the half-crossing estimate and its CI, and the CLI end to end."""

import json

import numpy as np
import pytest

from groklab.errors import GroklabError
from groklab.li2.boundary import SearchLimits, boundary_estimate, bracket, next_fraction, run_search, search_limits
from groklab.li2.boundary_sim import SyntheticProbe
from groklab.store import Store
from helpers import cli

QUICK = ["model.width=128", "optim.lr=5e-3", "optim.weight_decay=1e-3", "train.epochs=300"]


def _sharp_search(truth: float, limits: SearchLimits, start=None) -> tuple[list[float], list[float], str]:
    """Run next_fraction against a sharp boundary: every seed groks at or above `truth`."""
    fractions, rates = [], []
    while True:
        p, status = next_fraction(fractions, rates, limits, start)
        if p is None:
            return fractions, rates, status
        fractions.append(p)
        rates.append(float(p >= truth))


def test_the_search_starts_from_the_fixed_bracket_whatever_the_group():
    """The first probe is the bracket's geometric middle, the same for every truth: the search cannot
    centre on a prediction it is not given."""
    limits = SearchLimits(lowest=0.02, highest=0.9, resolution=0.1)
    first = {(_sharp_search(truth, limits)[0][0]) for truth in (0.05, 0.2, 0.5)}
    assert first == {round((0.02 * 0.9) ** 0.5, 4)}
    for truth in (0.031, 0.1, 0.37, 0.8):
        fractions, rates, status = _sharp_search(truth, limits)
        lo, hi = bracket(fractions, rates)
        assert status == "found" and lo < truth <= hi and hi / lo <= 1.1 + 1e-9 and len(fractions) <= 8
    # with --start-from-prediction the first probe is the start, then a gallop away from it
    fractions, _, status = _sharp_search(0.3, limits, start=0.1)
    assert fractions[:3] == [0.1, 0.11, 0.1331] and status == "found"


def test_the_search_probes_an_end_before_it_says_the_boundary_lies_outside():
    limits = SearchLimits(lowest=0.02, highest=0.9, resolution=0.1)
    fractions, _, status = _sharp_search(0.95, limits)
    assert status == "none grok" and max(fractions) == 0.9
    fractions, _, status = _sharp_search(0.01, limits)
    assert status == "all grok" and min(fractions) == 0.02


@pytest.mark.parametrize("factor", [0.55, 1.7])
def test_synthetic_boundary_away_from_the_prediction_is_found_and_covered(factor):
    """A fake trainer groks by a known logistic in ln p (width 0.05, 8 seeds, outcomes drawn per seed): the
    crossing is placed at 0.55·p* or 1.7·p* of a random group order. In 200 replications the final bracket
    is as narrow as stated, the estimate lies within one resolution step of the truth nearly always, and the
    95 % CI (bootstrap over seeds only) covers the truth at least 90 % of the time."""
    from groklab.li2 import critical_ratio

    rng = np.random.default_rng(7 if factor < 1 else 11)
    covered = within = 0
    for rep in range(200):
        order = int(rng.integers(20, 150))
        limits = search_limits(order, 0.1)
        truth = factor * critical_ratio(order)
        probe = SyntheticProbe(truth, 0.05, 8, rng)
        fractions, outcomes, status = run_search(probe, limits)
        est = boundary_estimate(fractions, outcomes, boot=500, seed=rep)
        assert status == "found" and est["resolution"] <= 0.1 + 1e-9
        covered += est["ci"][0] <= truth <= est["ci"][1]
        within += abs(np.log(est["estimate"] / truth)) <= np.log(1.1)
    assert covered >= 180, covered
    assert within >= 190, within


def test_a_sharp_synthetic_boundary_lies_in_the_final_bracket():
    rng = np.random.default_rng(0)
    limits = search_limits(101, 0.05)
    for truth in np.exp(rng.uniform(np.log(0.03), np.log(0.8), size=50)):
        probe = SyntheticProbe(truth, 0.0, 4, rng)
        fractions, outcomes, status = run_search(probe, limits)
        est = boundary_estimate(fractions, outcomes, boot=200)
        lo, hi = est["bracket"]
        assert status == "found" and lo < truth <= hi and est["resolution"] <= 0.05 + 1e-9
        assert abs(np.log(est["estimate"] / truth)) <= np.log(1.05)  # within the stated resolution
        assert probe.member_epochs == sum(np.where(r, 1800, 3000).sum() for r in outcomes)


def test_the_ci_narrows_with_more_seeds_and_ignores_the_bracket():
    fractions = np.array([0.2, 0.3, 0.35, 0.4, 0.5])
    four = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
    few = boundary_estimate(fractions, four, boot=1000)
    many = boundary_estimate(fractions, np.tile(four, 10), boot=1000)  # the same rates from 40 seeds
    for est in (few, many):
        assert est["bracket"] == (0.3, 0.35) and est["resolution"] == pytest.approx(0.1667, abs=1e-4)
        assert 0.3 < est["estimate"] < 0.4 and est["ci"][0] < est["estimate"] < est["ci"][1]
    width = lambda est: est["ci"][1] - est["ci"][0]  # noqa: E731
    assert width(many) < 0.6 * width(few)
    assert width(many) < 0.05  # narrower than the bracket: the resolution is not mixed in


def test_unbracketed_probes_have_no_estimate():
    est = boundary_estimate([0.1, 0.2], np.array([[1, 1], [1, 1]], dtype=bool), boot=10)
    assert np.isnan(est["estimate"]) and est["ci"][1] == 0.1


def test_small_groups_bad_brackets_and_resolutions_are_refused():
    with pytest.raises(GroklabError, match="too small for a bracket"):
        search_limits(4, 0.1)
    for bad in ((0.0, 0.9), (0.02, 1.0), (0.5, 0.4), (-0.1, 0.5)):
        with pytest.raises(GroklabError, match="--bracket must be"):
            search_limits(23, 0.1, bad)
    for res in (0, -0.1, float("nan")):
        with pytest.raises(GroklabError, match="--resolution must be a positive"):
            search_limits(23, res)


def test_boundary_cli_finds_z23_and_a_rerun_reuses_every_probe(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    args = ["li2", "boundary", "Z23", *QUICK, "--seeds", "2", "--resolution", "0.25", "--bracket", "0.1,0.8",
            "--store", store, "--no-progress"]
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "found" and result["started_at"] == "fixed bracket"
    assert result["probes"][0]["fraction"] == round((0.1 * 0.8) ** 0.5, 4)  # not the prediction (0.375)
    assert 0.3 < result["estimate"] < 0.6 and result["ci"][0] <= result["estimate"] <= result["ci"][1]
    assert result["bracket"][1] / result["bracket"][0] <= 1.25 + 1e-9
    assert all(len(p["run_ids"]) == 2 for p in result["probes"])
    assert len(Store(store).runs()) == 2 * len(result["probes"])
    code, out, err = cli(capsys, *args)
    assert code == 0 and out.count("(stored)") == len(result["probes"]) and "half of the seeds grok" in out


def test_boundary_cli_says_when_nothing_is_bracketed_and_keeps_the_runs(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    code, out, err = cli(capsys, "li2", "boundary", "Z23", "model.width=32", "train.epochs=5", "--seeds", "2",
                         "--resolution", "1.5", "--bracket", "0.3,0.9", "--store", store, "--no-progress")
    assert code == 0 and "not bracketed" in out and "raise train.epochs" in out
    assert len(Store(store).runs()) > 0


def test_boundary_cli_starts_from_the_prediction_only_when_asked(tmp_path, capsys):
    code, out, err = cli(capsys, "li2", "boundary", "Z23", "model.width=32", "train.epochs=5", "--seeds", "2",
                         "--start-from-prediction", "--store", tmp_path / "runs.sqlite", "--no-progress", "--json")
    result = json.loads(out)
    assert code == 0 and result["started_at"] == "prediction"
    assert result["probes"][0]["fraction"] == round(result["predicted"], 4)  # 0.3747: p* of Z23


@pytest.mark.parametrize("args, message", [
    (["Z23", "--resolution", "0"], "--resolution must be a positive"),
    (["Z23", "--bracket", "0.0,0.5"], "--bracket must be"),
    (["Z23", "--bracket", "0.1,1.2"], "--bracket must be"),
    (["Z23", "--bracket", "0.1"], "--bracket must be"),
    (["Z2"], "too small for a bracket"),
    (["Z23", "train.stop=maybe"], "train.stop"),
    (["Z23", "task.train_fraction=0.3"], "set by the boundary search"),
    (["Z23", "--seeds", "1"], "--seeds must be at least 2"),
])
def test_bad_boundary_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    store = tmp_path / "runs.sqlite"
    code, out, err = cli(capsys, "li2", "boundary", *args, "--store", store)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not store.exists()


def test_li2_scaling_full_mode_checks_the_budget_searches_each_group_and_tests_the_law(tmp_path):
    """The full mode's path (budget check, a search per group from the fixed bracket, both laws fitted,
    both figures) on a small setting."""
    from groklab.reproduce import Context
    from groklab.reproduce.li2_scaling_search import run_search

    ctx = Context("li2-scaling", False, tmp_path, str(tmp_path / "runs.sqlite"), seeds=2, progress=False,
                  echo=lambda s: None)
    mode = dict(seeds=2, resolution=0.25, bracket=(0.1, 0.8), budget=300,
                base=[*QUICK[:3], "train.eval_every=10", "train.stop=grok"])
    verdicts = run_search(ctx, mode, {"D22": "non-abelian", "Z23": "prime", "Z41": "prime"})
    bracketed, budget, a, b, c, preferred = verdicts
    assert bracketed.passed, bracketed.measured
    assert set(budget.measured) == {"D22", "Z41"}  # the smallest and the largest M
    assert all(set(row) == {"300 epochs", "600 epochs", "moves beyond the CI"} for row in budget.measured.values())
    law = ctx.extra["law"]
    assert law["groups"] == 3 and law["M range"] == (22, 41)
    assert 1.0 < law["ln M/M"]["c"] < 6.0 and law["ln M/M"]["ci"][0] <= law["ln M/M"]["c"] <= law["ln M/M"]["ci"][1]
    assert isinstance(a.passed, bool) and isinstance(b.passed, bool) and isinstance(c.passed, bool)
    boundaries = {r["group"]: r for r in ctx.extra["boundaries"]}
    assert all(r["started_at"] == "fixed bracket" and r["probes"][0]["fraction"] == round(0.08 ** 0.5, 4)
               for r in boundaries.values())
    assert [p.name for p in ctx.figures] == ["li2_scaling_phase.png", "li2_scaling_boundaries.png"]
    assert all(p.stat().st_size > 20_000 for p in ctx.figures)
    assert ctx.extra["cost"]["member_epochs"] > 0


@pytest.mark.parametrize("args, message", [
    (["--groups", "Z23,Z41"], "at least 3 groups"),
    (["--groups", "Z23,Z41,Z23"], "at least 3 groups"),
    (["--seeds", "1"], "--seeds must be at least 2"),
    (["--quick", "--groups", "Z23"], "at least 3 groups"),
])
def test_bad_li2_scaling_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    store, out = tmp_path / "runs.sqlite", tmp_path / "out"
    code, _, err = cli(capsys, "reproduce", "li2-scaling", *args, "--store", store, "--out", out)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not store.exists() and not out.exists()
