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
    assert report["mode"] == "quick" and len(report["verdicts"]) == 4
    assert {p.rsplit("/", 1)[-1] for p in report["figures"]} == {"irrep_power.png", "restricted_excluded.png"}
    runs = {(r["task"], r["optimizer"]): r for r in report["runs"]}
    assert set(runs) == {(t, o) for t in ("add mod 31", "S4") for o in ("adamw", "muon")}
    assert all(0 <= r["coverage_speed"] <= 1 and r["irreps"] == (15 if r["task"] == "add mod 31" else 4)
               for r in runs.values())
    muon = runs[("add mod 31", "muon")]
    assert muon["grok_epoch"] is not None  # Muon groks add mod 31 within the quick budget (measured: epoch 110)
    assert muon["acquisition_epoch"] <= muon["grok_epoch"]
    assert muon["excluded_test"] > 3 * muon["loss_test"] and muon["restricted_test"] == pytest.approx(muon["loss_test"], rel=0.5)
    carried = next(v for v in report["verdicts"] if v["claim"].startswith("after grokking"))
    assert carried["pass"]
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert verdict["verdicts"] == report["verdicts"]
