"""Project how long a reproduction's full (or quick) mode takes on this machine, without running it.

    python benchmarks/reproduce_runtime.py li2-lr li2-ridge [--quick] [--probe-epochs 5] [--max-cells 12]

Every training reproduction trains all of its ensembles ("cells") through one call of
`groklab.train.cells.train_cells`. This script runs the reproduction with that call replaced by a
probe: for each cell it trains the cell's own config (same group, width, members, optimiser and eval
cadence) for a 2-epoch warm-up and then `--probe-epochs` epochs into a throw-away store, and projects
seconds/epoch × the cell's epochs. Then the reproduction is stopped, before any analysis. With more
than `--max-cells` cells, an evenly spaced subset is probed and the total scaled by the cell count.
The projection leaves out analysis and plotting (seconds) and assumes epoch time stays flat over a
run (on CPU it does once memory stops growing; see BENCHMARKS.md, Li2 training step).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from groklab.config import load_config
from groklab.train import cells as training_cells
from groklab.reproduce import Context, load
from groklab.train.loop import train


class _Planned(Exception):
    """Raised by the probe to stop the reproduction once every cell is timed."""


def probe_cells(base, cells, store_dir: str, probe_epochs: int, max_cells: int) -> dict:
    step = max(1, -(-len(cells) // max_cells))
    probed = list(cells)[::step]
    seconds, epochs_total, member_epochs = 0.0, 0, 0
    for label, overrides in probed:
        def config(epochs: int | None):
            extra = [] if epochs is None else [f"train.epochs={epochs}", "train.checkpoint_every=100000"]
            return load_config(None, [*training_cells.QUIET, *base, *overrides, f"store.path={store_dir}/probe.sqlite", *extra])
        full = config(None)
        with training_cells._threads_for(full):
            train(config(2), force=True)
            start = time.perf_counter()
            train(config(probe_epochs), force=True)
            per_epoch = (time.perf_counter() - start) / (probe_epochs + 1)
        seconds += per_epoch * (full.train.epochs + 1)
        epochs_total += full.train.epochs
        member_epochs += full.train.epochs * full.num_members
        print(f"    {label}: {full.task.group}, K={full.model.width}, {full.num_members} members, "
              f"{full.train.epochs} epochs x {1000 * per_epoch:.1f} ms = {per_epoch * full.train.epochs / 60:.1f} min",
              flush=True)
    scale = len(cells) / len(probed)
    return dict(cells=len(cells), probed=len(probed), seconds=seconds * scale,
                member_epochs=int(member_epochs * scale))


def project(name: str, quick: bool, probe_epochs: int, max_cells: int) -> dict:
    module = load(name)
    if not hasattr(module, "train_cells"):
        raise SystemExit(f"{name} does not train through train_cells; time it directly with `groklab reproduce {name}`")
    plan: dict = {}
    original = module.train_cells
    with tempfile.TemporaryDirectory() as tmp:
        def probe(base, cells, store_path, progress=True, echo=None):
            plan.update(probe_cells(base, cells, tmp, probe_epochs, max_cells))
            raise _Planned

        module.train_cells = probe
        ctx = Context(name, quick, Path(tmp) / "out", f"{tmp}/store.sqlite", progress=False, echo=lambda _: None)
        try:
            module.run(ctx)
        except _Planned:
            pass
        finally:
            module.train_cells = original
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--probe-epochs", type=int, default=5)
    parser.add_argument("--max-cells", type=int, default=12)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mode {'quick' if args.quick else 'full'}")
    for name in args.names:
        print(f"{name}:", flush=True)
        plan = project(name, args.quick, args.probe_epochs, args.max_cells)
        hours = plan["seconds"] / 3600
        print(f"  projected {hours:.2f} h ({plan['seconds'] / 60:.1f} min) for {plan['cells']} cells "
              f"({plan['probed']} probed), {plan['member_epochs']:,} member-epochs", flush=True)


if __name__ == "__main__":
    sys.exit(main())
