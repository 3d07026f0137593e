"""Sweep throughput: runs per minute for a grid of small Li2 runs, one process per run vs the sweep.

    python benchmarks/sweep_throughput.py [--json] [--quick] [--workers N] [--serial-sample K]

The grid: Z23, K=512, x², class-centred MSE, full-batch Adam lr 5e-3, train fraction 0.5, 500
epochs, evaluation every 10 epochs; weight decay {0, 1e-4, 3e-4, 1e-3} × 16 seeds = 64 runs.

  serial   one `groklab train` process per run, one after another (what a shell loop does); each
           process pays interpreter + torch start-up and trains one member with torch's default
           threads (--serial-threads N pins them: on a busy machine, extra threads slow small
           models down, so N=1 is the conservative baseline). Measured on the first K runs (--serial-sample, default 8; 0 = all) and reported
           as runs per minute, which a serial loop keeps constant.
  inproc   (context) the same runs one after another inside one process: no start-up cost.
  sweep    `run_sweep` with the local executor: runs packed into ensembles, `--workers` processes
           (default one per core), one thread each; all 64 runs, wall time including worker start-up.

`ratio` = sweep runs/min ÷ serial runs/min (target ≥ 3 on a 2-core machine).
--quick: 16 runs of 100 epochs, serial sample 4.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BASE = {"task.group": "Z23", "task.train_fraction": 0.5, "model.width": 512, "optim.lr": 5e-3,
        "train.eval_every": 10, "train.progress": False, "train.checkpoint_dense_until": 0}
WEIGHT_DECAYS = [0.0, 1e-4, 3e-4, 1e-3]


def grid(runs: int, epochs: int) -> dict:
    seeds = max(1, runs // len(WEIGHT_DECAYS))
    return {"name": "throughput", "base": dict(BASE, **{"train.epochs": epochs, "train.checkpoint_every": epochs}),
            "axes": {"optim.weight_decay": WEIGHT_DECAYS}, "seeds": list(range(seeds))}


def points(spec: dict) -> list[tuple[float, int]]:
    return [(wd, seed) for wd in spec["axes"]["optim.weight_decay"] for seed in spec["seeds"]]


def run_serial(spec: dict, sample: list[tuple[float, int]], folder: Path, threads: int | None) -> float:
    """Seconds for `groklab train` subprocesses over `sample`, one after another."""
    base_yaml = folder / "base.yaml"
    nested: dict = {}
    for key, value in spec["base"].items():
        section, _, name = key.partition(".")
        nested.setdefault(section, {})[name] = value
    base_yaml.write_text(yaml.safe_dump(nested))
    start = time.perf_counter()
    for wd, seed in sample:
        subprocess.run([sys.executable, "-m", "groklab.cli", "train", str(base_yaml), f"train.seeds=[{seed}]",
                        f"optim.weight_decay={wd}", f"store.path={folder / 'serial.sqlite'}", "--no-progress",
                        "--json"], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})))
    return time.perf_counter() - start


def run_inprocess(spec: dict, sample: list[tuple[float, int]], folder: Path, threads: int | None) -> float:
    import torch

    from groklab.config import load_config
    from groklab.train.loop import train

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    for wd, seed in sample:
        cfg = load_config(None, [f"{k}={json.dumps(v)}" for k, v in spec["base"].items()]
                          + [f"train.seeds=[{seed}]", f"optim.weight_decay={wd}", f"store.path={folder / 'inproc.sqlite'}"])
        train(cfg, progress=False)
    return time.perf_counter() - start


def run_swept(spec: dict, folder: Path, workers: int | None, max_members: int | None) -> tuple[float, dict]:
    from groklab.sweep import make_plan, run_sweep, spec_from_dict

    sweep_spec = spec_from_dict(spec)
    store = folder / "sweep.sqlite"
    plan = make_plan(sweep_spec, workers=workers, max_members=max_members, store_path=store)
    start = time.perf_counter()
    report = run_sweep(sweep_spec, workers=workers, max_members=max_members, store_path=store, progress=False)
    seconds = time.perf_counter() - start
    assert report.done == len(plan.runs) and report.failed == 0, report.summary_line()
    return seconds, dict(workers=plan.workers, ensembles=[len(e.runs) for e in plan.ensembles],
                         memory_budget_bytes=plan.memory_budget, member_bytes=plan.ensembles[0].member_bytes)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="16 runs of 100 epochs, serial sample 4")
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=None, help="sweep workers (default: one per core)")
    parser.add_argument("--max-members", type=int, default=None, help="cap on ensemble size (default: memory budget)")
    parser.add_argument("--serial-sample", type=int, default=8, help="serial runs to time (0 = all)")
    parser.add_argument("--no-inproc", action="store_true", help="skip the in-process serial context line")
    parser.add_argument("--serial-threads", type=int, default=None,
                        help="torch threads of the serial baselines (default: torch's, i.e. all cores)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.epochs, args.serial_sample = 16, 100, 4
    spec = grid(args.runs, args.epochs)
    all_points = points(spec)
    sample = all_points if args.serial_sample <= 0 else all_points[: args.serial_sample]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        serial_s = run_serial(spec, sample, folder, args.serial_threads)
        inproc_s = None if args.no_inproc else run_inprocess(spec, sample, folder, args.serial_threads)
        sweep_s, plan = run_swept(spec, folder, args.workers, args.max_members)

    per_min = lambda runs, seconds: 60.0 * runs / seconds  # noqa: E731
    result = dict(
        grid=dict(group="Z23", width=512, epochs=args.epochs, runs=len(all_points), eval_every=10),
        cpu_count=os.cpu_count(), serial_sample=len(sample), serial_threads=args.serial_threads or "default",
        serial_runs_per_min=round(per_min(len(sample), serial_s), 2),
        inproc_runs_per_min=None if inproc_s is None else round(per_min(len(sample), inproc_s), 2),
        sweep_runs_per_min=round(per_min(len(all_points), sweep_s), 2),
        sweep_wall_s=round(sweep_s, 1), plan=plan,
    )
    result["ratio"] = round(result["sweep_runs_per_min"] / result["serial_runs_per_min"], 2)
    if inproc_s is not None:
        result["ratio_vs_inproc"] = round(result["sweep_runs_per_min"] / result["inproc_runs_per_min"], 2)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"grid: {len(all_points)} runs of Z23/K=512, {args.epochs} epochs")
        print(f"serial (one process per run, {len(sample)} timed): {result['serial_runs_per_min']:8.2f} runs/min")
        if inproc_s is not None:
            print(f"serial in one process (context):          {result['inproc_runs_per_min']:8.2f} runs/min")
        print(f"sweep ({plan['workers']} workers, ensembles {plan['ensembles']}): {result['sweep_runs_per_min']:8.2f} runs/min")
        print(f"ratio sweep / serial: {result['ratio']:.2f}x" + (f" (vs in-process serial {result['ratio_vs_inproc']:.2f}x)"
                                                              if inproc_s is not None else ""))
    return result


if __name__ == "__main__":
    main()
