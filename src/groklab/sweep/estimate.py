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

from groklab.sweep.plan import Plan

WARMUP_EPOCHS = 1


@dataclass
class Estimate:
    seconds_upper: float  # wall seconds with every run trained to its budget
    member_epochs: int  # what the pending runs' budgets add up to
    probed: int  # ensembles timed
    pending: int  # ensembles to run
    workers: int

    def describe(self) -> str:
        return (f"estimated time: at most {_clock(self.seconds_upper)} with {self.workers} worker(s) "
                f"({self.member_epochs:,} member-epochs if every run trains to its budget; runs that stop at their "
                f"grok finish sooner; {self.probed} of {self.pending} pending ensembles timed on this machine)")

    def to_dict(self) -> dict:
        return dict(seconds_upper=round(self.seconds_upper, 1), member_epochs=self.member_epochs,
                    probed=self.probed, pending=self.pending, workers=self.workers)


def estimate_plan(plan: Plan, *, probe_epochs: int = 2, max_probes: int = 3) -> Estimate:
    from groklab.train.loop import train

    pending = plan.pending_ensembles
    workers = max(1, plan.workers)
    if not pending:
        return Estimate(0.0, 0, 0, 0, workers)
    step = max(1, -(-len(pending) // max_probes))
    probed = pending[::step]
    per_member_epoch = []
    with tempfile.TemporaryDirectory() as tmp:
        for ensemble in probed:
            cfg = ensemble.config()
            cfg.store.path = f"{tmp}/probe.sqlite"
            cfg.train.progress = False
            cfg.train.stop = "never"
            cfg.train.checkpoint_every = 10**6
            cfg.train.epochs = WARMUP_EPOCHS
            train(cfg, force=True)
            cfg.train.epochs = WARMUP_EPOCHS + probe_epochs
            start = time.perf_counter()
            train(cfg, force=True)
            seconds = (time.perf_counter() - start) / (cfg.train.epochs + 1)
            per_member_epoch.append(seconds / len(ensemble.pending))
    rate = sum(per_member_epoch) / len(per_member_epoch)
    times = [rate * len(e.pending) * (e.config().train.epochs + 1) for e in pending]
    member_epochs = sum(len(e.pending) * e.config().train.epochs for e in pending)
    finish = [0.0] * workers  # longest first onto the least loaded worker
    for t in sorted(times, reverse=True):
        heapq.heappush(finish, heapq.heappop(finish) + t)
    return Estimate(max(finish), member_epochs, len(probed), len(pending), workers)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"
