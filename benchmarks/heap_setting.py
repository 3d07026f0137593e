"""What keeping large blocks on glibc's heap (`groklab.train.heap.keep_large_blocks_on_heap`) buys: the
same training run with glibc's default (blocks above 32 MiB mapped and unmapped at every allocation) and
with groklab's setting, alternating, each in a fresh process.

    python benchmarks/heap_setting.py [--json] [--quick] [--repeats 2] [--threads 1]

Shapes: `li2-lr` (li2-lr's full mode: Z127, 20 % train, K = 1024, 15 members, x², CE, Adam; 200 MB
activations), `li2-fig3` (Z71, K = 2048, one member; 16 MB activations, below the 32 MiB ceiling, yet glibc's default
still faults pages in afresh every epoch, as the page-fault column shows) and
`muon-medium` (the Muon paper's transformer on div mod 97 at 50 % train, batch 512). Per run: wall
seconds per epoch (the loop's own clock, after a warm-up run of the same shape), the process's user
and system CPU seconds per epoch, minor page faults per epoch, and peak resident memory. Numbers are
equal in both modes (tested); only where the buffers live changes. "Default" is forced by setting
glibc's own default `MALLOC_MMAP_MAX_=65536` in the child's environment, which groklab leaves alone.
CPU-only (glibc).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

from groklab.train.heap import USER_SETTINGS

SHAPES = {
    "li2-lr": ("li2_fig3", ["task.group=Z127", "task.train_fraction=0.2", "model.width=1024", "loss.kind=ce",
                            "optim.weight_decay=2e-4", "train.eval_every=10",
                            "train.seeds=[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14]"], 12),
    "li2-fig3": ("li2_fig3", [], 60),
    "muon-medium": ("muon_grokking", ["task.train_fraction=0.5"], 8),
}
GLIBC_DEFAULT = {"MALLOC_MMAP_MAX_": "65536"}


def child(shape: str, epochs: int, store_dir: str) -> dict:
    from groklab.config import load_config
    from groklab.train.loop import train

    preset, overrides, _ = SHAPES[shape]

    def config(n: int):
        return load_config(preset, [f"train.epochs={n}", "train.progress=false", "train.checkpoint_dense_until=0",
                                    f"train.checkpoint_every={10 * n}", "train.device=cpu",
                                    f"store.path={store_dir}/runs.sqlite", *overrides])

    train(config(2), force=True)  # warm-up: first-call kernel selection, the heap's first growth
    before = resource.getrusage(resource.RUSAGE_SELF)
    results = train(config(epochs), force=True)
    after = resource.getrusage(resource.RUSAGE_SELF)
    n = epochs + 1
    return {"seconds_per_epoch": results[0]["wall_seconds"] / n,
            "user_seconds_per_epoch": (after.ru_utime - before.ru_utime) / n,
            "system_seconds_per_epoch": (after.ru_stime - before.ru_stime) / n,
            "page_faults_per_epoch": (after.ru_minflt - before.ru_minflt) / n,
            "peak_rss_mib": after.ru_maxrss / 1024}


def measure(shape: str, epochs: int, repeats: int, threads: int) -> dict:
    runs: dict[str, list[dict]] = {"default": [], "heap": []}
    base = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS}
    base |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for mode in ("default", "heap"):  # alternating, so that a change in the machine's load hits both
                env = base | (GLIBC_DEFAULT if mode == "default" else {})
                out = subprocess.run([sys.executable, __file__, "--child", shape, str(epochs), tmp], env=env,
                                     capture_output=True, text=True, check=True).stdout
                runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    row = {mode: {key: round(min(r[key] for r in rs), 4 if "seconds" in key else 1) for key in rs[0]}
           for mode, rs in runs.items()}
    d, h = row["default"], row["heap"]
    row["speedup_wall"] = round(d["seconds_per_epoch"] / h["seconds_per_epoch"], 2)
    cpu = lambda r: r["user_seconds_per_epoch"] + r["system_seconds_per_epoch"]  # noqa: E731
    row["speedup_cpu_time"] = round(cpu(d) / cpu(h), 2)
    return row


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a third of the epochs, one repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, from {list(SHAPES)}")
    args = parser.parse_args()
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)}")
    repeats = 1 if args.quick else args.repeats
    out = {"threads": args.threads, "repeats": repeats, "shapes": {}}
    for shape in shapes:
        epochs = max(3, SHAPES[shape][2] // (3 if args.quick else 1))
        out["shapes"][shape] = measure(shape, epochs, repeats, args.threads) | {"epochs": epochs}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.threads} thread(s), best of {repeats} alternating runs per mode")
    for shape, row in out["shapes"].items():
        d, h = row["default"], row["heap"]
        print(f"{shape}: {d['seconds_per_epoch']:.3f} -> {h['seconds_per_epoch']:.3f} s/epoch ({row['speedup_wall']}x wall, "
              f"{row['speedup_cpu_time']}x CPU time); system CPU {d['system_seconds_per_epoch']:.3f} -> "
              f"{h['system_seconds_per_epoch']:.3f} s/epoch; page faults {d['page_faults_per_epoch']:.0f} -> "
              f"{h['page_faults_per_epoch']:.0f} per epoch; peak RSS {d['peak_rss_mib']:.0f} -> {h['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
