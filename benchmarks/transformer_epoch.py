"""Speed of the Muon-grokking transformer: seconds per epoch, the fraction of the machine's matmul
throughput it achieves, and per-member throughput of stacked ensembles.

    python benchmarks/transformer_epoch.py [--json] [--quick | --tiny] [--device auto] [--threads N]

Setting: the `muon_grokking` preset at 50 % train — (a / b) mod 97, 4656 of 9312 rows, batch 512 (10
steps), depth 2, width 128, 1 head, SwiGLU 512, dropout 0.2, CE, AdamW, float32. An epoch is what the
training loop does at every eval epoch: the shuffled minibatch pass (forward, backward, AdamW), the
test-split evaluation, and the eval-mode train accuracy (with the collapse metric, from the same pass).
Times come from the loop's per-epoch callback; each figure is the best (and the median) over the timed
epochs, since the machine may be shared.

FLOP count (necessary matmul FLOPs; per example forward, W = width, F = 4W, L = 4 tokens, C = 97):
    every block but the last:  L·(2·4W² + 2·3WF)           q, k, v, o and W1, W3, W2 at every position
                               + 2·2·W·L(L+1)/2             causal QKᵀ and PV
    last block:                2·2W²·L + 2·2W² + 2·3WF      k, v at every position; q, o, FFN at the last
                               + 2·2·W·L                    one query against L keys
    head:                      2·W·C
    backward = 2 × forward (input and weight gradients of every matmul; the embedding lookup is no matmul)
    epoch = 3·f·n_train + f·n_test + f·n_train              (train pass, test eval, train-accuracy eval)
Counting the positions the readout never uses (the last block at L−1 other positions) would add 48 %.
`limit_fraction` = achieved FLOP/s ÷ the fp32 matmul FLOP/s of a 2048³ square matmul measured in the same
run with the same threads (best of repeats, at the start and the end); `limit_fraction_cpu_time` is the
same ratio in process CPU time, which a busy shared machine disturbs far less (exact with --threads 1). `model_step_fraction` and `model_eval_fraction` time the
model alone (forward + backward of one 512-batch; a no-grad forward of the test split) to separate the
model's efficiency from the loop's.

Schedules (`schedules` in the output): the same S = 1 run timed under the old and the new bookkeeping
schedule, alternating (old, new, old, new) so that a change in the machine's load hits both alike. Old:
the eval-mode pass over the training set at every epoch and a weight snapshot at every epoch of the first
100 (`train.checkpoint_dense_until=100`, the default before the Muon presets changed). New (the
`muon_grokking` preset): `train.train_eval_every=10`, `train.checkpoint_dense_until=0`,
`train.snapshot_every=10`. Each repeat times epochs 1..10 (so the new schedule pays its pass and its snapshot
once, at epoch 10); the figures are means over all timed epochs, in wall and in process CPU time.

`--tiny` (seconds on a CPU, for the GPU script's self-test): add mod 23, width 32, S = 1, one timed epoch
per run and one repeat of the schedules; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from groklab.config import load_config
from groklab.train.loop import train
from groklab.train.setup import resolve_device, setup

PRESET = Path(__file__).resolve().parents[1] / "src" / "groklab" / "configs" / "muon_grokking.yaml"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def best_of(fn, device, repeats: int, clock=time.perf_counter) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        _sync(device)
        times.append(clock() - start)
    return min(times)


def matmul_flops(device: torch.device, size: int = 2048, repeats: int = 5, clock=time.perf_counter) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    return 2 * size**3 / best_of(lambda: a @ b, device, repeats, clock)


def forward_flops(width: int, depth: int, seq_len: int, classes: int, ffn_mult: int = 4) -> float:
    """Necessary matmul FLOPs of one example's forward pass (see the module docstring)."""
    W, F, L = width, ffn_mult * width, seq_len
    full = L * (2 * 4 * W * W + 2 * 3 * W * F) + 2 * 2 * W * L * (L + 1) // 2
    last = 2 * 2 * W * W * L + 2 * 2 * W * W + 2 * 3 * W * F + 2 * 2 * W * L
    return float((depth - 1) * full + last + 2 * W * classes)


SETTING = {"modulus": 97, "width": 128, "depth": 2}
TINY = {"modulus": 23, "width": 32, "depth": 1}
# the bookkeeping schedules compared in one run (see the module docstring)
OLD_SCHEDULE = ["train.train_eval_every=null", "train.checkpoint_dense_until=100", "train.snapshot_every=null"]
NEW_SCHEDULE = ["train.train_eval_every=10", "train.checkpoint_dense_until=0", "train.snapshot_every=10"]
SCHEDULE_EPOCHS = 10  # timed epochs per repeat: one period of the new schedule


def config(members: int, device: str, store_dir: str, epochs: int, extra=(), setting=SETTING):
    seeds = "[" + ",".join(str(s) for s in range(members)) + "]"
    return load_config(PRESET, [
        "task.train_fraction=0.5", f"task.modulus={setting['modulus']}", f"model.width={setting['width']}",
        f"model.depth={setting['depth']}", f"train.seeds={seeds}", f"train.epochs={epochs}", "train.progress=false",
        "train.checkpoint_dense_until=0", f"train.checkpoint_every={10 * epochs + 10}", "train.snapshot_every=null",
        "train.train_eval_every=null", f"train.device={device}", f"store.path={store_dir}/runs.sqlite", *extra])


def _timed_train(cfg) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds of every epoch after epoch 0 (evaluation only, not timed)."""
    stamps: list[tuple[float, float]] = []
    train(cfg, force=True, on_epoch=lambda e: stamps.append((time.perf_counter(), time.process_time())))
    return ([b[0] - a[0] for a, b in zip(stamps, stamps[1:])], [b[1] - a[1] for a, b in zip(stamps, stamps[1:])])


def time_epochs(members: int, epochs: int, device: str, store_dir: str, setting=SETTING) -> dict:
    """Per-epoch wall time of the real training loop (epoch 0, evaluation only, is not timed)."""
    times, cpu = _timed_train(config(members, device, store_dir, epochs, setting=setting))
    return {"members": members, "epochs_timed": len(times), "seconds_per_epoch": min(times),
            "seconds_per_epoch_median": statistics.median(times), "cpu_seconds_per_epoch": min(cpu),
            "member_epochs_per_second": members / min(times)}


def time_schedules(device: str, store_dir: str, repeats: int = 2, epochs: int = SCHEDULE_EPOCHS,
                   setting=SETTING) -> dict:
    """Mean seconds per epoch under the old and the new bookkeeping schedule, runs alternating.

    Each run trains `epochs` + 1 epochs and times epochs 1..`epochs` (the final epoch, which always
    evaluates the training set and snapshots, is not timed)."""
    wall: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(repeats):
        for name, overrides in (("old", OLD_SCHEDULE), ("new", NEW_SCHEDULE)):
            times, cpus = _timed_train(config(1, device, store_dir, epochs + 1, overrides, setting))
            wall[name] += times[:epochs]
            cpu[name] += cpus[:epochs]
    out = {name: {"overrides": overrides, "epochs_timed": len(wall[name]),
                  "seconds_per_epoch_mean": statistics.fmean(wall[name]),
                  "cpu_seconds_per_epoch_mean": statistics.fmean(cpu[name])}
           for name, overrides in (("old", OLD_SCHEDULE), ("new", NEW_SCHEDULE))}
    out["speedup_wall"] = out["old"]["seconds_per_epoch_mean"] / out["new"]["seconds_per_epoch_mean"]
    out["speedup_cpu_time"] = out["old"]["cpu_seconds_per_epoch_mean"] / out["new"]["cpu_seconds_per_epoch_mean"]
    out["repeats"] = repeats
    return out


def model_only(device: str, store_dir: str, repeats: int, setting=SETTING) -> dict:
    """The model alone: fwd+bwd of one training batch, and a no-grad forward of the test split."""
    cfg = config(1, device, store_dir, 1, setting=setting)
    run = setup(cfg)
    dev, data, model, loss_fn = run.device, run.data, run.model, run.loss_fn
    x, y = data.x_train[:, :512], data.y_train[:, :512]

    def step():
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).sum().backward()

    model.train()
    t_step = best_of(step, dev, repeats)
    model.eval()
    with torch.no_grad():
        t_eval = best_of(lambda: model(data.x_test), dev, repeats)
    return {"step_seconds": t_step, "eval_seconds": t_eval, "batch": x.shape[1], "eval_rows": data.x_test.shape[1],
            "train_rows": data.x_train.shape[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer timed epochs; S = 1 and 4 only")
    parser.add_argument("--tiny", action="store_true", help="add mod 23, width 32, S = 1, one epoch each (self-test)")
    parser.add_argument("--no-schedules", action="store_true", help="skip the old-vs-new schedule comparison")
    parser.add_argument("--only-schedules", action="store_true", help="only the old-vs-new schedule comparison")
    parser.add_argument("--repeats", type=int, default=2, help="old/new pairs in the schedule comparison (default 2)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--members", default=None,
                        help="comma-separated ensemble sizes S to time (default 1,4,16; quick 1,4; e.g. 1,8,32,128 on "
                             "a GPU), two timed epochs each (one with --tiny)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    setting = TINY if args.tiny else SETTING
    plan = {1: 1} if args.tiny else {1: 2, 4: 1} if args.quick else {1: 4, 4: 2, 16: 1}  # members -> timed epochs
    if args.members:
        plan = {int(v): 1 if args.tiny else 2 for v in args.members.split(",")}
    W, D, p = setting["width"], setting["depth"], setting["modulus"]
    out: dict = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                 "setting": f"div mod {p}, 50% train, batch 512, depth {D}, width {W}, heads 1, dropout 0.2, "
                            "CE, AdamW, float32" + (" (tiny: not a measurement)" if args.tiny else "")}
    size = 512 if args.tiny else 2048
    out["matmul_flops"] = matmul_flops(device, size)
    out["matmul_flops_cpu_time"] = matmul_flops(device, size, clock=time.process_time)
    classes = p  # div: b != 0, so (p - 1)·p rows and p classes
    f = forward_flops(W, D, 4, classes)
    out["forward_flops_per_example"] = f
    if args.only_schedules:
        with tempfile.TemporaryDirectory() as store_dir:
            out["schedules"] = time_schedules(args.device, store_dir, repeats=args.repeats,
                                              epochs=1 if args.tiny else SCHEDULE_EPOCHS, setting=setting)
        _print_schedules(out) if not args.json else print(json.dumps(out, indent=2))
        return
    with tempfile.TemporaryDirectory() as store_dir:
        single = model_only(args.device, store_dir, repeats=1 if args.tiny else 3 if args.quick else 5, setting=setting)
        n_train, n_test = single["train_rows"], single["eval_rows"]
        out["epoch_flops"] = epoch_flops = 3 * f * n_train + f * n_test + f * n_train
        runs = [time_epochs(S, epochs, args.device, store_dir, setting) for S, epochs in plan.items()]
        if not args.no_schedules:
            out["schedules"] = time_schedules(args.device, store_dir, repeats=1 if args.tiny else args.repeats,
                                              epochs=1 if args.tiny else SCHEDULE_EPOCHS, setting=setting)
    out["matmul_flops_end"] = matmul_flops(device, size)  # the machine may have changed load meanwhile
    peak = max(out["matmul_flops"], out["matmul_flops_end"])
    for r in runs:
        r["achieved_flops"] = epoch_flops * r["members"] / r["seconds_per_epoch"]
        r["limit_fraction"] = r["achieved_flops"] / peak
        if device.type == "cpu":  # CPU time: immune to preemption by other processes (exact with 1 thread)
            r["limit_fraction_cpu_time"] = epoch_flops * r["members"] / r["cpu_seconds_per_epoch"] / out["matmul_flops_cpu_time"]
    out["runs"] = runs
    out["seconds_per_epoch"] = runs[0]["seconds_per_epoch"]
    out["limit_fraction"] = runs[0]["limit_fraction"]
    out["model_step_fraction"] = 3 * f * single["batch"] / single["step_seconds"] / peak
    out["model_eval_fraction"] = f * single["eval_rows"] / single["eval_seconds"] / peak
    out["model_only"] = single
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"device {out['device']} (torch {out['torch']}, {out['threads']} threads); {out['setting']}")
    print(f"fp32 matmul: {peak / 1e9:.1f} GFLOP/s;  necessary FLOPs per epoch: {epoch_flops / 1e9:.1f} G (per member)")
    print(f"{'S':>3} {'s/epoch':>9} {'median':>8} {'member-epochs/s':>16} {'GFLOP/s':>9} {'of matmul':>10} {'(cpu time)':>11}")
    for r in runs:
        print(f"{r['members']:>3} {r['seconds_per_epoch']:>9.2f} {r['seconds_per_epoch_median']:>8.2f} "
              f"{r['member_epochs_per_second']:>16.3f} {r['achieved_flops'] / 1e9:>9.1f} {r['limit_fraction']:>10.2f} "
              f"{r.get('limit_fraction_cpu_time', float('nan')):>11.2f}")
    print(f"model alone: fwd+bwd of a 512-batch {single['step_seconds'] * 1e3:.0f} ms "
          f"({out['model_step_fraction']:.2f} of matmul), test-split forward {single['eval_seconds'] * 1e3:.0f} ms "
          f"({out['model_eval_fraction']:.2f})")
    if "schedules" in out:
        _print_schedules(out)
    sys.stdout.flush()


def _print_schedules(out: dict) -> None:
    sc = out["schedules"]
    for name in ("old", "new"):
        print(f"schedule {name:<3} ({' '.join(sc[name]['overrides'])}): {sc[name]['seconds_per_epoch_mean']:.3f} s/epoch, "
              f"{sc[name]['cpu_seconds_per_epoch_mean']:.3f} CPU s/epoch (mean of {sc[name]['epochs_timed']} epochs)")
    print(f"old / new: {sc['speedup_wall']:.2f}x wall, {sc['speedup_cpu_time']:.2f}x CPU time")


if __name__ == "__main__":
    main()
