"""Cost per answer: what early stopping and boundary search save, measured in one run.

    python benchmarks/cost_per_answer.py [--json] [--quick]

(a) An 8-seed Z23 ensemble (K = 512, train fraction 0.6, full-batch Adam lr 5e-3, weight decay 1e-3,
    1500-epoch budget) trained to its budget (`train.stop=never`) and to each member's confirmed grok
    (`train.stop=sustained`): wall time, member-epochs, and that every grok epoch is the same.
(b) The Z23 and Z41 boundaries (where half of the seeds grok) found by `groklab li2 boundary` against
    the quick grid of `groklab reproduce li2-scaling --quick` (fractions {0.5, 0.75, 1, 1.25, 1.5, 2}·p*,
    2 seeds, K = 128, Adam lr 5e-3, weight decay 1e-3, 300 epochs, no stopping). Precision is the width
    of the bracket that holds the crossing: for the grid, the two cells around it; for the search, its
    final bracket. The search runs twice: at the grid's precision, and at tolerance 0.02.
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
from groklab.li2 import critical_ratio
from groklab.li2.boundary import bracket, bracket_width
from groklab.train.cells import train_cells
from groklab.sweep.boundary import search_boundary
from groklab.train.loop import train

ENSEMBLE = ["task.group=Z23", "model.width=512", "task.train_fraction=0.6", "optim.lr=5e-3", "optim.weight_decay=1e-3",
            "train.epochs=1500", "train.eval_every=1", "train.progress=false", "train.checkpoint_dense_until=0",
            "train.checkpoint_every=100000"]
QUICK_GRID = dict(multiples=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0), seeds=2,
                  base=["model.width=128", "optim.lr=5e-3", "optim.weight_decay=1e-3", "train.epochs=300",
                        "train.eval_every=10", "task.op=compose", "model.activation=sqr", "loss.kind=mse",
                        "optim.kind=adam"])


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


def grid(group: str, store_dir: str) -> dict:
    """The quick li2-scaling grid for one group: cost, and the bracket around where half of the seeds grok."""
    p_star = critical_ratio(int(group[1:]))
    seeds = f"train.seeds=[{','.join(map(str, range(QUICK_GRID['seeds'])))}]"
    cells = [(f"p={round(m * p_star, 4)}", [f"task.group={group}", f"task.train_fraction={round(m * p_star, 4)}"])
             for m in QUICK_GRID["multiples"]]
    start = time.perf_counter()
    trained = train_cells([*QUICK_GRID["base"], seeds], cells, f"{store_dir}/grid.sqlite", progress=False)
    seconds = time.perf_counter() - start
    fractions = [c.cfg.task.train_fraction for c in trained]
    rates = [float(np.mean([not r["censored"] for r in c.results])) for c in trained]
    lo, hi = bracket(fractions, rates)
    return {"seconds": round(seconds, 2), "member_epochs": int(sum(r["stopped_epoch"] for c in trained for r in c.results)),
            "bracket": [lo, hi], "precision": None if lo is None or hi is None else bracket_width(lo, hi),
            "rates": dict(zip(map(str, fractions), rates))}


def search(group: str, store_dir: str, tol: float, tag: str) -> dict:
    start = time.perf_counter()
    result = search_boundary(group, QUICK_GRID["base"][:5], seeds=QUICK_GRID["seeds"], tol=tol,
                             store_path=f"{store_dir}/search-{tag}.sqlite")
    lo, hi = result.bracket
    return {"seconds": round(time.perf_counter() - start, 2), "member_epochs": result.member_epochs,
            "probes": len(result.probes), "bracket": [lo, hi], "status": result.status,
            "precision": None if lo is None or hi is None else bracket_width(lo, hi),
            "estimate": round(result.estimate, 4), "ci": [round(v, 4) for v in result.ci]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="(a) with 4 seeds and 600 epochs; (b) on Z23 only")
    args = parser.parse_args()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out["early_stopping"] = early_stopping(tmp, 4 if args.quick else 8, 600 if args.quick else 1500)
        out["boundaries"] = {}
        for group in (["Z23"] if args.quick else ["Z23", "Z41"]):
            g = grid(group, tmp)
            row = {"grid": g, "search_at_grid_precision": search(group, tmp, g["precision"] or 0.1, "coarse"),
                   "search_tol_0.02": search(group, tmp, 0.02, "fine")}
            for key in ("search_at_grid_precision", "search_tol_0.02"):
                row[key]["member_epoch_ratio"] = round(g["member_epochs"] / row[key]["member_epochs"], 2)
            out["boundaries"][group] = row
    if args.json:
        print(json.dumps(out, indent=2))
        return
    e = out["early_stopping"]
    print(f"(a) Z23 ensemble to confirmed grok: stop=never {e['never']['seconds']} s ({e['never']['member_epochs']} member-epochs), "
          f"stop=sustained {e['sustained']['seconds']} s ({e['sustained']['member_epochs']}): {e['speedup_wall']}x wall, "
          f"{e['speedup_member_epochs']}x member-epochs; same grok epochs: {e['same_grok_epochs']}")
    for group, row in out["boundaries"].items():
        g = row["grid"]
        print(f"(b) {group}: quick grid {g['member_epochs']} member-epochs, {g['seconds']} s, bracket {g['bracket']} "
              f"(precision {g['precision']})")
        for key in ("search_at_grid_precision", "search_tol_0.02"):
            s = row[key]
            print(f"    {key}: {s['member_epochs']} member-epochs ({s['member_epoch_ratio']}x fewer), {s['seconds']} s, "
                  f"{s['probes']} probes, bracket {s['bracket']} (precision {s['precision']}), estimate {s['estimate']} CI {s['ci']}")


if __name__ == "__main__":
    sys.exit(main())
