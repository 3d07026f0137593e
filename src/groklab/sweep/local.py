"""The local executors: N worker processes (spawn), or the driver process itself (workers=0).

An executor runs jobs and reports them back; it knows nothing about the store or retries (the
driver does both). Its interface, shared with the Ray executor:

    slots              how many jobs may run at once (the driver submits no more)
    submit(job)        start a job
    wait(timeout)      [(job, JobResult)] of jobs finished since the last call (may be empty)
    epochs()           {job key: latest epoch} progress reported since the last call
    close(abort)       stop; with abort, jobs still running are killed (their runs stay 'running' in
                       the store and are redone, from their resume checkpoints, by the next sweep)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool

from groklab.sweep.worker import Job, JobResult, init_process, run_job, run_job_in_process


class InProcessExecutor:
    """Runs each job in the driver process, one at a time (workers=0): for debugging and tests."""

    slots = 1

    def __init__(self):
        self._queue: list[Job] = []
        self._epochs: dict[int, int] = {}

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self, timeout: float) -> list[tuple[Job, JobResult]]:
        if not self._queue:
            return []
        job = self._queue.pop(0)
        return [(job, run_job(job, self._on_epoch))]

    def _on_epoch(self, key: int, epoch: int) -> None:
        self._epochs[key] = epoch

    def epochs(self) -> dict[int, int]:
        out, self._epochs = self._epochs, {}
        return out

    def close(self, abort: bool = False) -> None:
        self._queue.clear()


def worker_threads(workers: int) -> int:
    """Torch threads per worker: OMP_NUM_THREADS when set, else the cores split evenly (at least one).

    One thread per worker is the throughput choice for many small ensembles; more threads help only
    big ones, and on a busy machine oversubscribed OpenMP barriers make them much slower (measured
    here: a Z7 ensemble 14x slower with 2 threads than with 1 while other jobs ran).
    """
    from groklab.sweep.plan import cpu_count

    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, cpu_count() // max(1, workers))


class LocalExecutor:
    """`workers` spawned processes; torch threads split evenly among them (see `worker_threads`).

    Spawn, not fork: a forked child inherits the parent's torch thread pools and locks, which is
    undefined behaviour; spawn costs an interpreter start per worker, paid once per sweep.
    """

    def __init__(self, workers: int, threads: int | None = None):
        self.slots = max(1, workers)
        self.threads = threads or worker_threads(self.slots)
        self._ctx = mp.get_context("spawn")
        self._progress = self._ctx.Queue()
        self._pool: ProcessPoolExecutor | None = None
        self._running: dict[Future, Job] = {}

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.slots, mp_context=self._ctx, initializer=init_process,
                                             initargs=(self._progress, self.threads, os.getpid()))
        return self._pool

    def submit(self, job: Job) -> None:
        job.threads = job.threads or self.threads
        try:
            future = self._ensure_pool().submit(run_job_in_process, job)
        except BrokenProcessPool:
            self._reset_pool()
            future = self._ensure_pool().submit(run_job_in_process, job)
        self._running[future] = job

    def wait(self, timeout: float) -> list[tuple[Job, JobResult]]:
        if not self._running:
            return []
        done, _ = wait_futures(list(self._running), timeout=timeout, return_when=FIRST_COMPLETED)
        out, broken = [], False
        for future in done:
            job = self._running.pop(future)
            try:
                out.append((job, future.result()))
            except BrokenProcessPool as err:
                # A worker died (killed, out of memory, crashed): every job in flight fails this attempt.
                broken = True
                out.append((job, JobResult(error=f"worker process died: {err}")))
            except Exception as err:  # noqa: BLE001 - e.g. a result that could not be unpickled
                out.append((job, JobResult(error=f"{type(err).__name__}: {err}")))
        if broken:
            self._reset_pool()
        return out

    def _reset_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def epochs(self) -> dict[int, int]:
        out: dict[int, int] = {}
        while True:
            try:
                key, epoch = self._progress.get_nowait()
            except (queue_module.Empty, OSError, ValueError):
                return out
            out[key] = epoch

    def close(self, abort: bool = False) -> None:
        if self._pool is not None:
            if abort and self._running:
                # concurrent.futures cannot cancel a running call; stop its processes instead
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=not abort, cancel_futures=True)
            self._pool = None
        self._running.clear()
        self._progress.close()
        self._progress.join_thread()
