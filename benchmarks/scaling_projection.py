"""Project the runtime of `groklab reproduce li2-scaling` (full: boundary search on every Fig. 5 group).

    python benchmarks/scaling_projection.py --verdict PATH/verdict.json [--seeds 20] [--json]

A search's cost is (member-epochs it trains) × (seconds per member-epoch at the group's size). The first
factor comes from a measured search (`verdict.json` of a run of the full mode, e.g. on a subset with
`--groups`): its mean member-epochs per seed and per group, scaled to `--seeds`. The second is measured
here, per group of the full list: a `--seeds`-member ensemble at the group's predicted p* with the full
mode's settings, timed over a few epochs after a warm-up (evaluation every 10 epochs, as the search).
Groups the verdict measured use their own member-epochs; the others use the mean over the measured ones.
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
from groklab.reproduce.li2_scaling import FULL, FULL_GROUPS
from groklab.sweep.boundary import FIG5
from groklab.train.loop import train


def seconds_per_member_epoch(group: str, seeds: int, store: str, epochs: int = 10) -> float:
    g = get_group(group)
    p = round(critical_ratio(g.order, d_max=int(irreps(g).degrees.max())), 4)

    def run(n: int) -> float:
        cfg = load_config(None, [*FIG5, *FULL["base"], f"task.group={group}", f"task.train_fraction={p}",
                                 f"train.seeds=[{','.join(map(str, range(seeds)))}]", f"train.epochs={n}",
                                 "train.stop=never", "train.progress=false", "train.checkpoint_dense_until=0",
                                 f"store.path={store}"])
        start = time.perf_counter()
        train(cfg, force=True)
        return time.perf_counter() - start

    warm = run(2)
    total = run(2 + epochs)
    return max(total - warm, 1e-9) / epochs / seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdict", required=True, help="verdict.json of a measured li2-scaling full-mode run")
    parser.add_argument("--seeds", type=int, default=FULL["seeds"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    measured = json.load(open(args.verdict))
    per_seed = {b["group"]: b["member_epochs"] / b["seeds"] for b in measured["boundaries"]}
    mean_per_seed = float(np.mean(list(per_seed.values())))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for names in FULL_GROUPS.values():
            for name in names:
                rate = seconds_per_member_epoch(name, args.seeds, f"{tmp}/runs.sqlite")
                member_epochs = per_seed.get(name, mean_per_seed) * args.seeds
                rows[name] = {"seconds_per_member_epoch": rate, "member_epochs": round(member_epochs),
                              "hours": member_epochs * rate / 3600, "measured": name in per_seed}
    total = sum(r["hours"] for r in rows.values())
    out = {"seeds": args.seeds, "member_epochs_per_seed_measured": per_seed, "groups": rows,
           "total_hours": round(total, 1), "measured_run_seconds": measured.get("cost", {}).get("seconds")}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name, r in rows.items():
        print(f"{name:>14}: {r['member_epochs']:>8} member-epochs × {1000 * r['seconds_per_member_epoch']:.2f} ms "
              f"= {r['hours']:.2f} h{'' if r['measured'] else ' (member-epochs: mean of the measured groups)'}")
    print(f"li2-scaling full with {args.seeds} seeds: {total:.1f} h projected on this machine")


if __name__ == "__main__":
    sys.exit(main())
