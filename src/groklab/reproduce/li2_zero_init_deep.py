"""li2-zero-init-deep — Fig. 17 / RC9: a zero-initialised top layer in residual multi-layer nets groks faster.

The paper reports that with V(0) = 0 deeper residual networks grok up to ≈ 10× sooner. Setting (li2-depth's
residual nets, whose sizes Fig. 9 and 17 do not give): Z_M, `model.extra_layers` L' residual blocks x ← σ(x + Ux)
on top of the first layer (3- and 4-layer nets), σ = ReLU, class-centred MSE, full-batch Adam lr 5e-3, weight
decay 1e-3, `model.top_init_scale` 0 against 1 (PyTorch's default init). Each (depth, init) is one ensemble of
seeds; a seed fixes the split, W(0) and the blocks' U(0), so a pair of runs differs only in V(0). Members stop at
their sustained grok (`train.stop=sustained`; the verdicts read grok epochs only).

Quick (CI): Z23, K = 256, fraction 0.8, L' ∈ {1, 2}, 3 seeds, 500 epochs. Full: Z71, K = 1024, fraction 0.5,
L' ∈ {1, 2}, 5 seeds, 3000 epochs (not yet run).

Verdicts: seed for seed, zero init groks no later than the default init in any pair and earlier in most
(sign test over the untied pairs; negative control: the inits swapped). The speed-up (ratio of median grok
epochs, default / zero) is reported per depth as a measurement: the paper's "up to ≈ 10×" names no setting
to hold it to.
"""

from __future__ import annotations

import numpy as np

from groklab.report import stats
from groklab.report.plots import new_figure
from groklab.reproduce import Verdict
from groklab.reproduce.panels import test_accuracy_bands
from groklab.store import Store
from groklab.train.cells import grok_epochs, train_cells

CLAIM = "Fig. 17: in residual multi-layer nets a zero-initialised top layer (V(0) = 0) groks faster"

QUICK = dict(group="Z23", fraction=0.8, seeds=3, base=["model.width=256", "train.epochs=500"])
FULL = dict(group="Z71", fraction=0.5, seeds=5, base=["model.width=1024", "train.epochs=3000", "train.checkpoint_every=500"])
DEPTHS = (1, 2)
INITS = {"default init": 1.0, "zero init": 0.0}


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    base = [*mode["base"], f"task.group={mode['group']}", f"task.train_fraction={mode['fraction']}",
            "model.activation=relu", "loss.kind=mse", "optim.kind=adam", "optim.lr=5e-3", "optim.weight_decay=1e-3",
            "train.eval_every=5", "train.stop=sustained", f"train.seeds=[{','.join(str(s) for s in range(seeds))}]"]
    cells = [(f"{2 + L} layers, {name}", [f"model.extra_layers={L}", f"model.top_init_scale={scale}"])
             for L in DEPTHS for name, scale in INITS.items()]
    trained = {c.label: c for c in train_cells(base, cells, ctx.store_path, progress=ctx.progress, echo=ctx.echo)}
    grok = {label: grok_epochs(c) for label, c in trained.items()}  # members in seed order; censored: ∞
    _figure(ctx, Store(ctx.store_path), trained, grok)
    ctx.extra["grok_epochs"] = {label: [None if not np.isfinite(g) else float(g) for g in v] for label, v in grok.items()}
    setting = (f"{mode['group']}, K = {trained[cells[0][0]].cfg.model.width}, p = {mode['fraction']}, ReLU, MSE, "
               f"Adam 5e-3, wd 1e-3, residual blocks L' ∈ {list(DEPTHS)}, {seeds} seeds")
    return verdicts(grok, setting)


def verdicts(grok: dict, setting: str) -> list[Verdict]:
    """From the grok epochs [seeds] per "{n} layers, {init}" cell (censored: ∞, members in seed order)."""
    depths = sorted({label.split(",")[0] for label in grok}, key=lambda s: int(s.split()[0]))
    default = np.concatenate([grok[f"{d}, default init"] for d in depths])
    zero = np.concatenate([grok[f"{d}, zero init"] for d in depths])
    pairs = stats.first_to_event(default.tolist(), zero.tolist())  # wins_a: default first
    later, earlier, ties = pairs["wins_a"], pairs["wins_b"], pairs["ties"]
    n = later + earlier + ties
    median = {d: {name: float(np.median(grok[f"{d}, {name}"])) for name in INITS} for d in depths}
    ratio = {d: m["default init"] / m["zero init"] for d, m in median.items()}

    def shown(x):
        return "censored" if not np.isfinite(x) else round(x, 2)

    return [
        Verdict("seed for seed (same split, W(0) and blocks), zero init groks no later than the default init in "
                "residual nets", setting,
                {"pairs": n, "zero init earlier": earlier, "tied": ties, "zero init later": later,
                 "sign test p (two-sided, ties dropped)": float(f"{pairs['p']:.3g}")},
                "zero init later in no pair, earlier in most", later == 0 and 2 * earlier > n),
        Verdict("the speed-up of zero init by depth (the paper: up to ≈ 10×)", setting,
                {d: {"median grok epoch, default": shown(m["default init"]), "zero": shown(m["zero init"]),
                     "ratio default / zero": shown(ratio[d])} for d, m in median.items()},
                "reported", None, "the paper's 'up to ≈ 10×' names no setting to hold a measured ratio to"),
    ]


def _figure(ctx, store, trained, grok) -> None:
    fig = new_figure(6.5 * len(DEPTHS), 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(DEPTHS)))
    styles = dict(zip(INITS, ("#4c72b0", "#c44e52")))
    for ax, L in zip(axes, DEPTHS):
        arms = [(name, trained[f"{2 + L} layers, {name}"], colour, float(np.median(grok[f"{2 + L} layers, {name}"])))
                for name, colour in styles.items()]
        test_accuracy_bands(ax, store, arms, f"{2 + L} layers")
    fig.suptitle("Li2 Fig. 17: zero-initialised top layer in residual nets (curves end as the members stop at their sustained grok)")
    fig.savefig(ctx.figure_path("li2_zero_init_deep"))
