"""Speed of the Li2 training loop: epochs per second, peak memory, and the fraction of the machine's
matmul throughput the loop achieves.

    python benchmarks/li2_step.py [--json] [--epochs 60] [--device auto] [--quick | --tiny]

`limit_fraction` = achieved FLOP/s ÷ fp32 matmul FLOP/s measured in this run (a square 2048³ matmul),
where achieved FLOP/s counts only the necessary FLOPs of an epoch: the gathered first layer
(n·K·arity adds forward, the same backward), the activation, the output layer forward (2·n·K·C)
and backward (4·n·K·C), and the test forward (m·K·arity + 2·m·K·C). Every epoch includes train
metrics (from the training forward) and a full test evaluation, as grokking detection needs.
Per-member throughput at S = 1, 8, 32 shows when stacking members pays off on this device.
`--compile` also measures `torch.compile` of the training step (forward, loss and backward) against
eager: the one-time compile cost, the steady-state step, and whether compiling pays on a 1000-epoch run
(it did not on the 2-core CPU, so groklab does not offer it as a setting; see BENCHMARKS.md).
`--tiny` (seconds on a CPU, for the GPU script's self-test) runs Z7 at K = 32 for 2 epochs, S = 1 and 2;
its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time

import torch

from groklab.config import load_config
from groklab.train.loop import train
from groklab.train.setup import resolve_device


def matmul_flops(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(2):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def shape_matmul_flops(n: int, m: int, K: int, C: int, repeats: int = 10) -> float:
    """FLOP/s of the epoch's own output-layer GEMMs alone (F·Vᵀ, G·V, Gᵀ·F, test F·Vᵀ): the ceiling
    that skinny C-column matmuls allow on this device, whatever surrounds them."""
    F, Ft, V, G = torch.randn(n, K), torch.randn(m, K), torch.randn(C, K), torch.randn(n, C)
    ops = [lambda: F @ V.T, lambda: G @ V, lambda: G.T @ F, lambda: Ft @ V.T]
    for op in ops:
        op()
    start = time.perf_counter()
    for _ in range(repeats):
        for op in ops:
            op()
    return (6 * n * K * C + 2 * m * K * C) * repeats / (time.perf_counter() - start)


def epoch_flops(n: int, m: int, K: int, C: int, arity: int = 2) -> float:
    forward = n * K * arity + n * K + 2 * n * K * C
    backward = 4 * n * K * C + n * K + n * K * arity
    test = m * K * arity + m * K + 2 * m * K * C
    return float(forward + backward + test)


def run_config(overrides: list[str], epochs: int, device: str, store_dir: str) -> tuple[float, dict]:
    """Steady-state seconds per epoch: a short warm-up run of the same shape first, so one-time costs
    (first-call kernel selection, allocator growth) are not spread over the timed epochs."""
    def config(n: int):
        return load_config("li2_fig3", [
            f"train.epochs={n}", "train.eval_every=1", "train.progress=false", "train.checkpoint_dense_until=0",
            f"train.checkpoint_every={10 * n}", f"train.device={device}", f"store.path={store_dir}/runs.sqlite",
            *overrides])
    train(config(3), force=True)
    cfg = config(epochs)
    results = train(cfg, force=True)
    return results[0]["wall_seconds"] / (epochs + 1), cfg


def compile_payoff(overrides: list[str], epochs: int, device: str) -> dict:
    """Eager vs `torch.compile` of the full-batch training step (forward, loss, backward; the optimizer
    step stays eager): per-epoch times, the one-time compile cost, the break-even run length."""
    from groklab.train.setup import setup
    from groklab.train.steps import step

    cfg = load_config("li2_fig3", [f"train.device={device}", *overrides])

    def timed(compiled: bool) -> tuple[float, float]:
        run = setup(cfg)
        data, model, loss_fn, optimizer = run.data, run.model, run.loss_fn, run.optimizer
        active = torch.ones(data.members, dtype=torch.bool, device=data.y_train.device)
        forward = lambda x, y: loss_fn(model(x), y)  # noqa: E731
        forward = torch.compile(forward, dynamic=False) if compiled else forward
        start = time.perf_counter()
        step(forward(data.x_train, data.y_train), optimizer, active)  # the first step compiles
        first = time.perf_counter() - start
        for _ in range(2):
            step(forward(data.x_train, data.y_train), optimizer, active)
        _sync(data.y_train.device)
        start = time.perf_counter()
        for _ in range(epochs):
            step(forward(data.x_train, data.y_train), optimizer, active)
        _sync(data.y_train.device)
        return first, (time.perf_counter() - start) / epochs

    eager_first, eager = timed(False)
    compiled_first, compiled = timed(True)
    overhead = max(0.0, compiled_first - eager_first)
    gain = eager - compiled
    break_even = overhead / gain if gain > 0 else float("inf")
    return {"eager_ms_per_step": round(1000 * eager, 2), "compiled_ms_per_step": round(1000 * compiled, 2),
            "compile_seconds": round(overhead, 1), "break_even_epochs": round(break_even) if gain > 0 else None,
            "pays_on_1000_epochs": bool(break_even < 1000)}


def throughput(group: str, width: int, members: int, epochs: int, device: str, store_dir: str) -> float:
    seeds = "[" + ",".join(str(s) for s in range(members)) + "]"
    per_epoch, _ = run_config([f"task.group={group}", f"model.width={width}", f"train.seeds={seeds}"], epochs, device, store_dir)
    return members / per_epoch  # member-epochs per second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and no S=32 at li2_fig3 size")
    parser.add_argument("--tiny", action="store_true", help="Z7, K=32, 2 epochs, S=1 and 2 (a self-test, not a measurement)")
    parser.add_argument("--compile", action="store_true", help="also measure a torch.compile'd step against eager")
    parser.add_argument("--only-compile", action="store_true", help="measure the torch.compile'd step only")
    parser.add_argument("--members", default=None,
                        help="comma-separated ensemble sizes S for the per-member rows (default 1,8,32; e.g. "
                             "1,8,32,128 on a GPU, where stacking pays further)")
    args = parser.parse_args()
    sizes_s = tuple(int(v) for v in args.members.split(",")) if args.members else None
    device = resolve_device(args.device)
    epochs = 2 if args.tiny else 15 if args.quick else args.epochs
    out: dict = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()}
    main_shape = ["task.group=Z7", "model.width=32"] if args.tiny else []  # li2_fig3 itself unless --tiny
    if args.tiny:
        out["note"] = "--tiny: Z7, K = 32 under the li2_fig3 keys; a self-test, not a measurement"

    with tempfile.TemporaryDirectory() as tmp:
        if args.compile or args.only_compile:
            out["compile"] = {"li2_fig3": compile_payoff([], epochs, args.device),
                              "Z23_K512": compile_payoff(["task.group=Z23", "model.width=512"], epochs, args.device)}
        if args.only_compile:
            print(json.dumps(out, indent=2))
            return
        peak = matmul_flops(device, 512 if args.tiny else 2048)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        per_epoch, cfg = run_config(main_shape, epochs, args.device, tmp)
        n, m, C = (2016, 3025, 71) if not args.tiny else (19, 30, 7)  # reference split of Z71 at 0.4: 2016 train, 3025 test
        flops = epoch_flops(n, m, cfg.model.width, C)
        out["li2_fig3"] = {
            "epochs_per_second": round(1 / per_epoch, 2),
            "ms_per_epoch": round(1000 * per_epoch, 2),
            "gflop_per_epoch": round(flops / 1e9, 3),
            "achieved_gflops": round(flops / per_epoch / 1e9, 1),
            "matmul_gflops": round(peak / 1e9, 1),
            "limit_fraction": round(flops / per_epoch / peak, 3),
            "same_shape_matmul_gflops": round(shape_matmul_flops(n, m, cfg.model.width, C) / 1e9, 1),
            "peak_memory_mib": round(_peak_memory_mib(device), 1),
        }
        sizes = {"Z7_K32": ("Z7", 32)} if args.tiny else {"Z23_K512": ("Z23", 512), "li2_fig3": ("Z71", 2048)}
        out["per_member"] = {}
        for label, (group, width) in sizes.items():
            row = {}
            for members in sizes_s or ((1, 2) if args.tiny else (1, 8, 32)):
                if args.quick and label == "li2_fig3" and members >= 32 and not sizes_s:
                    continue
                row[f"S={members}"] = round(throughput(group, width, members, epochs, args.device, tmp), 1)
            base = row["S=1"]
            row["speedup_per_member"] = {k: round(v / base, 2) for k, v in row.items() if k != "S=1"}
            out["per_member"][label] = row

    if args.json:
        print(json.dumps(out, indent=2))
        return
    f = out["li2_fig3"]
    print(f"device {out['device']}, torch {out['torch']}, {out['threads']} threads")
    print(f"li2_fig3 (Z71, K=2048, n=2016, test 3025): {f['ms_per_epoch']} ms/epoch = {f['epochs_per_second']} epochs/s "
          f"(train step + train metrics + full test eval)")
    print(f"  {f['gflop_per_epoch']} GFLOP/epoch -> {f['achieved_gflops']} GFLOP/s vs matmul {f['matmul_gflops']} GFLOP/s: "
          f"limit_fraction {f['limit_fraction']}; peak memory {f['peak_memory_mib']} MiB")
    print(f"  the epoch's own output-layer GEMM shapes alone reach {f['same_shape_matmul_gflops']} GFLOP/s "
          f"= {f['same_shape_matmul_gflops'] / f['matmul_gflops']:.2f} of square-matmul peak (a ceiling for limit_fraction)")
    for label, row in out["per_member"].items():
        cells = ", ".join(f"{k}: {v} member-epochs/s" for k, v in row.items() if k.startswith("S="))
        print(f"{label}: {cells}; per-member speedup vs S=1: {row['speedup_per_member']}")
    for label, row in out.get("compile", {}).items():
        print(f"torch.compile on {label}: eager {row['eager_ms_per_step']} ms/step, compiled {row['compiled_ms_per_step']} "
              f"ms/step after {row['compile_seconds']} s of compiling; break-even {row['break_even_epochs']} epochs; "
              f"pays on a 1000-epoch run: {row['pays_on_1000_epochs']}")


def _peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


if __name__ == "__main__":
    sys.exit(main())
