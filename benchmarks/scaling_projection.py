"""Project the runtime of `groklab reproduce li2-scaling` (full: the 9-group design of
`groklab.reproduce.li2_scaling_search`) on this machine, before running it.

    OMP_NUM_THREADS=1 python benchmarks/scaling_projection.py [--reps 200] [--json]

Runtime = Σ over probes of (member-epochs of the probe) × (seconds per member-epoch at its group and
fraction). Both factors:

- Member-epochs: the search's own code (`groklab.li2.boundary.run_search`) driven by the synthetic
  trainer (`groklab.li2.boundary_sim`), `--reps` times per group, with the crossing placed at the
  reference's p* and a width of 0.05 in ln p. This is an assumption for the projection only: a search
  bisecting the fixed bracket probes about as often wherever the crossing is. A seed that does not grok
  trains the whole budget; one that groks stops at its grok, assumed at `--grok-share` of the budget
  (an upper bound is also given: every member to the budget). The budget check adds the smallest- and
  largest-M groups at twice the budget; if the budget binds, every group is searched again at 2× (given
  as a second total).
- Seconds per member-epoch: measured here, per group, on an ensemble of the design's seeds in the full
  setting (K = 2048, evaluation every 10 epochs) at two training fractions (0.1 and 0.6), timed over
  `--epochs` epochs (the loop's own clock of a (2 + epochs)-epoch run less a 2-epoch run's, the
  smaller of two tries), interpolated linearly in the fraction between them and held flat outside
  (an overestimate below 0.1).
"""

from __future__ import annotations

import argparse
import json
import os
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
from groklab.sweep.boundary import FIG5
from groklab.train.loop import train

TIMED_FRACTIONS = (0.1, 0.6)


def seconds_per_member_epoch(group: str, fraction: float, seeds: int, store: str, epochs: int, repeats: int = 2) -> float:
    """The training loop's own clock (`wall_seconds`, setup excluded) of a (2 + epochs)-epoch run less that of
    a 2-epoch run, per epoch and member; the smallest of `repeats` tries (load from other work only adds)."""
    def run(n: int) -> float:
        cfg = load_config(None, [*FIG5, *FULL["base"], f"task.group={group}", f"task.train_fraction={fraction}",
                                 f"train.seeds=[{','.join(map(str, range(seeds)))}]", f"train.epochs={n}",
                                 "train.stop=never", "train.progress=false", "train.checkpoint_dense_until=0",
                                 "train.checkpoint_every=100000", f"store.path={store}"])
        return float(train(cfg, force=True)[0]["wall_seconds"])

    return min(max(run(2 + epochs) - run(2), 1e-9) for _ in range(repeats)) / epochs / seeds


def simulated_probes(group: str, seeds: int, budget: int, grok_share: float, reps: int, seed: int = 0) -> dict:
    """Mean probes and member-epochs of one search (synthetic outcomes), with each probe's fractions."""
    g = get_group(group)
    truth = critical_ratio(g.order, d_max=int(irreps(g).degrees.max()))
    limits = search_limits(g.order, FULL["resolution"], FULL["bracket"])
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(reps):
        sim = SyntheticProbe(truth, 0.05, seeds, rng, budget=budget, grok_share=grok_share)
        fractions, outcomes, _ = run_search(sim, limits)
        rows.append((fractions, outcomes))
    return {"probes": float(np.mean([len(f) for f, _ in rows])), "runs": rows}


def project(rate: dict, sim: dict, budget: int, grok_share: float) -> dict:
    """Member-epochs and hours of one group's search from its simulated probes and its measured rates."""
    lo, hi = TIMED_FRACTIONS
    epochs, upper, seconds = [], [], []
    for fractions, outcomes in sim["runs"]:
        e = [np.where(o, grok_share * budget, budget).sum() for o in outcomes]
        s = np.interp(fractions, [lo, hi], [rate[lo], rate[hi]])  # held flat outside the timed fractions
        epochs.append(sum(e))
        upper.append(budget * outcomes.size)
        seconds.append(sum(ei * si for ei, si in zip(e, s)))
    return {"probes": round(sim["probes"], 2), "member_epochs": round(float(np.mean(epochs))),
            "member_epochs_all_to_budget": round(float(np.mean(upper))), "hours": float(np.mean(seconds)) / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="synthetic searches per group")
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per group and fraction")
    parser.add_argument("--grok-share", type=float, default=0.7, help="grok epoch of a grokking member / budget")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seeds, budget = FULL["seeds"], FULL["budget"]
    names = sorted((n for ns in FULL_GROUPS.values() for n in ns), key=lambda n: get_group(n).order)
    rows, started = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rate = {f: seconds_per_member_epoch(name, f, seeds, f"{tmp}/runs.sqlite", args.epochs) for f in TIMED_FRACTIONS}
            row = {"seconds_per_member_epoch": {str(f): round(r, 4) for f, r in rate.items()}}
            for factor in (1, 2):
                sim = simulated_probes(name, seeds, factor * budget, args.grok_share, args.reps)
                row[f"{factor}x budget"] = project(rate, sim, factor * budget, args.grok_share)
            rows[name] = row
    ends = [names[0], names[-1]]
    one = sum(r["1x budget"]["hours"] for r in rows.values())
    check = sum(rows[n]["2x budget"]["hours"] for n in ends)
    two = sum(r["2x budget"]["hours"] for r in rows.values())
    out = {"design": {"groups": names, "seeds": seeds, "budget": budget, "resolution": FULL["resolution"],
                      "bracket": FULL["bracket"]},
           "threads": os.environ.get("OMP_NUM_THREADS"), "load_average": os.getloadavg(), "grok_share": args.grok_share,
           "groups": rows,
           "member_epochs": sum(r["1x budget"]["member_epochs"] for r in rows.values())
           + sum(rows[n]["2x budget"]["member_epochs"] for n in ends),
           "hours": round(one + check, 1),
           "hours_if_the_budget_binds": round(two + sum(rows[n]["1x budget"]["hours"] for n in ends), 1),
           "timing_seconds": round(time.perf_counter() - started, 1)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name, r in rows.items():
        one_r = r["1x budget"]
        print(f"{name:>8}: {one_r['probes']:.1f} probes, {one_r['member_epochs']:>8} member-epochs "
              f"(all to budget {one_r['member_epochs_all_to_budget']}), {one_r['hours']:.2f} h; "
              f"s/member-epoch {r['seconds_per_member_epoch']}")
    print(f"li2-scaling full ({len(names)} groups, {seeds} seeds, {budget} epochs, budget check on {', '.join(ends)}): "
          f"{out['member_epochs']} member-epochs, {out['hours']} h projected; if the budget binds, {out['hours_if_the_budget_binds']} h")


if __name__ == "__main__":
    sys.exit(main())
