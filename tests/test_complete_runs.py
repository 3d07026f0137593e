"""A complete run is never taken over: an ensemble that contains it trains only its other members, a kill
mid-way leaves the complete run's row, folder and snapshots as they were, and `runs clean` never lists it."""

import os
import subprocess
import sys
import textwrap

from helpers import cli
from groklab.config import load_config
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.loop import train

BASE = ["task.group=Z7", "model.width=16", "task.train_fraction=0.5", "train.epochs=40", "train.dtype=float64",
        "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=10",
        "train.snapshot_every=10"]


def cfg_of(store, *overrides):
    return load_config(None, [*BASE, f"store.path={store}", *overrides])


def row(store, run_id):
    return Store(store).run(run_id)


def test_an_ensemble_with_a_complete_member_trains_only_the_others(tmp_path):
    store = tmp_path / "runs.sqlite"
    (a,) = train(cfg_of(store, "optim.weight_decay=2e-4", "train.seeds=[0]"))
    before = row(store, a["run_id"])
    snaps_before = [p.stat().st_mtime_ns for _, p in ckpt.run_snapshots(before, store.parent)]
    both = train(cfg_of(store, "optim.weight_decay=[2e-4,0]", "train.seeds=[0]"))
    assert both[0]["run_id"] == a["run_id"] and both[0].get("skipped") and not both[1].get("skipped")
    after = row(store, a["run_id"])
    for key in ("status", "ensemble_id", "folder", "updated", "summary"):
        assert after[key] == before[key], key
    assert [p.stat().st_mtime_ns for _, p in ckpt.run_snapshots(after, store.parent)] == snaps_before
    alone = train(cfg_of(tmp_path / "alone.sqlite", "optim.weight_decay=0", "train.seeds=[0]"))[0]
    assert both[1]["run_id"] == alone["run_id"] and both[1]["final_train_loss"] == alone["final_train_loss"]


def test_a_kill_mid_way_leaves_the_complete_run_alone_and_clean_never_lists_it(capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    (a,) = train(cfg_of(store, "optim.weight_decay=2e-4", "train.seeds=[0]"))
    before = row(store, a["run_id"])
    killed = textwrap.dedent(f"""
        import os, signal
        from groklab.config import load_config
        from groklab.train.loop import train
        cfg = load_config(None, {[*BASE, f"store.path={store}", "optim.weight_decay=[2e-4,0]", "train.seeds=[0]"]!r})
        train(cfg, on_epoch=lambda e: e == 25 and os.kill(os.getpid(), signal.SIGKILL))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    assert subprocess.run([sys.executable, "-c", killed], env=env).returncode == -9
    after = row(store, a["run_id"])
    assert (after["status"], after["folder"], after["summary"]) == ("complete", before["folder"], before["summary"])
    assert ckpt.run_snapshots(after, store.parent)[-1][0] == 40
    code, out, _ = cli(capsys, "runs", "clean", "--dry-run", "--store", store)
    assert code == 0 and "1 stale run(s)" in out and a["run_id"][:8] not in out
    code, out, _ = cli(capsys, "runs", "clean", "--store", store)
    assert a["run_id"][:8] not in out and Store(store).run_status(a["run_id"]) == "complete"
    both = train(cfg_of(store, "optim.weight_decay=[2e-4,0]", "train.seeds=[0]"))
    assert both[0].get("skipped") and both[1]["stopped_epoch"] == 40


def test_start_run_keeps_a_complete_row_even_when_it_is_retrained(tmp_path):
    s = Store(tmp_path / "runs.sqlite")
    s.start_run("r1", config={}, seed=0, config_hash="h", ensemble_id="e1", folder="f1")
    s.write_results("r1", [(0, 1.0, 0.5, 1.0, 0.5, None)], summary={"x": 1}, status="complete")
    s.start_run("r1", config={}, seed=0, config_hash="h", ensemble_id="e2", folder="f2")
    assert (s.run("r1")["status"], s.run("r1")["folder"]) == ("complete", "f1")
    s.write_results("r1", [(0, 2.0, 0.5, 1.0, 0.5, None)], summary={"x": 2}, status="complete")
    assert s.run("r1")["summary"] == {"x": 2} and s.metrics(["r1"])["train_loss"].tolist() == [2.0]


def test_a_forced_retrain_killed_mid_way_leaves_the_complete_run_listed_and_kept(capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    (a,) = train(cfg_of(store, "train.seeds=[0]"))
    killed = textwrap.dedent(f"""
        import os, signal
        from groklab.config import load_config
        from groklab.train.loop import train
        cfg = load_config(None, {[*BASE, f"store.path={store}", "train.seeds=[0]"]!r})
        train(cfg, force=True, on_epoch=lambda e: e == 25 and os.kill(os.getpid(), signal.SIGKILL))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    assert subprocess.run([sys.executable, "-c", killed], env=env).returncode == -9
    assert Store(store).run(a["run_id"])["status"] == "complete"
    code, out, _ = cli(capsys, "runs", "clean", "--dry-run", "--store", store)
    assert code == 0 and "0 stale run(s)" in out
    assert len(Store(store).metrics([a["run_id"]])) == 41
