"""From a spec to work: expand the grid into runs, group runs that share shapes, pack them into ensembles.

Members of one ensemble may differ only in seed, optim.lr and optim.weight_decay (the member axis of
the training engine); everything else must be equal. Ensembles are sized by a memory budget (bytes
per member estimated from shapes) and split further while there are fewer ensembles than workers,
so no worker idles. Packing is done over *all* runs of the spec and completed runs are dropped
afterwards: an interrupted ensemble keeps its composition, hence its id and its resume checkpoint.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from groklab.config import VIEWER_KEYS, RunConfig
from groklab.config_schema import MAX_MEMBERS
from groklab.sweep.memory import default_budget, format_bytes
from groklab.sweep.spec import SweepSpec
from groklab.train.loop import ensemble_id_of, plan_members, run_id_of
from groklab.train.preflight import preflight


@dataclass
class PlannedRun:
    run_id: str
    cfg: RunConfig  # single member: one seed, scalar lr and weight decay
    point: dict  # the grid values that made it (and its seed)
    complete: bool = False


@dataclass
class PlannedEnsemble:
    index: int
    runs: list[PlannedRun]
    member_bytes: int

    @property
    def pending(self) -> list[PlannedRun]:
        return [r for r in self.runs if not r.complete]

    def config(self) -> RunConfig:
        """The ensemble config of the pending members (what a worker trains)."""
        return ensemble_config([r.cfg for r in self.pending])

    @property
    def ensemble_id(self) -> str:
        return ensemble_id_of([r.run_id for r in self.pending])


@dataclass
class Plan:
    spec: SweepSpec
    sweep_id: str
    store_path: str
    device: str
    workers: int
    memory_budget: int
    max_members: int | None
    runs: list[PlannedRun]
    ensembles: list[PlannedEnsemble] = field(default_factory=list)

    @property
    def pending_ensembles(self) -> list[PlannedEnsemble]:
        return [e for e in self.ensembles if e.pending]

    @property
    def num_complete(self) -> int:
        return sum(r.complete for r in self.runs)

    def to_dict(self) -> dict:
        return dict(
            sweep_id=self.sweep_id, name=self.spec.name, store=self.store_path, device=self.device,
            workers=self.workers, memory_budget_bytes=self.memory_budget, max_members=self.max_members,
            runs=len(self.runs), complete=self.num_complete, to_run=len(self.runs) - self.num_complete,
            ensembles=[dict(index=e.index, members=len(e.runs), pending=len(e.pending),
                            ensemble_id=e.ensemble_id if e.pending else None,
                            estimated_bytes=e.member_bytes * len(e.pending or e.runs),
                            member_bytes=e.member_bytes,
                            runs=[dict(run_id=r.run_id, complete=r.complete, **r.point) for r in e.runs])
                       for e in self.ensembles])

    def describe(self) -> str:
        """The plan as text (what `groklab sweep --dry-run` prints)."""
        todo = len(self.runs) - self.num_complete
        lines = [
            f"sweep {self.sweep_id} ({self.spec.name}); store {self.store_path}",
            f"runs: {len(self.runs)} ({self.num_complete} complete, {todo} to run); "
            f"ensembles: {len(self.ensembles)} ({len(self.pending_ensembles)} to run)",
            f"device {self.device}, {self.workers} worker(s), memory budget {format_bytes(self.memory_budget)} per ensemble"
            + (f", at most {self.max_members} members" if self.max_members else ""),
        ]
        for e in self.ensembles:
            size = len(e.pending or e.runs)
            state = "complete" if not e.pending else f"{len(e.pending)} to run"
            lines.append(f"ensemble {e.index}: {len(e.runs)} members, est. {format_bytes(e.member_bytes * size)} "
                         f"({format_bytes(e.member_bytes)} per member), {state}")
            for r in e.runs:
                values = " ".join(f"{k}={_short(v)}" for k, v in r.point.items())
                lines.append(f"    {r.run_id[:8]}  {values}" + ("  [complete]" if r.complete else ""))
        return "\n".join(lines)


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


# -- building the plan ---------------------------------------------------------------------------

def expand(spec: SweepSpec, store_path: str | None = None) -> list[PlannedRun]:
    """Every run of the spec, in grid order, duplicates (same run id) dropped."""
    runs, seen = [], set()
    for point, cfg in spec.run_configs(store_path):
        run_id = run_id_of(cfg)
        if run_id not in seen:
            seen.add(run_id)
            runs.append(PlannedRun(run_id, cfg, point))
    return runs


def shape_key(cfg: RunConfig) -> str:
    """Runs with equal keys may share an ensemble: everything but seed, lr and weight decay is equal.

    Bernoulli splits draw a different train size per seed, and members must share sizes, so under
    them the seed is part of the key.
    """
    exclude = {"store": True, "name": True, "train": {"seeds", *VIEWER_KEYS}, "optim": {"lr", "weight_decay"}}
    data = cfg.model_dump(mode="json", exclude=exclude)
    if cfg.task.split == "bernoulli":
        data["seed"] = cfg.train.seeds[0]
    return json.dumps(data, sort_keys=True)


def ensemble_config(members: list[RunConfig]) -> RunConfig:
    """One ensemble config whose members are exactly `members` (which must share a shape key)."""
    cfg = members[0].model_copy(deep=True)
    if len(members) > 1:
        cfg.train.seeds = [m.train.seeds[0] for m in members]
        cfg.optim.lr = [m.optim.lr for m in members]
        cfg.optim.weight_decay = [m.optim.weight_decay for m in members]
    _, run_ids, _ = plan_members(cfg)
    expected = [run_id_of(m) for m in members]
    if run_ids != expected:  # a packing bug would silently store results under the wrong runs
        raise RuntimeError(f"ensemble members do not reproduce their run ids: {run_ids} != {expected}")
    return cfg


def resolve_workers(workers: int | None, device: str) -> int:
    """Default: one worker per CPU core (per GPU on CUDA). 0 means: train in the driver process."""
    if workers is not None:
        if workers < 0:
            from groklab.errors import GroklabError

            raise GroklabError(f"--workers must be >= 0 (0 trains in the driver process), got {workers}")
        return workers
    if device == "cuda":
        import torch

        return max(1, torch.cuda.device_count())
    return cpu_count()


def cpu_count() -> int:
    """CPU cores this process may use (respects affinity masks and container CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def make_plan(spec: SweepSpec, *, workers: int | None = None, memory_budget: int | None = None,
              max_members: int | None = None, store_path: str | Path | None = None,
              completed: set[str] | frozenset = frozenset()) -> Plan:
    """Expand, group by shape, pack by memory and workers, and mark the `completed` runs."""
    from groklab.train.setup import resolve_device

    base = RunConfig.model_validate(spec.base_config)
    device = resolve_device(base.train.device).type
    store_path = str(store_path if store_path is not None else base.store.path)
    runs = expand(spec, store_path)
    workers = resolve_workers(workers, device)
    max_members = max_members if max_members is not None else spec.max_members
    budget = memory_budget or spec.memory_budget or default_budget(device, max(1, workers))
    for r in runs:
        r.complete = r.run_id in completed

    groups: dict[str, list[PlannedRun]] = {}
    for r in runs:
        groups.setdefault(shape_key(r.cfg), []).append(r)
    # every shape group is checked as `groklab train` checks a run (device, task, memory per member, constructors)
    sizes = {key: preflight(group[0].cfg).member_bytes for key, group in groups.items()}
    counts = _ensemble_counts({k: len(g) for k, g in groups.items()}, sizes, budget, max_members, max(1, workers))

    ensembles = []
    for key, group in groups.items():
        for chunk in _split(group, counts[key]):
            ensembles.append(PlannedEnsemble(len(ensembles), chunk, sizes[key]))
    return Plan(spec, spec.sweep_id(), store_path, device, workers, budget, max_members, runs, ensembles)


def _ensemble_counts(group_sizes: dict[str, int], member_size: dict[str, int], budget: int,
                     max_members: int | None, workers: int) -> dict[str, int]:
    """How many ensembles each shape group becomes.

    First as few as the budget (and max_members) allow; then, while there are fewer ensembles than
    workers, split the group with the largest ensembles once more.
    """
    counts = {}
    for key, n in group_sizes.items():
        per = min(max(1, budget // max(1, member_size[key])), MAX_MEMBERS)
        if max_members:
            per = min(per, max_members)
        counts[key] = math.ceil(n / per)
    while sum(counts.values()) < workers:
        splittable = [k for k in counts if counts[k] < group_sizes[k]]
        if not splittable:
            break
        widest = max(splittable, key=lambda k: group_sizes[k] / counts[k])
        counts[widest] += 1
    return counts


def _split(items: list, parts: int) -> list[list]:
    """`parts` consecutive chunks whose sizes differ by at most one."""
    q, r = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + q + (1 if i < r else 0)
        out.append(items[start:end])
        start = end
    return [c for c in out if c]
