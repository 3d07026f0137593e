"""How long a sweep plan will take on this machine, measured before it runs.

A few of the plan's pending ensembles (evenly spaced, at most `max_probes`) are trained for a short warm-up
and then `probe_epochs` timed epochs into a throw-away store, each exactly as a worker would train it (same
members, shapes, optimizer and evaluation cadence). Seconds per epoch × the ensemble's budget gives its time
to the budget; ensembles not probed take the mean of the probed ones per member-epoch. The plan's ensembles
are then dealt to the workers longest first. Runs that stop early (`train.stop`) finish sooner, so the result
is an upper bound, reported with the budget's member-epochs.
"""

from __future__ import annotations

import heapq
import tempfile
import time
from dataclasses import dataclass

from groklab.config import RunConfig
from groklab.sweep.plan import Plan
from groklab.train.progress import duration

WARMUP_EPOCHS = 1


@dataclass
class Estimate:
    seconds_upper: float  # wall seconds with every run trained to its budget
    member_epochs: int  # what the pending runs' budgets add up to
    probed: int  # ensembles timed
    pending: int  # ensembles to run
    workers: int

    def describe(self) -> str:
        return (f"estimated time: at most {duration(self.seconds_upper)} with {self.workers} worker(s) "
                f"({self.member_epochs:,} member-epochs if every run trains to its budget; runs that stop at their "
                f"grok finish sooner; {self.probed} of {self.pending} pending ensembles timed on this machine)")

    def to_dict(self) -> dict:
        return dict(seconds_upper=round(self.seconds_upper, 1), member_epochs=self.member_epochs,
                    probed=self.probed, pending=self.pending, workers=self.workers)


def time_config(cfg: RunConfig, store_dir: str, probe_epochs: int):
    """(seconds per epoch, results) of `cfg` trained as it would be, for a warm-up and then `probe_epochs` timed
    epochs into a store under `store_dir`, never stopping early."""
    from groklab.train.loop import train

    def short(epochs: int) -> RunConfig:
        out = cfg.model_copy(deep=True)
        out.train.epochs, out.train.stop, out.train.progress = epochs, "never", False
        out.train.checkpoint_every = 10**6
        out.store.path = f"{store_dir}/probe.sqlite"
        return out

    train(short(WARMUP_EPOCHS), force=True)
    start = time.perf_counter()
    results = train(short(WARMUP_EPOCHS + probe_epochs), force=True)
    return (time.perf_counter() - start) / (WARMUP_EPOCHS + probe_epochs + 1), results


def estimate_plan(plan: Plan, *, probe_epochs: int = 2, max_probes: int = 3) -> Estimate:
    pending = plan.pending_ensembles
    workers = max(1, plan.workers)
    if not pending:
        return Estimate(0.0, 0, 0, 0, workers)
    step = max(1, -(-len(pending) // max_probes))
    probed = pending[::step]
    per_member_epoch = []
    with tempfile.TemporaryDirectory() as tmp:
        for ensemble in probed:
            seconds, _ = time_config(ensemble.config(), tmp, probe_epochs)
            per_member_epoch.append(seconds / len(ensemble.pending))
    rate = sum(per_member_epoch) / len(per_member_epoch)
    times = [rate * len(e.pending) * (e.config().train.epochs + 1) for e in pending]
    member_epochs = sum(len(e.pending) * e.config().train.epochs for e in pending)
    finish = [0.0] * workers  # longest first onto the least loaded worker
    for t in sorted(times, reverse=True):
        heapq.heappush(finish, heapq.heappop(finish) + t)
    return Estimate(max(finish), member_epochs, len(probed), len(pending), workers)
