"""Running sweeps: results equal lone runs, retries then failure rows, Li2 hooks, SIGKILL and resume, Ray."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from groklab.config import load_config
from groklab.store import Store
from groklab.sweep import load_spec, make_plan, metrics_frame, run_sweep, runs_frame, series_frame
from groklab.train import checkpoint as ckpt
from groklab.train.loop import train

TINY = {"task.group": "Z7", "model.width": 24, "task.train_fraction": 0.5, "train.epochs": 30,
        "train.dtype": "float64", "train.progress": False, "train.checkpoint_dense_until": 0,
        "train.checkpoint_every": 1000}


@pytest.fixture(autouse=True)
def one_thread():
    """In-process sweeps train in the test process: one thread, as a sweep worker on a shared core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_spec(tmp_path, name="spec", base=None, **parts):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "base": dict(TINY, **(base or {})), **parts}))
    return path


def alone_config(point: dict, store_path, base=None):
    values = dict(TINY, **(base or {}), **{k: v for k, v in point.items() if k != "seed"})
    return load_config(None, [f"{k}={json.dumps(v)}" for k, v in values.items()]
                       + [f"train.seeds=[{point['seed']}]", f"store.path={store_path}"])


def test_sweep_results_equal_a_direct_train_and_a_rerun_skips_everything(tmp_path):
    spec_path = write_spec(tmp_path, axes={"optim.weight_decay": [0.0, 1e-3]}, seeds=[0, 1])
    store_path = tmp_path / "sweep" / "runs.sqlite"
    report = run_sweep(spec_path, workers=0, store_path=store_path, progress=False)
    assert (report.planned, report.done, report.skipped, report.failed) == (4, 4, 0, 0)
    runs = runs_frame(store_path, sweep=report.sweep_id)
    assert len(runs) == 4 and set(runs["status"]) == {"complete"} and runs["ensemble_id"].nunique() == 1

    # the last member of the packed ensemble, trained alone with `groklab train`'s engine
    point = dict(report.runs[-1])
    cfg = alone_config({k: point[k] for k in ("optim.weight_decay", "seed")}, tmp_path / "alone" / "runs.sqlite")
    (alone,) = train(cfg, progress=False)
    assert alone["run_id"] == point["run_id"]
    swept = metrics_frame(store_path, run_ids=[point["run_id"]])
    lone = metrics_frame(cfg.store.path, run_ids=[alone["run_id"]])
    assert swept["epoch"].tolist() == lone["epoch"].tolist() == list(range(31))
    for col in ("train_loss", "test_loss"):
        np.testing.assert_allclose(swept[col], lone[col], rtol=1e-9)
    np.testing.assert_array_equal(swept["test_acc"], lone["test_acc"])
    assert point["summary"]["grok_epoch"] == alone["grok_epoch"]

    again = run_sweep(spec_path, workers=0, store_path=store_path, progress=False)
    assert (again.done, again.skipped, again.sweep_id) == (0, 4, report.sweep_id)
    assert len(metrics_frame(store_path, sweep=report.sweep_id)) == 4 * 31


def test_failing_ensemble_is_retried_then_recorded_failed_and_the_sweep_goes_on(tmp_path, monkeypatch):
    import groklab.sweep.worker as worker

    spec_path = write_spec(tmp_path, axes={"model.width": [24, 32]}, seeds=[0, 1])
    store_path = tmp_path / "runs.sqlite"
    plan = make_plan(load_spec(spec_path), workers=0, store_path=store_path)
    bad = next(e for e in plan.ensembles if e.runs[0].cfg.model.width == 32)
    # a real error inside the worker: the ensemble's checkpoint folder is taken by a file
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / bad.ensemble_id).write_text("not a folder")
    calls = []
    real = worker.run_ensemble
    monkeypatch.setattr(worker, "run_ensemble", lambda cfg, folder, **kw: calls.append(cfg.model.width) or real(cfg, folder, **kw))

    messages = []
    report = run_sweep(spec_path, workers=0, store_path=store_path, progress=False, retries=1, echo=messages.append)
    assert calls.count(32) == 2 and calls.count(24) == 1  # one retry, then give up
    assert (report.done, report.failed) == (2, 2)
    assert "retrying" in messages[0] and "recorded its runs as failed" in messages[1]
    store = Store(store_path)
    for r in bad.runs:
        row = store.run(r.run_id)
        assert row["status"] == "failed" and "failed after 2 attempt(s)" in row["error"]
        assert "cannot write the checkpoint" in row["error"]  # the worker's own one-line reason, kept
    assert store.metrics([r.run_id for r in bad.runs]).empty  # no partial rows
    good = [r.run_id for e in plan.ensembles if e is not bad for r in e.runs]
    assert store.completed(good) == set(good) and len(store.metrics(good)) == 2 * 31
    assert {f["run_id"] for f in report.failures} == {r.run_id for r in bad.runs}

    # the next sweep retries the failed runs (the cause is gone) and skips the complete ones
    (tmp_path / "runs" / bad.ensemble_id).unlink()
    again = run_sweep(spec_path, workers=0, store_path=store_path, progress=False)
    assert (again.done, again.skipped, again.failed) == (2, 2, 0)


def test_li2_hooks_are_built_in_the_worker_when_li2_every_is_set(tmp_path):
    spec_path = write_spec(tmp_path, axes={"li2.every": [0, 10]}, seeds=[0, 1])
    store_path = tmp_path / "runs.sqlite"
    report = run_sweep(spec_path, workers=0, store_path=store_path, progress=False)
    series = series_frame(store_path, sweep=report.sweep_id, config_keys=["li2.every"])
    li2 = series[series["key"].str.startswith("li2.")]
    assert set(li2["config.li2.every"]) == {10}  # li2.every=0: no diagnostics
    epochs = li2.groupby("run_id")["epoch"].apply(lambda e: tuple(sorted(set(e))))
    assert sorted(epochs.unique()) == [(0, 10, 20, 30)] and len(epochs) == 2
    assert li2["key"].nunique() > 1
    stages = {r["run_id"]: r["summary"].get("stages") for r in report.runs}  # the driver stores them too
    assert sum(s is not None for s in stages.values()) == 2


def _counts(store_path) -> dict:
    """Runs per status, read-only (the driver may be creating the file right now)."""
    if not store_path.exists():
        return {}
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    finally:
        conn.close()


def test_sigkill_midway_then_rerun_finds_every_run_exactly_once(tmp_path):
    epochs = 150
    base = {"train.epochs": epochs, "train.checkpoint_every": 50}
    spec_path = write_spec(tmp_path, base=base, seeds=list(range(6)), max_members=1)
    store_path = tmp_path / "store" / "runs.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "groklab.cli", "sweep", str(spec_path), "--workers", "1",
                             "--store", str(store_path), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            counts = _counts(store_path)
            if counts.get("complete", 0) >= 2 and counts.get("running", 0) >= 1:  # kill mid-ensemble, not between
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read().decode()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed = _counts(store_path)
    assert 2 <= killed.get("complete", 0) < 6 and killed.get("running", 0) >= 1, killed
    store = Store(store_path)
    was_running = runs_frame(store, status="running")["run_id"].tolist()

    report = run_sweep(spec_path, workers=0, store_path=store_path, progress=False)
    assert (report.skipped, report.done, report.failed) == (killed["complete"], 6 - killed["complete"], 0), (killed, report.skipped, report.done)
    runs = runs_frame(store)
    planned = {r.run_id for r in make_plan(load_spec(spec_path), workers=0, store_path=store_path).runs}
    assert sorted(runs["run_id"]) == sorted(planned)  # every run exactly once, nothing else
    assert set(runs["status"]) == {"complete"} and runs["summary.final_train_acc"].notna().all()
    metrics = store.metrics(planned)
    per_run = metrics.groupby("run_id")["epoch"].apply(list)
    assert all(epochs_ == list(range(epochs + 1)) for epochs_ in per_run)  # full rows, no partial or doubled
    # a run the killed driver had left 'running' was redone (from its resume checkpoint) to the same numbers
    point = runs.set_index("run_id").loc[was_running[0]]
    cfg = alone_config({"seed": int(point["seed"])}, tmp_path / "alone" / "runs.sqlite", base)
    (alone,) = train(cfg, progress=False)
    lone = metrics_frame(cfg.store.path, run_ids=[alone["run_id"]])
    redone = metrics_frame(store, run_ids=[was_running[0]])
    np.testing.assert_allclose(redone["train_loss"], lone["train_loss"], rtol=1e-9)


def test_on_a_cluster_runs_are_packed_for_the_tasks_it_runs_at_once(tmp_path, monkeypatch):
    import groklab.sweep.driver as driver
    from groklab.sweep.local import InProcessExecutor

    class FourSlotCluster(InProcessExecutor):  # stands in for a joined Ray cluster with room for 4 tasks
        slots = 4

    monkeypatch.setattr(driver, "make_executor", lambda *args, **kwargs: FourSlotCluster())
    spec_path = write_spec(tmp_path, base={"train.epochs": 5}, seeds=[0, 1, 2, 3])
    store_path = tmp_path / "runs.sqlite"
    assert len(make_plan(load_spec(spec_path), workers=1, store_path=store_path).ensembles) == 1
    report = run_sweep(spec_path, executor="ray", address="10.0.0.1:6379", store_path=store_path, progress=False)
    assert report.done == 4 and runs_frame(store_path)["ensemble_id"].nunique() == 4  # one ensemble per slot


RAY_TOKEN = "0123456789abcdef" * 4  # one per test process: Ray caches the token it first reads


@pytest.fixture
def private_ray_env(monkeypatch, tmp_path):
    """A private Ray in this process authenticates with a token it would otherwise create in ~/.ray;
    give it one here instead, and keep its scratch folders in the test's folder."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'groklab[ray]' to test the Ray executor")
    monkeypatch.setenv("RAY_AUTH_TOKEN", RAY_TOKEN)
    # Unset, so that Ray turns token mode on itself (setting it here would not reach a Ray imported
    # earlier); set-then-delete makes monkeypatch remove what Ray sets when the test ends.
    monkeypatch.setenv("RAY_AUTH_MODE", "")
    monkeypatch.delenv("RAY_AUTH_MODE")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("GROKLAB_SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_ray_executor_runs_a_sweep_on_a_local_two_cpu_ray(tmp_path, private_ray_env):
    spec_path = write_spec(tmp_path, axes={"optim.weight_decay": [0.0, 1e-3]}, seeds=[0, 1], max_members=2)
    store_path = tmp_path / "ray" / "runs.sqlite"
    report = run_sweep(spec_path, executor="ray", workers=2, store_path=store_path, progress=False)
    assert (report.done, report.failed) == (4, 0)
    local_path = tmp_path / "local" / "runs.sqlite"
    run_sweep(spec_path, workers=0, store_path=local_path, progress=False)
    on_ray = metrics_frame(store_path).sort_values(["run_id", "epoch"]).reset_index(drop=True)
    local = metrics_frame(local_path).sort_values(["run_id", "epoch"]).reset_index(drop=True)
    assert len(on_ray) == 4 * 31 and on_ray["run_id"].tolist() == local["run_id"].tolist()
    np.testing.assert_allclose(on_ray["train_loss"], local["train_loss"], rtol=1e-9)


def test_ray_tasks_get_their_gpu_share_report_epochs_and_send_files_home(tmp_path, private_ray_env, monkeypatch):
    """Fractional GPUs reach Ray's scheduler and `train.device=auto` resolves inside the task: to CUDA where
    the assigned GPU is real (this Ray only declares one, so here to the CPU). Epochs arrive while the
    tasks run; each task's files are home before its result."""
    import ray

    from groklab.sweep.ray_exec import RayExecutor
    from groklab.sweep.worker import Job

    spec_path = write_spec(tmp_path, base={"train.epochs": 120, "train.checkpoint_every": 40}, seeds=[0, 1],
                           max_members=1)
    plan = make_plan(load_spec(spec_path), workers=2, store_path=tmp_path / "runs.sqlite")
    jobs = [Job(e.index, e.config(), str(tmp_path / "runs" / e.ensemble_id), [r.run_id for r in e.runs])
            for e in plan.ensembles]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # Ray refuses a GPU that it is told is hidden
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)  # declares a GPU, needs none
    try:
        pool = RayExecutor(2, gpus_per_task=0.5)
        assert pool.slots == 2  # two half-GPU tasks share the one GPU
        for job in jobs:
            pool.submit(job)
        results, epochs = {}, {}
        deadline = time.monotonic() + 180
        while len(results) < len(jobs) and time.monotonic() < deadline:
            for job, result in pool.wait(0.2):
                results[job.key] = result
                assert [e for e, _ in ckpt.list_snapshots(job.folder)] == [0, 40, 80, 120]  # files first
            for key, epoch in pool.epochs().items():
                epochs.setdefault(key, []).append(epoch)
        pool.close()
    finally:
        ray.shutdown()
    assert sorted(results) == [j.key for j in jobs] and all(r.error is None for r in results.values())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert [(results[j.key].worker["gpus"], results[j.key].worker["device"]) for j in jobs] == [(["0"], device)] * 2
    assert all(epochs.get(j.key) and epochs[j.key] == sorted(epochs[j.key]) for j in jobs)  # live, in order
