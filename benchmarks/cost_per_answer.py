"""Cost per answer: what early stopping and boundary search save, measured in one run.

    python benchmarks/cost_per_answer.py [--json] [--quick]

(a) An 8-seed Z23 ensemble (K = 512, train fraction 0.6, full-batch Adam lr 5e-3, weight decay 1e-3,
    1500-epoch budget) trained to its budget (`train.stop=never`) and to each member's confirmed grok
    (`train.stop=sustained`): wall time, member-epochs, and that every grok epoch is the same.
(b) The boundary search of `groklab li2 boundary` / `li2-scaling` full (bisection of the fixed bracket
    0.02–0.9 in log p to resolution 0.1, 8 seeds, 3000-epoch budget, members stop at their grok)
    against a grid of equal resolution over the same bracket (fractions 1.1× apart: 41 cells), for each
    group of the full design. No training: the synthetic trainer (`groklab.li2.boundary_sim`) answers
    each probe, with the crossing at the reference's p* (width 0.05 in ln p); a seed that does not grok
    costs the budget, one that groks `--grok-share` of it, in the search and in the grid alike.
Member-epochs (epochs trained, summed over members) are the machine-independent cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np

from groklab.config import load_config
from groklab.groups import get_group, irreps
from groklab.li2 import critical_ratio
from groklab.li2.boundary import run_search, search_limits
from groklab.li2.boundary_sim import SyntheticProbe
from groklab.reproduce.li2_scaling_search import FULL, FULL_GROUPS
from groklab.train.loop import train

ENSEMBLE = ["task.group=Z23", "model.width=512", "task.train_fraction=0.6", "optim.lr=5e-3", "optim.weight_decay=1e-3",
            "train.epochs=1500", "train.eval_every=1", "train.progress=false", "train.checkpoint_dense_until=0",
            "train.checkpoint_every=100000"]
GRID_RATIO = 1.1  # neighbouring grid cells' fractions differ by this factor: the search's resolution


def early_stopping(store_dir: str, seeds: int, epochs: int) -> dict:
    out = {}
    for rule in ("never", "sustained"):
        cfg = load_config(None, [*ENSEMBLE, f"train.epochs={epochs}", f"train.seeds=[{','.join(map(str, range(seeds)))}]",
                                 f"train.stop={rule}", f"store.path={store_dir}/{rule}.sqlite"])
        start = time.perf_counter()
        results = train(cfg, force=True)
        out[rule] = {"seconds": round(time.perf_counter() - start, 2),
                     "member_epochs": int(sum(r["stopped_epoch"] for r in results)),
                     "grok_epochs": [r["grok_epoch"] for r in results],
                     "sustained_grok_epochs": [r["sustained_grok_epoch"] for r in results],
                     "stopped_epochs": [r["stopped_epoch"] for r in results]}
    out["speedup_wall"] = round(out["never"]["seconds"] / out["sustained"]["seconds"], 2)
    out["speedup_member_epochs"] = round(out["never"]["member_epochs"] / out["sustained"]["member_epochs"], 2)
    out["same_grok_epochs"] = (out["never"]["grok_epochs"] == out["sustained"]["grok_epochs"]
                               and out["never"]["sustained_grok_epochs"] == out["sustained"]["sustained_grok_epochs"])
    return out


def search_against_grid(group: str, reps: int, grok_share: float, seed: int = 0) -> dict:
    """Mean member-epochs of the search and of the equal-resolution grid on one group (synthetic outcomes)."""
    g = get_group(group)
    truth = critical_ratio(g.order, d_max=int(irreps(g).degrees.max()))
    lo, hi = FULL["bracket"]
    limits = search_limits(g.order, FULL["resolution"], FULL["bracket"])
    cells = np.geomspace(lo, hi, int(np.ceil(np.log(hi / lo) / np.log(GRID_RATIO))) + 1)
    rng = np.random.default_rng(seed)
    search_cost, grid_cost, probes = [], [], []
    for _ in range(reps):
        sim = SyntheticProbe(truth, 0.05, FULL["seeds"], rng, budget=FULL["budget"], grok_share=grok_share)
        fractions, _, _ = run_search(sim, limits)
        search_cost.append(sim.member_epochs)
        probes.append(len(fractions))
        cell = SyntheticProbe(truth, 0.05, FULL["seeds"], rng, budget=FULL["budget"], grok_share=grok_share)
        for f in cells:
            cell(f)
        grid_cost.append(cell.member_epochs)
    return {"search_member_epochs": round(float(np.mean(search_cost))), "search_probes": round(float(np.mean(probes)), 2),
            "grid_member_epochs": round(float(np.mean(grid_cost))), "grid_cells": int(cells.size),
            "grid_resolution": round(float(cells[1] / cells[0] - 1), 4),
            "ratio": round(float(np.mean(grid_cost) / np.mean(search_cost)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="(a) with 4 seeds and 600 epochs; (b) with 20 replications")
    parser.add_argument("--only-search", action="store_true", help="(b) only (no training)")
    parser.add_argument("--grok-share", type=float, default=0.7, help="(b): grok epoch of a grokking member / budget")
    args = parser.parse_args()
    out: dict = {}
    if not args.only_search:
        with tempfile.TemporaryDirectory() as tmp:
            out["early_stopping"] = early_stopping(tmp, 4 if args.quick else 8, 600 if args.quick else 1500)
    names = sorted((n for ns in FULL_GROUPS.values() for n in ns), key=lambda n: get_group(n).order)
    out["search_against_grid"] = {n: search_against_grid(n, 20 if args.quick else 200, args.grok_share) for n in names}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    if "early_stopping" in out:
        e = out["early_stopping"]
        print(f"(a) Z23 ensemble to confirmed grok: stop=never {e['never']['seconds']} s ({e['never']['member_epochs']} "
              f"member-epochs), stop=sustained {e['sustained']['seconds']} s ({e['sustained']['member_epochs']}): "
              f"{e['speedup_wall']}x wall, {e['speedup_member_epochs']}x member-epochs; same grok epochs: {e['same_grok_epochs']}")
    for name, r in out["search_against_grid"].items():
        print(f"(b) {name:>8}: search {r['search_member_epochs']} member-epochs ({r['search_probes']} probes), "
              f"grid {r['grid_member_epochs']} ({r['grid_cells']} cells, resolution {r['grid_resolution']}): {r['ratio']}x")


if __name__ == "__main__":
    sys.exit(main())
