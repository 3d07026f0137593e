"""`groklab li2 ...`: the Li2 analyses from the shell give the theory's numbers."""

import json

import pytest

from helpers import cli as run


def _json(capsys, *args):
    code, out, err = run(capsys, *args)
    assert code == 0, err
    return json.loads(out)


def test_theory_numbers_of_cyclic_and_nonabelian_groups(capsys):
    z71 = _json(capsys, "li2", "theory", "Z71", "--json")
    assert z71["critical_fraction"] == pytest.approx(2.7482 * 0.0600, rel=2e-3)  # ln 71 / 71 = 0.0600
    assert z71["features"] == 35 and z71["reconstruction_nodes"] == 140  # 2M − 2
    d10 = _json(capsys, "li2", "theory", "D10", "--json")
    assert d10["d_max"] == 2 and d10["reconstruction_nodes"] == 34  # 2·Σ_{k≠1} d_k³ (li2-reconstruction: exact)
    s4 = _json(capsys, "li2", "theory", "S4", "--json")
    assert s4["features"] == 4 and s4["coupon_collector_T0"] == pytest.approx(4 * (1 + 1 / 2 + 1 / 3 + 1 / 4), abs=0.01)
    assert s4["critical_fraction"] == pytest.approx(1.5 * 2.7482 * 0.13242, rel=2e-3)  # corr = d_max/2 = 1.5


def test_energy_maxima_on_the_full_table_are_single_frequencies_with_thm2_energy(capsys):
    out = _json(capsys, "li2", "energy", "Z11", "--starts", "12", "--json")
    assert out["converged"] == 12 and sum(m["count"] for m in out["maxima"]) == 12
    for m in out["maxima"]:
        assert m["label"].startswith("k=") and m["energy_mean"] == pytest.approx(m["closed_form"], rel=1e-6)
        assert m["closed_form"] == pytest.approx(11 / 4)
    paper = _json(capsys, "li2", "energy", "Z11", "--starts", "4", "--paper-constants", "--json")
    assert all(m["energy_mean"] == pytest.approx(11 / 16, rel=1e-6) == m["closed_form"] for m in paper["maxima"])


def test_energy_below_the_critical_ratio_memorises(capsys):
    out = _json(capsys, "li2", "energy", "Z23", "--fraction", "0.15", "--starts", "6", "--json")
    assert out["pairs"] == 79 and [m["label"] for m in out["maxima"]] == ["mixed"]


def test_features_of_a_grokked_run_cover_every_frequency(capsys, tmp_path):
    store = str(tmp_path / "runs.sqlite")
    code, out, err = run(capsys, "train", "li2_fig3", "task.group=Z23", "task.train_fraction=0.5", "model.width=512",
                         "optim.lr=5e-3", "optim.weight_decay=1e-3", "train.epochs=200", "train.eval_every=5",
                         "train.progress=false", f"store.path={store}", "--json")
    assert code == 0, err
    (member,) = [json.loads(line) for line in out.strip().splitlines()]
    assert member["grok_epoch"] is not None
    feats = _json(capsys, "li2", "features", member["run_id"][:8], "--store", store, "--json")
    assert feats["covered"] == "11/11" and feats["missing"] == [] and feats["missing_energy_mean"] == pytest.approx(0, abs=1e-9)
    assert feats["mean_purity"] > 0.8 and sum(r["nodes"] for r in feats["per_irrep"]) <= feats["active_nodes"]
    first, last = feats["coverage_over_training"][0], feats["coverage_over_training"][-1]
    assert first["epoch"] == 0 and first["fraction"] == 0 and last["fraction"] == 1
    early = _json(capsys, "li2", "features", member["run_id"][:8], "--store", store, "--epoch", "0", "--json")
    assert early["epoch"] == 0 and len(early["missing"]) == 11  # at init no node is pure: nothing is covered


def test_features_of_an_unknown_run_is_a_one_line_error(capsys, tmp_path):
    code, out, err = run(capsys, "li2", "features", "nope", "--store", str(tmp_path / "none.sqlite"))
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_member_weights_find_snapshots_of_a_store_trained_with_a_relative_path(capsys, tmp_path, monkeypatch):
    """Runs record their folder as given (relative to where training ran); reading from elsewhere falls
    back to the store's own runs/ folder."""
    from groklab.train.cells import member_weights
    from groklab.store import Store

    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "train", "li2_fig3", "task.group=Z7", "model.width=16", "train.epochs=3",
                         "train.progress=false", "store.path=rel/runs.sqlite", "--json")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    monkeypatch.chdir("/")
    W = member_weights(Store(tmp_path / "rel" / "runs.sqlite"), run_id)["W"]
    assert tuple(W.shape) == (16, 14)
