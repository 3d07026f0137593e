"""Boundary search: the training fraction at which half of the seeds grok, found by probing, not gridding.

Each probe trains N seeds at one training fraction as one ensemble through `train` (so its runs are
stored, and a re-run of the same search reuses them), with `train.stop=grok` by default: a seed that
groks stops at once, and only seeds that do not grok run to the budget (a seed that has not grokked
by then counts as not grokking: the boundary is that of the budget). The search does not use the
prediction: it bisects, in log p, a fixed bracket (default 0.02–0.9) until hi/lo ≤ 1 + resolution;
with `start_from_prediction` it starts at the predicted p* (`groklab.li2.critical_ratio`) and gallops
away from it instead. `groklab.li2.boundary` decides each step and estimates the crossing of a
logistic grok-rate curve fitted to every probe, with a bootstrap CI over seeds.

The defaults are Li2 Fig. 5's setting: x², class-centred MSE, K = 2048, full-batch Adam lr 5e-4,
weight decay 2e-4, a 3000-epoch budget evaluated every 10 epochs; any of it can be overridden.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.li2.boundary import BRACKET, RESOLUTION, boundary_estimate, run_search, search_limits
from groklab.train.cells import train_cells
from groklab.tasks.splits import CRITICAL_RATIO_C

FIG5 = ["task.op=compose", "model.kind=two_layer", "model.width=2048", "model.activation=sqr", "loss.kind=mse",
        "optim.kind=adam", "optim.lr=5e-4", "optim.weight_decay=2e-4", "train.epochs=3000", "train.eval_every=10",
        "train.checkpoint_every=500", "train.stop=grok"]
SEARCH_OWNS = ("task.group", "task.train_fraction", "task.train_size", "task.critical_ratio", "train.seeds")
MAX_PROBES = 16


@dataclass
class Probe:
    fraction: float
    train_pairs: int
    grokked: list[bool]
    grok_epochs: list[int | None]
    test_acc: list[float]  # each member's last test accuracy (at its grok when it stopped there)
    member_epochs: int  # epochs trained, summed over members (what the probe cost)
    run_ids: list[str]
    reused: bool  # every run was already in the store

    @property
    def rate(self) -> float:
        return float(np.mean(self.grokked))


@dataclass
class BoundaryResult:
    group: str
    order: int
    d_max: int
    predicted: float  # the reference's p* = corr·c·ln M/M (the start only with start_from_prediction)
    seeds: int
    resolution: float  # the requested relative width of the final bracket
    limits: tuple[float, float]  # the fixed bracket the search bisects
    started_at: str  # "fixed bracket" or "prediction"
    status: str  # found | all grok | none grok | probe limit
    estimate: float
    ci: tuple[float, float]  # bootstrap over seeds only
    bracket: tuple[float | None, float | None]  # the final bracket: its width is the resolution reached
    bracket_resolution: float  # hi/lo − 1 of the final bracket, reported beside the CI
    probes: list[Probe] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)  # bootstrap replicates of the estimate
    seconds: float = 0.0

    @property
    def member_epochs(self) -> int:
        return sum(p.member_epochs for p in self.probes)

    @property
    def message(self) -> str:
        if self.status == "found":
            return (f"half of the seeds grok at p = {self.estimate:.4f} (95% CI over seeds {self.ci[0]:.4f}–{self.ci[1]:.4f}; "
                    f"final bracket {self.bracket[0]:.4f}–{self.bracket[1]:.4f}, resolution {self.bracket_resolution:.3f}); "
                    f"the reference's p* = {self.predicted:.4f}")
        if self.status == "all grok":
            return (f"not bracketed: at least half of the seeds grok at every probe, down to p = {min(self.fractions):.4f}; "
                    "the boundary lies lower (runs kept)")
        if self.status == "none grok":
            return (f"not bracketed: fewer than half of the seeds grok at every probe, up to p = {max(self.fractions):.4f}; "
                    "raise train.epochs or the bracket (runs kept)")
        return f"stopped after {len(self.probes)} probes with bracket {self.bracket} (runs kept)"

    @property
    def fractions(self) -> list[float]:
        return [p.fraction for p in self.probes]

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("samples")
        out.update(member_epochs=self.member_epochs, message=self.message, probes=[asdict(p) | {"rate": p.rate}
                                                                                  for p in self.probes])
        return out


def search_boundary(group_name: str, overrides: Sequence[str] = (), *, seeds: int = 8, resolution: float = RESOLUTION,
                    bracket: tuple[float, float] = BRACKET, start_from_prediction: bool = False,
                    store_path: str | None = None, c: float = CRITICAL_RATIO_C, max_probes: int = MAX_PROBES,
                    progress: bool = False, echo: Callable[[str], None] | None = None) -> BoundaryResult:
    """Find the half-grok training fraction of `group_name` (see the module docstring)."""
    from groklab.groups import get_group, irreps
    from groklab.li2.theory import critical_ratio

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise GroklabError(f"--seeds must be at least 2 (the CI is a bootstrap over seeds), got {seeds!r}")
    if max_probes < 2:
        raise GroklabError(f"max_probes must be at least 2, got {max_probes}")
    for assignment in overrides:
        key = assignment.partition("=")[0].strip()
        if key in SEARCH_OWNS:
            raise GroklabError(f"{key} is set by the boundary search; leave it out (use GROUP and --seeds)")
    group = get_group(group_name)
    limits = search_limits(group.order, resolution, bracket)
    d_max = int(irreps(group).degrees.max())
    try:
        predicted = critical_ratio(group.order, c=c, d_max=d_max)
    except GroklabError:
        predicted = float("nan")  # the formula leaves (0, 1) for tiny groups
    start = None
    if start_from_prediction:
        start = predicted if 0 < predicted < 1 else limits.highest
    base = [*FIG5, *overrides, f"task.group={group.name}", f"train.seeds=[{','.join(map(str, range(seeds)))}]"]
    store_path = store_path or load_config(None, base).store.path
    load_config(None, [*base, f"task.train_fraction={limits.highest}"])  # every key checked before any run
    if echo is not None:
        where = f"at the prediction p* = {predicted:.4f}" if start is not None else \
            f"from the fixed bracket {limits.lowest:g}–{limits.highest:g}"
        echo(f"boundary search on {group.name}: {seeds} seeds per probe, resolution {resolution:g}, starting {where}")

    t0, probes = time.perf_counter(), []

    def probe(fraction: float) -> list[bool]:
        probes.append(_probe(base, fraction, store_path, progress, echo))
        return probes[-1].grokked

    fractions, outcomes, status = run_search(probe, limits, start, max_probes)
    est = boundary_estimate(fractions, outcomes)
    return BoundaryResult(group.name, group.order, d_max, predicted, seeds, float(resolution),
                          (limits.lowest, limits.highest), "prediction" if start is not None else "fixed bracket",
                          status, est["estimate"], est["ci"], est["bracket"], est["resolution"], probes,
                          [float(v) for v in est["samples"]], time.perf_counter() - t0)


def _probe(base: list[str], fraction: float, store_path: str, progress: bool, echo) -> Probe:
    (cell,) = train_cells(base, [(f"p={fraction}", [f"task.train_fraction={fraction}"])], store_path,
                          progress=progress, echo=None)
    results = cell.results
    reused = all(r.get("skipped") for r in results)
    from groklab.tasks.build import build_task, split_for

    pairs = len(split_for(cell.cfg.task, build_task(cell.cfg.task), cell.cfg.member_seeds()[0]).train)
    probe = Probe(fraction=fraction, train_pairs=pairs, grokked=[not r["censored"] for r in results],
                  grok_epochs=[r["grok_epoch"] for r in results],
                  test_acc=[float("nan") if r["final_test_acc"] is None else float(r["final_test_acc"]) for r in results],
                  member_epochs=int(sum(r.get("stopped_epoch", r.get("epochs", 0)) or 0 for r in results)),
                  run_ids=[r["run_id"] for r in results], reused=reused)
    if echo is not None:
        echo(f"  p = {fraction:.4f} ({pairs} pairs): {sum(probe.grokked)}/{len(results)} seeds grok"
             + (" (stored)" if reused else f", {probe.member_epochs} member-epochs"))
    return probe
