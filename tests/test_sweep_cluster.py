"""Sweeps on a real Ray cluster (`ray start --head` on loopback, token authentication, see ray_cluster.py).

The driver runs as a user runs it: `groklab sweep ... --executor ray --address ...` in a process of its
own, told only where the cluster's token is. Workers train in the cluster's scratch folder, which the
driver does not know about, so everything the store's folder holds afterwards came home through Ray.

The first test runs by default (about a minute on 2 busy cores); the heavier ones run with
`pytest -m ray_cluster`.
"""

import json
import subprocess
import sys
import time

import pytest
import yaml

pytest.importorskip("ray", reason="Ray is not installed: pip install 'groklab[ray]' to test sweeps on a cluster")

from helpers import cli  # noqa: E402
from ray_cluster import ray_cluster  # noqa: E402
from groklab.store import Store  # noqa: E402
from groklab.sweep import load_spec, make_plan, runs_frame  # noqa: E402
from groklab.train import checkpoint as ckpt  # noqa: E402

BASE = {"task.group": "Z7", "model.width": 24, "task.train_fraction": 0.5, "train.dtype": "float64",
        "train.progress": False, "train.checkpoint_dense_until": 0}


def write_spec(tmp_path, **parts):
    path = tmp_path / "spec.yaml"
    base = dict(BASE, **parts.pop("base", {}))
    path.write_text(yaml.safe_dump({"name": "cluster", "base": base, **parts}))
    return path


def sweep(cluster, spec, store, *args, env=None):
    """`groklab sweep` against `cluster` in a new process."""
    return subprocess.Popen([sys.executable, "-m", "groklab.cli", "sweep", str(spec), "--executor", "ray", "--store",
                             str(store), "--no-progress", "--json", *args],
                            env=env or cluster.driver_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_every_run_complete_once(store_path, spec_path, epochs: int):
    planned = {r.run_id for r in make_plan(load_spec(spec_path), workers=1, store_path=store_path).runs}
    runs = runs_frame(store_path)
    assert sorted(runs["run_id"]) == sorted(planned) and set(runs["status"]) == {"complete"}
    per_run = Store(store_path).metrics(planned).groupby("run_id")["epoch"].apply(list)
    assert len(per_run) == len(planned) and all(e == list(range(epochs + 1)) for e in per_run)  # no partial rows
    return runs


def test_sweep_joins_a_token_cluster_brings_files_home_and_retries_a_killed_worker(tmp_path, capsys):
    epochs = 300
    spec = write_spec(tmp_path, base={"train.epochs": epochs, "train.checkpoint_every": 50, "train.tensorboard": True},
                      seeds=[0, 1, 2, 3], max_members=2)
    store = tmp_path / "store" / "runs.sqlite"
    with ray_cluster(cpus=2) as cluster:
        proc = sweep(cluster, spec, store, "--address", cluster.address, "--retries", "1")
        try:
            # mid-ensemble: a worker has written a resume checkpoint in its node's scratch folder
            wait_for(lambda: any(cluster.scratch.glob("*/resume.pt")) and cluster.workers(), 120,
                     "a worker to be mid-ensemble", proc)
            victim = cluster.workers()[0]
            subprocess.run(["kill", "-9", str(victim)], check=True)
            out, err = proc.communicate(timeout=240)
        finally:
            proc.kill()
        assert proc.returncode == 0, err[-3000:]
        report = json.loads(out)
        assert (report["done"], report["failed"]) == (4, 0)
        assert err.count("failed, attempt 1 of 2") == 1 and "retrying" in err  # exactly the killed ensemble, once
        assert list(cluster.scratch.iterdir()) == []  # the node's scratch is cleaned: what follows came home

    runs = assert_every_run_complete_once(store, spec, epochs)
    for row in runs.itertuples():
        folder = ckpt.ensemble_folder({"folder": row.folder, "ensemble_id": row.ensemble_id}, store.parent)
        assert [e for e, _ in ckpt.list_snapshots(folder)] == list(range(0, epochs + 1, 50))
        assert any((folder / "tensorboard" / row.run_id).glob("events.out.tfevents.*"))
        assert not (folder / "resume.pt").exists()
    # the analyses read the snapshots home holds
    code, out, err = cli(capsys, "li2", "features", runs["run_id"].iloc[0], "--store", store, "--json")
    assert code == 0, err
    assert json.loads(out)["epoch"] == epochs


@pytest.mark.ray_cluster
def test_a_lost_cluster_ends_the_sweep_in_one_line_and_a_rerun_on_a_new_cluster_resumes(tmp_path):
    epochs = 1500
    spec = write_spec(tmp_path, base={"train.epochs": epochs, "train.checkpoint_every": 100}, seeds=[0, 1],
                      max_members=1)
    store = tmp_path / "store" / "runs.sqlite"
    with ray_cluster(cpus=2) as cluster:
        proc = sweep(cluster, spec, store, "--address", "auto")
        try:
            wait_for(lambda: any((store.parent / "runs").glob("*/resume.pt")), 180,
                     "a resume checkpoint to come home", proc)
            cluster.kill()
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 2, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "lost the Ray cluster" in errors[0] and "re-run" in errors[0], err[-3000:]
    assert "Traceback" not in err
    db = Store(store)
    left = runs_frame(db)
    assert set(left["status"]) <= {"running", "complete"} and (left["status"] == "running").any()
    assert db.metrics(left.loc[left["status"] == "running", "run_id"].tolist()).empty  # nothing partial

    with ray_cluster(cpus=2) as cluster:
        proc = sweep(cluster, spec, store, "--address", "auto")
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["done"] + report["skipped"] == 2 and report["failed"] == 0
    assert_every_run_complete_once(store, spec, epochs)
