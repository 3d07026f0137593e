"""Training a reproduction's grid as one sweep, shared by the Muon reproductions: the workers to use (on
CUDA several processes share the device), the sweep itself with a failed run as one line, a projection of its
run time, and the check that a store holds no runs of another design.
"""

from __future__ import annotations

from typing import Callable

from groklab.errors import GroklabError
from groklab.reproduce import Context
from groklab.runtime import torch_threads
from groklab.store import Store
from groklab.sweep.spec import SweepSpec

# On CUDA one process's small kernels leave the device idle between launches, so several processes share it;
# measured on an H200, they fill those gaps but not the idle multiprocessors (docs/gpu.md, Measured).
GPU_WORKERS = 12


def train_sweep(ctx: Context, spec: SweepSpec, *, quick: bool, workers: int | None) -> None:
    """Train a grid's missing runs as one sweep (quick: in this process, one thread); a failed run is one line."""
    from groklab.sweep.driver import run_sweep

    workers = (0 if quick else default_workers()) if workers is None else workers
    with torch_threads(1 if quick else None):
        report = run_sweep(spec, workers=workers, store_path=ctx.store_path, progress=ctx.progress, echo=ctx.echo)
    if report.failed:
        raise GroklabError(f"{report.failed} run(s) failed: {report.failures[0]['error']}; re-run the same command "
                           "to retry them (completed runs are kept)")


def check_store_design(store: Store, prefix: str, run_id_of: Callable[[dict, int], str | None], design: str) -> None:
    """Refuse a store that holds this reproduction's runs of another design (another mode, budget or modulus):
    pooling them would mix designs, and training beside them would leave the store's meaning unclear."""
    stored = store.runs("substr(name, 1, ?) = ?", (len(prefix), prefix))
    for row in stored.itertuples():
        if run_id_of(row.config, int(row.seed)) != row.run_id:
            cfg = row.config
            raise GroklabError(
                f"store {store.path} holds {prefix.rstrip('-')} runs of another design (run {row.run_id[:12]}: "
                f"p = {cfg.get('task', {}).get('modulus')}, {cfg.get('train', {}).get('epochs')} epochs, "
                f"width {cfg.get('model', {}).get('width')}) than this one ({design}); analyse them with the mode "
                "that made them, or give another --store")


def estimate_sweep(spec: SweepSpec, ctx: Context, *, quick: bool) -> dict:
    from groklab.sweep.driver import plan_sweep
    from groklab.sweep.estimate import estimate_plan

    workers = (0 if quick else default_workers()) if ctx.workers is None else ctx.workers
    plan = plan_sweep(spec, workers=workers, store_path=ctx.store_path)
    with torch_threads(1 if quick else None):
        guess = estimate_plan(plan)
    done = plan.num_complete
    return {**guess.to_dict(), "runs": len(plan.runs), "complete": done,
            "text": f"{spec.name}: {len(plan.runs)} runs, {done} already complete in the store; {guess.describe()}"}


def default_workers(device: str | None = None, cores: int | None = None) -> int | None:
    """Grid workers when --workers is not given: on CUDA `GPU_WORKERS` processes on the one device (the local
    executor puts every worker on cuda:0), at most the cores less two (the driver and the launch threads need
    some); elsewhere None, the sweep's default (one per core)."""
    from groklab.sweep.plan import cpu_count
    from groklab.train.setup import resolve_device

    device = device or resolve_device("auto").type
    if device != "cuda":
        return None
    cores = cores if cores is not None else cpu_count()
    return max(1, min(GPU_WORKERS, cores - 2))
