"""The Ray executor: each ensemble is one Ray task; results come back through Ray's object store.

`address=None` starts a private local Ray (num_cpus = workers, dashboard off, bound to 127.0.0.1)
and shuts it down afterwards; `address="auto"` (or host:port) joins a running cluster, which is left
running. Workers write checkpoints under the store's folder *on their node*; the driver alone writes
the database. Ray is an optional extra: `pip install 'groklab[ray]'`.
"""

from __future__ import annotations

import os

from groklab.errors import GroklabError
from groklab.sweep.worker import Job, JobResult, run_job


def import_ray():
    try:
        import ray
    except ImportError:
        raise GroklabError("--executor ray needs Ray, which is not installed: pip install 'groklab[ray]'") from None
    return ray


class RayExecutor:
    """Interface as `groklab.sweep.local.LocalExecutor` (slots, submit, wait, epochs, close)."""

    def __init__(self, workers: int | None = None, address: str | None = None, *, threads: int = 1,
                 gpus_per_task: float = 0.0):
        from groklab.sweep.plan import cpu_count

        ray = import_ray()
        self._ray = ray
        self._owns = False
        # Usage statistics are opt-in here: a library should not phone home on the user's behalf.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(num_cpus=max(1, workers or cpu_count()), include_dashboard=False,
                             dashboard_host="127.0.0.1", log_to_driver=False)
            except (ConnectionError, RuntimeError) as err:
                where = f"at {address!r}" if address else "locally"
                raise GroklabError(f"could not start or join Ray {where}: {str(err).splitlines()[0]}; "
                                   "start a cluster with `ray start --head`, or leave out --address") from None
            self._owns = True
        cpus = float(ray.cluster_resources().get("CPU", 1))
        capacity = max(1, int(cpus // max(1, threads)))
        self.slots = min(capacity, workers) if (address and workers) else capacity
        self.threads = threads
        self._task = ray.remote(num_cpus=threads, num_gpus=gpus_per_task, max_retries=0)(run_job)
        self._running: dict = {}  # object ref -> job

    def submit(self, job: Job) -> None:
        job.threads = job.threads or self.threads
        self._running[self._task.remote(job)] = job

    def wait(self, timeout: float) -> list[tuple[Job, JobResult]]:
        if not self._running:
            return []
        refs = list(self._running)
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        out = []
        for ref in ready:
            job = self._running.pop(ref)
            try:
                out.append((job, self._ray.get(ref)))
            except self._ray.exceptions.RayError as err:  # worker crash, lost node, unpicklable result
                out.append((job, JobResult(error=f"{type(err).__name__}: {err}")))
        return out

    def epochs(self) -> dict[int, int]:
        return {}  # Ray tasks report on completion only; the bar advances per ensemble

    def close(self, abort: bool = False) -> None:
        if abort:
            for ref in self._running:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass
        self._running.clear()
        if self._owns:
            self._ray.shutdown()
