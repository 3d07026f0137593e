"""What a Ray task runs on its node: train one ensemble in node-local scratch and stream everything home.

`stream_job` is a generator (a Ray streaming task) whose events reach the driver in order:

    ("epoch", n)           progress, at most every PROGRESS_INTERVAL_S
    ("files", FileBatch)   the scratch folder's new, changed and deleted files, at most every
                           SYNC_INTERVAL_S and once more after training (snapshots, resume
                           checkpoint, TensorBoard logs; see `groklab.sweep.artefacts`)
    ("result", JobResult)  last; its files arrived before it

Files are listed from inside the training loop's epoch callback, between epochs, so home never holds
a resume checkpoint newer than the snapshots before it. A lost worker therefore loses only the epochs
since the last batch: the retry starts from the resume checkpoint home holds (sent with the job).
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from groklab.sweep.artefacts import FolderMirror, fresh_folder, scratch_folder
from groklab.sweep.worker import Job, JobResult, run_job

SYNC_INTERVAL_S = 2.0  # how often a task sends its new files home while training


def stream_job(job: Job, seed: dict[str, bytes], gpu_ids: list[str]) -> Iterator[tuple]:
    """Train `job` in this node's scratch folder, seeded with `seed` (files from home), and yield events.

    gpu_ids: the GPUs Ray assigned to this task. With none and train.device=auto, CUDA is hidden so that
    the ensemble trains on the CPU it was scheduled on, even on a GPU node; with some, Ray has set
    CUDA_VISIBLE_DEVICES to them and `auto` picks CUDA.
    """
    if not gpu_ids and job.cfg.train.device == "auto":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    folder = scratch_folder(job.folder, Path(job.folder).name)
    fresh_folder(folder, seed)
    mirror = FolderMirror(folder, seed)
    events: queue.Queue = queue.Queue()
    last_sync = [time.monotonic()]

    def on_epoch(key: int, epoch: int) -> None:  # runs in the training thread, between epochs
        events.put(("epoch", epoch))
        if time.monotonic() - last_sync[0] >= SYNC_INTERVAL_S:
            last_sync[0] = time.monotonic()
            for batch in mirror.changes():
                events.put(("files", batch))

    def train() -> None:
        try:
            events.put(("result", run_job(replace(job, folder=str(folder)), on_epoch)))
        except BaseException:  # noqa: BLE001 - the generator must always get a result
            events.put(("result", JobResult(error=traceback.format_exc())))

    worker = dict(host=socket.gethostname(), pid=os.getpid(), device=_device(job), gpus=list(gpu_ids))
    thread = threading.Thread(target=train, name=f"groklab-ensemble-{job.key}", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = events.get()
            if kind != "result":
                yield kind, value
                continue
            thread.join()
            for batch in mirror.changes():  # what training left; also on failure (a retry resumes from it)
                yield "files", batch
            value.worker = worker
            # cleaned before the result leaves: the driver may finish (and the cluster stop) as soon as it has it
            shutil.rmtree(folder, ignore_errors=True)
            yield "result", value
            return
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _device(job: Job) -> str | None:
    """The device `train.device` resolves to in this task (None when it cannot: training reports why)."""
    from groklab.train.setup import resolve_device

    try:
        return resolve_device(job.cfg.train.device).type
    except Exception:  # noqa: BLE001
        return None
