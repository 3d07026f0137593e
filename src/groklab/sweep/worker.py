"""What runs inside a worker (a local process, a Ray task, or the driver itself): train one ensemble.

A worker never touches the database: it trains with `run_ensemble` (which writes only checkpoint
files under the ensemble's folder) and hands the `EnsembleOutcome` back to the driver, which stores
it. Errors come back as text (a formatted traceback), so that any exception, picklable or not,
reaches the driver and its retry logic.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from groklab.config import RunConfig
from groklab.runtime import set_torch_threads
from groklab.train.loop import EnsembleOutcome, run_ensemble

PROGRESS_INTERVAL_S = 0.5  # how often a worker reports its epoch (the driver's bar needs no more)


@dataclass
class Job:
    key: int  # the planned ensemble's index
    cfg: RunConfig  # the ensemble config of its pending members
    folder: str  # checkpoint folder (<store dir>/runs/<ensemble id>)
    run_ids: list[str]
    threads: int | None = None  # torch intra-op threads in the worker (None: leave as is)

    @property
    def epochs(self) -> int:
        return self.cfg.train.epochs + 1


@dataclass
class JobResult:
    outcome: EnsembleOutcome | None = None
    error: str | None = None  # formatted traceback when the attempt failed
    worker: dict | None = None  # where a Ray task ran: host, pid, device, gpus


def run_job(job: Job, on_epoch: Callable[[int, int], None] | None = None) -> JobResult:
    """Train `job` and return its outcome, or the error text; never raises (but for interrupts)."""
    try:
        set_torch_threads(job.threads)
        report = None
        if on_epoch is not None:
            last = [0.0]

            def report(epoch: int) -> None:
                now = time.monotonic()
                if now - last[0] >= PROGRESS_INTERVAL_S:
                    last[0] = now
                    on_epoch(job.key, epoch)

        outcome = run_ensemble(job.cfg, Path(job.folder), progress=False, on_epoch=report)  # hooks from job.cfg
        return JobResult(outcome=outcome)
    except Exception:  # noqa: BLE001 - every failure goes back to the driver, which retries or records it
        return JobResult(error=traceback.format_exc())


# -- process workers -----------------------------------------------------------------------------

_QUEUE = None  # per worker process: where epoch progress goes (set by `init_process`)


def init_process(progress_queue, threads: int | None, parent_pid: int) -> None:
    """Initializer of a local worker process: threads, progress queue, and die with the driver.

    A worker orphaned by a killed driver would keep training and writing the same checkpoint folder
    as the re-run sweep; so on Linux the kernel kills it with its parent (PR_SET_PDEATHSIG), and
    everywhere a watchdog thread exits when the parent is gone.
    """
    import signal

    global _QUEUE
    _QUEUE = progress_queue
    set_torch_threads(threads)
    # Ctrl-C reaches the whole process group: the driver alone decides (it stops the workers and marks their
    # runs interrupted), so a worker does not die on its own with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)


def run_job_in_process(job: Job) -> JobResult:
    """`run_job` for a pool worker: progress goes to the queue set by `init_process`."""
    queue = _QUEUE
    report = None if queue is None else (lambda key, epoch: queue.put((key, epoch)))
    return run_job(job, report)
