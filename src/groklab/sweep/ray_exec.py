"""The Ray executor: each ensemble is one Ray task that streams progress, files and its result home.

`address=None` starts a private Ray on this machine (num_cpus = workers, dashboard off, loopback
only) and shuts it down afterwards. `address="auto"` joins the cluster `ray start` recorded on this
machine (RAY_ADDRESS first), `host:port` the one whose head listens there; a joined cluster is left
running. The driver must run on a node of the cluster (Ray's rule for drivers), with the store.

Joining:
- Token authentication (Ray's default for new clusters): the token is found where Ray looks for it —
  RAY_AUTH_TOKEN, the file named by RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token — and used whenever one
  is there (Ray itself does so only for `auto`). RAY_AUTH_MODE, when set, is respected.
- A loopback address (127.0.0.0/8, localhost, ::1) stays loopback: Ray would replace 127.0.0.1 by
  this machine's network address, where a cluster bound to loopback does not listen.

Tasks train in node-local scratch (`groklab.sweep.artefacts`); every file a task writes reaches the
store's folder before its result, and a task's result never lands before its files. A task that dies
(worker killed, node lost) comes back as an error, which the driver retries; a cluster that stops
answering altogether ends the sweep with one line, and the next sweep resumes it. `gpus_per_task`
(fractional allowed) is each task's GPU share. Ray is an optional extra: `pip install 'groklab[ray]'`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import time
from contextlib import contextmanager

from groklab.errors import GroklabError
from groklab.sweep.artefacts import apply_batch, home_seed
from groklab.sweep.worker import Job, JobResult

HEALTH_INTERVAL_S = 10.0  # with no news from any task for this long, check that the cluster still answers
PROBE_TIMEOUT_S = 3.0
TOKEN_HINT = ("groklab reads the token from RAY_AUTH_TOKEN, the file named by RAY_AUTH_TOKEN_PATH, or "
              "~/.ray/auth_token (`ray get-auth-token` prints it on the head node)")


def import_ray():
    try:
        import ray
    except ImportError:
        raise GroklabError("--executor ray needs Ray, which is not installed: pip install 'groklab[ray]'") from None
    return ray


def run_on_node(job: Job, seed: dict[str, bytes]):
    """The Ray task (a streaming generator): train `job` on whichever node Ray picked."""
    import ray

    from groklab.sweep.remote import stream_job

    yield from stream_job(job, seed, [str(g) for g in ray.get_gpu_ids()])


def check_gpus_per_task(gpus: float) -> None:
    if gpus < 0 or (gpus > 1 and not float(gpus).is_integer()):
        raise GroklabError(f"--gpus-per-task must be a fraction in [0, 1] or a whole number of GPUs, got {gpus:g}")


class RayExecutor:
    """Interface as `groklab.sweep.local.LocalExecutor` (slots, submit, wait, epochs, close)."""

    def __init__(self, workers: int | None = None, address: str | None = None, *, threads: int = 1,
                 gpus_per_task: float = 0.0):
        from groklab.sweep.plan import cpu_count

        check_gpus_per_task(gpus_per_task)
        ray = import_ray()
        self._ray = ray
        self._owns = False
        self._running: dict = {}  # streaming generator -> job
        self._epochs: dict[int, int] = {}
        # Usage statistics are opt-in here: a library should not phone home on the user's behalf.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            if address:
                join_cluster(ray, address)
            else:
                start_private(ray, max(1, workers or cpu_count()))
            self._owns = True
        try:
            self.gcs_address = ray.get_runtime_context().gcs_address
            resources = ray.cluster_resources()
            capacity = max(1, int(resources.get("CPU", 1) // max(1, threads)))
            if gpus_per_task > 0:
                if resources.get("GPU", 0) <= 0:
                    raise GroklabError(f"--gpus-per-task {gpus_per_task:g}, but the Ray cluster has no GPUs "
                                       "(`ray status` lists its resources)")
                capacity = min(capacity, max(1, int(resources["GPU"] / gpus_per_task + 1e-9)))
        except BaseException:
            self.close()
            raise
        self.slots = min(capacity, workers) if (address and workers) else capacity
        self.threads = threads
        self._task = ray.remote(num_cpus=threads, num_gpus=gpus_per_task, max_retries=0,
                                num_returns="streaming")(run_on_node)
        self._last_news = time.monotonic()
        self._lost: str | None = None

    def submit(self, job: Job) -> None:
        job.threads = job.threads or self.threads
        self._running[self._task.remote(job, home_seed(job.folder))] = job

    def wait(self, timeout: float) -> list[tuple[Job, JobResult]]:
        if self._lost:
            self.close(abort=True)
            raise GroklabError(self._lost)
        if not self._running:
            return []
        ray = self._ray
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        out = []
        for stream in ready:
            result = self._drain(stream, self._running[stream])
            if result is not None:
                out.append((self._running.pop(stream), result))
        if any(r.error for _, r in out) or time.monotonic() - self._last_news > HEALTH_INTERVAL_S:
            self._last_news = time.monotonic()
            if not reachable(self.gcs_address):
                # A dead cluster ends the sweep (at the next call) instead of failing every retry; what did
                # finish is still handed over, what failed with it is not: the next sweep redoes it.
                self._lost = (f"lost the Ray cluster at {self.gcs_address} (it no longer answers); the runs in "
                              "flight stay unfinished in the store: re-run the same command to resume them")
                out = [(job, r) for job, r in out if not r.error]
        return out

    def _drain(self, stream, job: Job) -> JobResult | None:
        """Handle every event `stream` has ready; its result once it has ended."""
        ray = self._ray
        while True:
            ready, _ = ray.wait([stream], num_returns=1, timeout=0)
            if not ready:
                return None
            try:
                kind, value = ray.get(next(stream))
            except StopIteration:
                return JobResult(error="the Ray task ended without a result")
            except ray.exceptions.RayError as err:  # worker killed, node lost, object lost
                return JobResult(error=f"{type(err).__name__}: {err}")
            self._last_news = time.monotonic()
            if kind == "epoch":
                self._epochs[job.key] = value
            elif kind == "files":
                try:
                    apply_batch(job.folder, value)
                except OSError as err:  # e.g. a full disk: this attempt fails, the sweep goes on
                    ray.cancel(stream, force=True)
                    return JobResult(error=f"could not write the task's files under {job.folder}: {err}")
            else:
                return value

    def epochs(self) -> dict[int, int]:
        out, self._epochs = self._epochs, {}
        return out

    def close(self, abort: bool = False) -> None:
        if abort:
            for stream in self._running:
                try:
                    self._ray.cancel(stream, force=True)
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass
        self._running.clear()
        if self._owns:
            self._owns = False
            self._ray.shutdown()


# -- starting and joining ------------------------------------------------------------------------

def start_private(ray, cpus: int) -> None:
    try:
        with _loopback("127.0.0.1"):
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError) as err:
        raise GroklabError(f"could not start a local Ray: {_first_line(err)}; "
                           "or run the sweep with --executor local") from None


def join_cluster(ray, address: str) -> None:
    if address.startswith("ray://"):
        raise GroklabError(f"--address {address}: Ray Client addresses are not supported; run groklab on a node "
                           "of the cluster and give --address auto or the head's host:port")
    target = resolve_address(address)
    host, port = split_address(target)
    if not reachable(target):
        raise GroklabError(f"no Ray cluster answers at {target}"
                           + (f" (--address {address})" if target != address else "")
                           + "; start one with `ray start --head`, or leave out --address for a private Ray")
    has_token = _use_token_if_available()
    try:
        with _loopback(host):
            ray.init(address=target, log_to_driver=False)
    except (ConnectionError, RuntimeError) as err:
        why = ("the cluster refused its token" if has_token else "no token was found") + f" ({TOKEN_HINT})"
        raise GroklabError(f"could not join the Ray cluster at {target}: {_first_line(err)}; if it uses token "
                           f"authentication (Ray's default), {why}") from None


def resolve_address(address: str) -> str:
    """'auto' -> the address of the cluster started on this machine (RAY_ADDRESS, else what `ray start`
    recorded in Ray's temp dir); host:port as given."""
    if address != "auto":
        return address
    try:
        from ray._private.services import get_ray_address_from_environment
    except ImportError:  # another Ray layout: let Ray resolve it
        return address
    try:
        return get_ray_address_from_environment("auto", None)
    except ConnectionError:
        raise GroklabError("--address auto found no running Ray cluster on this machine; start one with "
                           "`ray start --head`, or give its host:port") from None


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise GroklabError(f"bad Ray address {address!r}; give host:port (e.g. 127.0.0.1:6379) or auto")
    return host.strip("[]"), int(port)


def reachable(address: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether something accepts TCP connections at host:port (the cluster's GCS)."""
    try:
        with socket.create_connection(split_address(address), timeout=timeout):
            return True
    except OSError:
        return False


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@contextmanager
def _loopback(host: str):
    """For a loopback `host`, keep Ray on loopback while it connects: on Linux it would otherwise replace
    127.0.0.1 by this machine's network address (its multi-node mode, whose switch this turns off)."""
    try:
        import ray._private.ray_constants as constants
    except ImportError:
        constants = None
    if not is_loopback(host) or not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        yield
        return
    before, constants.ENABLE_RAY_CLUSTER = constants.ENABLE_RAY_CLUSTER, False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = before


def _use_token_if_available() -> bool:
    """Turn Ray's token authentication on when a token is available (and RAY_AUTH_MODE is unset);
    return whether a token is available. Rays without token authentication: False, nothing done."""
    try:
        from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available
        from ray._raylet import AuthenticationTokenLoader
    except ImportError:
        return False
    log = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = log.level
    log.setLevel(logging.ERROR)  # not Ray's "token authentication is enabled" banner on every sweep
    try:
        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    finally:
        log.setLevel(level)
    return bool(AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
