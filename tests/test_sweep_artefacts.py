"""What a remote worker brings home: mirrored files, streamed progress, resume from home; Ray addresses.

These run without Ray: `stream_job` is the generator a Ray task runs, called here directly.
"""

import os

import numpy as np
import pytest
import torch
import yaml

from groklab.sweep import load_spec, make_plan
from groklab.sweep.artefacts import SCRATCH_ENV, FileBatch, FolderMirror, apply_batch, home_seed, scratch_folder
from groklab.sweep.remote import stream_job
from groklab.sweep.worker import Job
from groklab.train import checkpoint as ckpt
from groklab.train.loop import run_ensemble

TINY = {"task.group": "Z7", "model.width": 24, "task.train_fraction": 0.5, "train.epochs": 60,
        "train.dtype": "float64", "train.progress": False, "train.checkpoint_dense_until": 3,
        "train.checkpoint_every": 20}


@pytest.fixture(autouse=True)
def one_thread_and_cuda_env_restored(monkeypatch):
    """One torch thread; and CUDA_VISIBLE_DEVICES put back afterwards (a task without a GPU share sets it)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_mirror_sends_new_changed_and_deleted_files_in_bounded_batches(tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    (work / "snapshots").mkdir(parents=True)
    (work / "snapshots" / "epoch_000000.pt").write_bytes(b"a" * 60)
    (work / "snapshots" / "epoch_000001.pt").write_bytes(b"b" * 60)
    (work / "resume.pt").write_bytes(b"r" * 10)
    (work / "resume.pt.tmp").write_bytes(b"half-written")
    mirror = FolderMirror(work)
    batches = mirror.changes(max_bytes=100)
    assert [[rel for rel, _ in b.files] for b in batches] == [["snapshots/epoch_000000.pt"],
                                                               ["snapshots/epoch_000001.pt", "resume.pt"]]
    for batch in batches:
        apply_batch(home, batch)
    assert (home / "snapshots" / "epoch_000001.pt").read_bytes() == b"b" * 60 and not (home / "resume.pt.tmp").exists()
    assert mirror.changes() == []  # nothing new
    (work / "resume.pt").unlink()
    (work / "snapshots" / "epoch_000002.pt").write_bytes(b"c")
    (batch,) = mirror.changes()
    assert [rel for rel, _ in batch.files] == ["snapshots/epoch_000002.pt"] and batch.deleted == ["resume.pt"]
    apply_batch(home, batch)
    assert not (home / "resume.pt").exists() and (home / "snapshots" / "epoch_000002.pt").exists()
    with pytest.raises(ValueError, match="refusing"):
        apply_batch(home, FileBatch(files=[("../outside.pt", b"x")]))
    assert not (tmp_path / "outside.pt").exists()


def _job(tmp_path, spec_parts: dict) -> Job:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": TINY, **spec_parts}))
    store = tmp_path / "home" / "runs.sqlite"
    (ensemble,) = make_plan(load_spec(path), workers=1, store_path=store).ensembles
    return Job(ensemble.index, ensemble.config(), str(store.parent / "runs" / ensemble.ensemble_id),
               [r.run_id for r in ensemble.runs], threads=1)


def _run_home(job: Job, seed: dict) -> list[tuple]:
    """Consume a task's events as the driver does: files written home, everything else returned."""
    events = []
    for kind, value in stream_job(job, seed, gpu_ids=[]):
        if kind == "files":
            apply_batch(job.folder, value)
        events.append((kind, value))
    return events


def test_a_task_trains_in_scratch_and_brings_progress_and_every_file_home(tmp_path, monkeypatch):
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "scratch"))
    job = _job(tmp_path, {"seeds": [0, 1]})
    events = _run_home(job, seed={})
    kind, result = events[-1]
    assert kind == "result" and result.error is None and result.outcome.run_ids == job.run_ids
    # scheduled without a GPU share: CUDA hidden, so train.device=auto trains on the CPU even on a GPU node
    assert result.worker["device"] == "cpu" and result.worker["gpus"] == [] and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    epochs = [v for k, v in events if k == "epoch"]
    assert epochs and epochs == sorted(epochs) and epochs[0] == 0  # progress, in order, before the result
    # home holds what a local run's folder holds: every snapshot of the schedule, no resume checkpoint
    local = tmp_path / "local"
    run_ensemble(job.cfg, local, progress=False)
    assert [e for e, _ in ckpt.list_snapshots(job.folder)] == [e for e, _ in ckpt.list_snapshots(local)] == [0, 1, 2, 20, 40, 60]
    for (_, mine), (_, theirs) in zip(ckpt.list_snapshots(job.folder), ckpt.list_snapshots(local)):
        a, b = ckpt.load_snapshot(mine), ckpt.load_snapshot(theirs)
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert home_seed(job.folder) == {}
    assert not scratch_folder(job.folder, job.folder.rsplit("/", 1)[-1]).exists()  # the node's scratch is cleaned


def test_a_retried_task_resumes_from_the_checkpoint_home_holds(tmp_path, monkeypatch):
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "scratch"))
    job = _job(tmp_path, {"seeds": [3]})

    class Lost(Exception):
        pass

    def die_at_45(epoch):
        if epoch == 45:
            raise Lost  # as if the worker died: the last resume checkpoint (after epoch 39) stays behind

    with pytest.raises(Lost):
        run_ensemble(job.cfg, tmp_path / "dead-node", progress=False, on_epoch=die_at_45)
    (tmp_path / "home" / "runs").mkdir(parents=True)
    (tmp_path / "dead-node").rename(job.folder)  # what the first attempt had sent home
    seed = home_seed(job.folder)
    assert list(seed) == ["resume.pt", "resume.prev.pt"]  # the newest and the one before, to fall back to

    events = _run_home(job, seed)
    epochs = [v for k, v in events if k == "epoch"]
    assert epochs[0] == 40  # continued from home's checkpoint, not from epoch 0
    (_, result) = events[-1]
    assert result.error is None and not (tmp_path / "home" / "runs" / job.folder.rsplit("/", 1)[-1] / "resume.pt").exists()
    fresh = run_ensemble(job.cfg, tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(np.stack(result.outcome.history.train_loss), np.stack(fresh.history.train_loss))
