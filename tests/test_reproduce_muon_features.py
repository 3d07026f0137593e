"""`groklab reproduce muon-features --quick`: AdamW and Muon trained with the feature hook, measured from the
store, verdicts and figures written; plus the acquisition-epoch rule on its own."""

import json

import pytest

from groklab.li2.transformer_features import acquisition_epoch
from helpers import cli as run


def test_acquisition_is_the_first_epoch_at_the_final_coverage():
    assert acquisition_epoch([0, 10, 20, 30, 40], [0, 2, 5, 4, 5]) == 20  # a dip afterwards does not move it
    assert acquisition_epoch([0, 10, 20], [1, 0, 0]) is None  # ends covering nothing: never acquired
    assert acquisition_epoch([0, 10], [3, 3]) == 0


def test_quick_mode_compares_the_optimizers_feature_acquisition(capsys, tmp_path):
    code, out, err = run(capsys, "reproduce", "muon-features", "--quick", "--seeds", "1", "--store",
                         tmp_path / "runs.sqlite", "--out", tmp_path / "out", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mode"] == "quick" and len(report["verdicts"]) == 5
    assert {p.rsplit("/", 1)[-1] for p in report["figures"]} == {"irrep_power.png", "restricted_excluded.png"}
    runs = {(r["task"], r["optimizer"]): r for r in report["runs"]}
    assert set(runs) == {(t, o) for t in ("add mod 31", "S4") for o in ("adamw", "muon")}
    assert all(0 <= r["coverage_speed"] <= 1 and r["irreps"] == (15 if r["task"] == "add mod 31" else 4)
               for r in runs.values())
    muon = runs[("add mod 31", "muon")]
    assert muon["grok_epoch"] is not None  # Muon groks add mod 31 within the quick budget (measured: epoch 110)
    assert muon["acquisition_epoch"] <= muon["grok_epoch"]
    assert muon["excluded_test"] > 3 * muon["loss_test"]  # the loss key irreps matter ...
    assert 1 <= muon["loss_key_count"] <= 7  # ... and are at most half of the 15, so the check can fail
    carried = next(v for v in report["verdicts"] if v["claim"].startswith("after grokking"))
    informative = carried["measured"]["informative runs passing"]
    assert informative in ("0/1", "1/1") and carried["pass"] == (informative == "1/1")
    matched = next(v for v in report["verdicts"] if "matched progress" in v["claim"])
    assert matched["pass"] is None and "cannot be matched" in matched["reason"]  # AdamW does not grok here
    assert all(r["coverage_series"] for r in runs.values())
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert verdict["verdicts"] == report["verdicts"]


def _stored_full_runs():
    import pandas as pd
    from pathlib import Path

    data = json.loads((Path(__file__).parents[1] / "docs/results/muon-features-full.json").read_text())
    return pd.DataFrame(data["runs"])


def test_verdicts_fail_on_the_stored_runs_with_controls():
    """Negative controls replayed on the committed full-mode runs (add mod 97 and A5, 4 seeds): the optimizer
    comparisons fail with the optimizers' labels swapped, and "features before the jump" fails when the jump is
    put at epoch 0 (before any feature can have arrived)."""
    from groklab.reproduce.muon_features import verdicts

    runs = _stored_full_runs()
    right = {v.claim: v for v in verdicts(runs, 400)}
    swapped = {v.claim: v for v in verdicts(runs.assign(optimizer=runs["optimizer"].map({"muon": "adamw", "adamw": "muon"})), 400)}
    for claim in ("Muon covers more irreps sooner (Li2's explanation)", "Muon groks sooner (the Muon paper)"):
        assert right[claim].passed is True and swapped[claim].passed is False, claim
    early = runs.assign(grok_epoch=runs["grok_epoch"].where(runs["grok_epoch"].isna(), 0.0))
    jump = "features are acquired before the test-accuracy jump"
    assert {v.claim: v for v in verdicts(early, 400)}[jump].passed is False
    # the stored key sets are the embedding's, 43 of 48 frequencies and 4 of 4 irreps: not informative
    carried = right["after grokking the key irreps carry the computation"]
    assert carried.passed is None and carried.measured["informative runs passing"] == "0/0"


def _coverage_runs(muon_ramp: float, adamw_ramp: float):
    """Synthetic runs of two tasks, 4 seeds per optimizer, coverage logged every 5 epochs to 400: a run's covered
    fraction is min(1, x / ramp) at progress x = epoch / its own grok epoch (ramp: the progress at which it covers
    every irrep). Muon groks at 100–130, AdamW at twice that; one more AdamW run never groks."""
    import numpy as np
    import pandas as pd

    epochs = np.arange(0, 401, 5)
    rows = []
    for task in ("add mod 97", "A5"):
        for seed in range(4):
            for optimizer, grok, ramp in (("muon", 100 + 10 * seed, muon_ramp), ("adamw", 200 + 20 * seed, adamw_ramp)):
                coverage = pd.Series(np.minimum(1.0, epochs / grok / ramp), index=epochs)
                rows.append(dict(task=task, optimizer=optimizer, seed=seed, grok_epoch=float(grok), coverage=coverage))
        rows.append(dict(task=task, optimizer="adamw", seed=4, grok_epoch=None,
                         coverage=pd.Series(np.minimum(1.0, epochs / 800), index=epochs)))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("muon_ramp, adamw_ramp, ahead", [(0.4, 0.8, True), (0.8, 0.8, False), (0.9, 0.7, False)])
def test_matched_progress_fails_where_muon_is_ahead_only_by_grokking_sooner(muon_ramp, adamw_ramp, ahead):
    """Muon's coverage curve is ahead in epochs in every case (the raw coverage speed says Muon, as on the stored
    runs), but at half of each run's own grok epoch it is ahead only where its curve rises sooner in progress:
    the same curve in progress (a tie) or a slower one fails the verdict."""
    from groklab.reproduce.muon_features import coverage_speed, matched_progress_verdict

    runs = coverage_speed(_coverage_runs(muon_ramp, adamw_ramp))
    speed = runs.groupby(["task", "optimizer"])["coverage_speed"].mean().unstack()
    assert (speed["muon"] > speed["adamw"]).all()  # ahead in epochs
    verdict = matched_progress_verdict(runs)
    assert verdict.measured["compared"] == ["A5", "add mod 97"]
    assert verdict.passed is ahead, verdict.measured
