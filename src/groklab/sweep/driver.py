"""The sweep driver: plan, hand ensembles to an executor, and write every result to the store itself.

Only the driver writes the database, each run's results in one transaction (`record_outcome`), so a
driver killed at any instant leaves every run either complete with all its rows, or 'running'/absent
with none — and the next sweep redoes exactly those (from their resume checkpoints when the ensemble
is unchanged). A failing ensemble is retried (`retries` times, default 1); then its runs are
recorded as failed with the error and the sweep goes on. An executor whose workers run elsewhere
(Ray) writes their files into the store's folder before it hands over their results.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from groklab import interrupts
from groklab.config import RunConfig
from groklab.errors import GroklabError
from groklab.store import Store
from groklab.sweep.plan import Plan, make_plan
from groklab.train.progress import LogLines
from groklab.sweep.spec import SweepSpec, load_spec
from groklab.sweep.worker import Job, JobResult
from groklab.train.checkpoint import runs_folder
from groklab.train.loop import record_outcome, record_start

EXECUTORS = ("local", "ray")
DEFAULT_RETRIES = 1
PROGRESS_LINE_S = 60.0  # seconds between progress lines when no bar is shown
POLL_S = 0.25


@dataclass
class SweepReport:
    sweep_id: str
    name: str
    store: str
    planned: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    wall_seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)  # run_id, ensemble, attempts, error (last line)
    runs: list[dict] = field(default_factory=list)  # run_id, status, grid point, summary

    def to_dict(self) -> dict:
        return dict(sweep_id=self.sweep_id, name=self.name, store=self.store, planned=self.planned, done=self.done,
                    skipped=self.skipped, failed=self.failed, diverged=self.diverged,
                    wall_seconds=round(self.wall_seconds, 3), failures=self.failures, runs=self.runs)

    @property
    def diverged(self) -> int:
        """Runs stored complete whose member ran away (groklab.train.divergence)."""
        return sum(bool((r.get("summary") or {}).get("diverged")) for r in self.runs if r.get("status") == "complete")

    def summary_line(self) -> str:
        diverged = f"; {self.diverged} complete run(s) diverged" if self.diverged else ""
        return (f"sweep {self.sweep_id} ({self.name}): {self.planned} runs: {self.done} done, {self.skipped} skipped "
                f"(already complete), {self.failed} failed in {_duration(self.wall_seconds)}{diverged}; "
                f"store {self.store}")


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{seconds:.1f}s"


def _as_spec(spec: SweepSpec | str | Path) -> SweepSpec:
    return spec if isinstance(spec, SweepSpec) else load_spec(spec)


def _store_path(spec: SweepSpec, store_path: str | Path | None) -> str:
    return str(store_path) if store_path is not None else RunConfig.model_validate(spec.base_config).store.path


def plan_sweep(spec: SweepSpec | str | Path, *, workers: int | None = None, memory_budget: int | None = None,
               max_members: int | None = None, store_path: str | Path | None = None) -> Plan:
    """The plan, with runs already complete in the store marked (reads the store only if it exists)."""
    spec = _as_spec(spec)
    path = _store_path(spec, store_path)
    plan = make_plan(spec, workers=workers, memory_budget=memory_budget, max_members=max_members, store_path=path)
    if Path(path).is_file():
        store = Store(path, readonly=True)
        try:
            done = store.completed(r.run_id for r in plan.runs)
        finally:
            store.close()
        for r in plan.runs:
            r.complete = r.run_id in done
    return plan


def check_executor(executor: str) -> None:
    if executor not in EXECUTORS:
        raise GroklabError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")


def check_gpus(executor: str, gpus_per_task: float | None) -> None:
    if gpus_per_task is None:
        return
    if executor != "ray":
        raise GroklabError("--gpus-per-task is each Ray task's share of a GPU; use it with --executor ray")
    from groklab.sweep.ray_exec import check_gpus_per_task

    check_gpus_per_task(gpus_per_task)


def make_executor(executor: str, plan: Plan, *, address: str | None = None, gpus_per_task: float | None = None,
                  workers: int | None = None):
    """workers: as asked for; on a Ray cluster None means as many tasks at once as the cluster allows.
    gpus_per_task (Ray): None gives each task a whole GPU when this machine trains on CUDA, else none."""
    check_executor(executor)
    check_gpus(executor, gpus_per_task)
    if executor == "ray":
        from groklab.sweep.ray_exec import RayExecutor

        if gpus_per_task is None:
            gpus_per_task = 1.0 if plan.device == "cuda" else 0.0
        return RayExecutor(workers if address else (plan.workers or None), address, gpus_per_task=gpus_per_task)
    if plan.workers == 0:
        from groklab.sweep.local import InProcessExecutor

        return InProcessExecutor()
    from groklab.sweep.local import LocalExecutor

    return LocalExecutor(plan.workers)


def run_sweep(spec: SweepSpec | str | Path, *, executor: str = "local", workers: int | None = None,
              address: str | None = None, retries: int | None = None, memory_budget: int | None = None,
              max_members: int | None = None, store_path: str | Path | None = None, progress: bool | None = None,
              gpus_per_task: float | None = None, echo: Callable[[str], None] | None = None) -> SweepReport:
    """Run every run of `spec` not yet complete in the store; return what happened.

    executor: "local" (`workers` processes, default one per core; 0 trains in this process) or "ray"
    (`address` None starts a local Ray with `workers` CPUs; "auto" or host:port joins a running cluster;
    `gpus_per_task`, fractional allowed, is each ensemble's GPU share there).
    progress: None shows the bar only when stderr is a terminal.
    """
    check_executor(executor)
    check_gpus(executor, gpus_per_task)
    spec = _as_spec(spec)
    if retries is None:
        retries = spec.retries if spec.retries is not None else DEFAULT_RETRIES
    if retries < 0:
        raise GroklabError(f"retries must be >= 0, got {retries}")
    # Everything that can fail on user input happens before the store is opened: nothing is written.
    plan = make_plan(spec, workers=workers, memory_budget=memory_budget, max_members=max_members,
                     store_path=_store_path(spec, store_path))
    pool = make_executor(executor, plan, address=address, gpus_per_task=gpus_per_task, workers=workers)
    if executor == "ray" and address and workers is None and pool.slots != plan.workers:
        # Packed for this machine's cores so far; pack for the tasks the cluster runs at once instead (the
        # per-ensemble memory budget stays what one worker of this machine gets).
        try:
            plan = make_plan(spec, workers=pool.slots, memory_budget=plan.memory_budget, max_members=max_members,
                             store_path=plan.store_path)
        except BaseException:
            pool.close(abort=True)
            raise
    store = Store(plan.store_path)
    try:
        return _drive(plan, pool, store, retries, progress, echo)
    finally:
        store.close()


def _drive(plan: Plan, pool, store: Store, retries: int, progress: bool | None, echo) -> SweepReport:
    start = time.perf_counter()
    run_ids = [r.run_id for r in plan.runs]
    store.record_sweep(plan.sweep_id, plan.spec.to_dict())
    store.link_sweep_runs(plan.sweep_id, run_ids)
    done_before = store.completed(run_ids)
    for r in plan.runs:
        r.complete = r.run_id in done_before
    report = SweepReport(plan.sweep_id, plan.spec.name, plan.store_path, len(plan.runs), skipped=len(done_before))

    queue = deque(_job(plan, e) for e in plan.pending_ensembles)
    to_run = sum(len(j.run_ids) for j in queue)
    bar = _bar(plan, to_run, progress)
    say = echo or (lambda msg: (bar.write(msg, file=sys.stderr) if bar is not None else print(msg, file=sys.stderr)))
    # off a terminal (a log file, a notebook's captured stderr, --json) the bar is hidden: a line a minute instead
    lines = (LogLines(f"sweep {plan.spec.name}", to_run, every=PROGRESS_LINE_S, unit="runs")
             if progress is not False and to_run and (bar is None or bar.disable) else None)
    attempts: dict[int, int] = {}
    running: dict[int, Job] = {}
    fraction: dict[int, float] = {}  # job key -> share of its epochs done (for the bar)
    finished = 0.0
    try:
        while queue or running:
            while queue and len(running) < pool.slots:
                job = queue.popleft()
                record_start(store, job.cfg, sweep_id=plan.sweep_id)
                pool.submit(job)
                running[job.key] = job
            for job, result in pool.wait(POLL_S):
                running.pop(job.key, None)
                fraction.pop(job.key, None)
                error = result.error or _mismatch(job, result)
                if error is None:
                    record_outcome(store, result.outcome)
                    report.done += len(job.run_ids)
                    finished += len(job.run_ids)
                    continue
                attempts[job.key] = attempts.get(job.key, 0) + 1
                last_line = _last_line(error)
                if attempts[job.key] <= retries:
                    say(f"ensemble {job.key} ({len(job.run_ids)} runs) failed, attempt {attempts[job.key]} of "
                        f"{retries + 1}: {last_line}; retrying")
                    queue.append(job)
                    continue
                _record_failure(store, job, attempts[job.key], error)
                say(f"ensemble {job.key} ({len(job.run_ids)} runs) failed {attempts[job.key]} times: {last_line}; "
                    "recorded its runs as failed")
                report.failed += len(job.run_ids)
                report.failures += [dict(run_id=r, ensemble=job.key, attempts=attempts[job.key], error=last_line)
                                    for r in job.run_ids]
                finished += len(job.run_ids)
            for key, epoch in pool.epochs().items():
                if key in running:
                    fraction[key] = min(1.0, (epoch + 1) / running[key].epochs)
            value = finished + sum(len(running[k].run_ids) * f for k, f in fraction.items() if k in running)
            if bar is not None:
                bar.update(max(0.0, value - bar.n))
                bar.set_postfix_str(f"done {report.done}, failed {report.failed}", refresh=False)
            if lines is not None:
                lines.set_postfix(done=report.done, failed=report.failed)
                lines.update(value - lines.n)
    except BaseException as err:
        pool.close(abort=True)
        if bar is not None:
            bar.close()
        stopped = isinstance(err, interrupts.STOPS)
        _end_jobs(store, running.values(), "interrupted" if stopped else "failed",
                  None if stopped else f"{type(err).__name__}: {err}")
        if stopped:
            raise interrupts.Interrupted.of(err, f"with {report.done} of {to_run} runs done") from None
        raise
    pool.close()
    if bar is not None:
        bar.close()
    report.wall_seconds = time.perf_counter() - start
    report.runs = _run_rows(store, plan)
    return report


def _end_jobs(store: Store, jobs, status: str, error: str | None) -> None:
    """Runs of jobs cut short are marked `status`, never left `running` (best effort: the store may be why)."""
    import sqlite3

    for job in jobs:
        try:
            store.end_runs(job.run_ids, status, error)
        except (GroklabError, sqlite3.Error, OSError):
            pass


def _job(plan: Plan, ensemble) -> Job:
    folder = runs_folder(Path(plan.store_path).parent, ensemble.ensemble_id)
    return Job(ensemble.index, ensemble.config(), str(folder), [r.run_id for r in ensemble.pending])


def _mismatch(job: Job, result: JobResult) -> str | None:
    if result.outcome is None:
        return "worker returned no outcome"
    if list(result.outcome.run_ids) != list(job.run_ids):
        return f"worker returned runs {result.outcome.run_ids}, expected {job.run_ids}"
    return None


def _last_line(error: str) -> str:
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def _record_failure(store: Store, job: Job, attempts: int, error: str) -> None:
    text = f"failed after {attempts} attempt(s): {_last_line(error)}\n{error}"
    for run_id in job.run_ids:
        store.fail_run(run_id, text)


def _run_rows(store: Store, plan: Plan) -> list[dict]:
    ids = [r.run_id for r in plan.runs]
    df = store.runs("run_id IN (SELECT run_id FROM sweep_runs WHERE sweep_id = ?)", (plan.sweep_id,))
    by_id = {row.run_id: row for row in df.itertuples(index=False)}
    rows = []
    for r, run_id in zip(plan.runs, ids):
        row = by_id.get(run_id)
        rows.append(dict(run_id=run_id, status=row.status if row is not None else "missing", **r.point,
                         summary=row.summary if row is not None else {},
                         error=_last_line(row.error) if row is not None and isinstance(row.error, str) else None))
    return rows


def _bar(plan: Plan, total: int, progress: bool | None):
    if progress is False or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"sweep {plan.spec.name}", unit="run", file=sys.stderr, dynamic_ncols=True,
                disable=None if progress is None else not progress,  # None: only on a terminal
                bar_format="{l_bar}{bar}| {n:.1f}/{total} runs [{elapsed}<{remaining}{postfix}]")
