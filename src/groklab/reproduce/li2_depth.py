"""li2-depth — Sec. 6 / Fig. 9: deeper ReLU networks grok later; the bottom layer still learns
(distorted) Fourier features.

Depth is `model.extra_layers` L' ∈ {0, 1, 2} residual blocks x ← σ(x + Ux) on top of the first layer
(2-, 3- and 4-layer networks, as the reference's `other_layers`). Each depth is one ensemble of
seeds. Bottom-layer features: per node of W, the share of its non-trivial irrep power in its
dominant irrep (`groklab.li2.features.classify_nodes`), median over active nodes, after training vs
at initialisation. Fig. 9's sizes are not given; chosen here: σ = ReLU, class-centred
MSE, Adam lr 5e-3, weight decay 1e-3 (ReLU nets need more decay than x² ones to grok in a few
hundred epochs), training fraction 0.8.

Quick: Z23, K = 256, 3 seeds, 500 epochs. Full: Z71, K = 1024, fraction 0.5, 5 seeds, 3000 epochs. Members train
to the budget: the purity verdict reads the final bottom layer, which early stopping would read at the grok
instead (measured with stopping at Z71: purity 0.92 / 0.36 / 0.19 at the sustained grok for 2 / 3 / 4 layers).
The purity is also read at every stored snapshot (`purity_over_training` in the report, and the figure's middle
panel), which shows when after the grok the bottom layer sharpens.
"""

from __future__ import annotations

import numpy as np

from groklab.groups import get_group
from groklab.li2.experiments import node_summary
from groklab.train.cells import first_layer_over_training, grok_epochs, member_weights, metric_curves, train_cells
from groklab.li2.features import classify_nodes
from groklab.report.plots import ACCURACY_LABEL, EPOCH_LABEL, colours, new_figure
from groklab.reproduce import Verdict
from groklab.store import Store

CLAIM = "Deeper ReLU networks grok later, and their bottom layer still learns near-Fourier features"

QUICK = dict(group="Z23", fraction=0.8, seeds=3, base=["model.width=256", "train.epochs=500"])
FULL = dict(group="Z71", fraction=0.5, seeds=5, base=["model.width=1024", "train.epochs=3000", "train.checkpoint_every=500"])
DEPTHS = (0, 1, 2)


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    base = [*mode["base"], f"task.group={mode['group']}", f"task.train_fraction={mode['fraction']}",
            "model.activation=relu", "loss.kind=mse", "optim.kind=adam", "optim.lr=5e-3", "optim.weight_decay=1e-3",
            "train.eval_every=5", f"train.seeds=[{','.join(str(s) for s in range(seeds))}]"]
    cells = [(f"{2 + L} layers", [f"model.extra_layers={L}"]) for L in DEPTHS]
    trained = train_cells(base, cells, ctx.store_path, progress=ctx.progress, echo=ctx.echo)
    store = Store(ctx.store_path)
    group = get_group(mode["group"])

    grok = {c.label: grok_epochs(c) for c in trained}
    median = {k: float(np.median(v)) for k, v in grok.items()}
    over_training = {c.label: purity_over_training(store, c, group) for c in trained}
    purity = {k: float(np.median(p[:, -1])) for k, (_, p) in over_training.items()}
    purity0 = {k: float(np.median(p[:, 0])) for k, (_, p) in over_training.items()}
    nodes = {c.label: classify_nodes(member_weights(store, c.results[0]["run_id"])["W"], group) for c in trained}
    _figure(ctx, store, trained, median, over_training, nodes, group)
    ctx.extra["purity_over_training"] = {
        k: {"epochs": [int(e) for e in epochs], "median over seeds": [round(float(v), 3) for v in np.median(p, axis=0)]}
        for k, (epochs, p) in over_training.items()}

    labels = [c.label for c in trained]
    setting = (f"{mode['group']}, ReLU, K = {trained[0].cfg.model.width}, p = {mode['fraction']}, Adam 5e-3, wd 1e-3, "
               f"{seeds} seeds; median first epoch with test acc ≥ 0.95")
    return verdicts(labels, median, all(np.isfinite(grok[k]).all() for k in labels), purity, purity0, setting)


def verdicts(labels: list[str], median: dict, all_grok: bool, purity: dict, purity0: dict, setting: str) -> list[Verdict]:
    """The two verdicts from the median grok epochs and the bottom layer's purity (trained, at init) by depth,
    `labels` in depth order."""
    return [
        Verdict("deeper networks grok later", setting,
                {k: (int(v) if np.isfinite(v) else "censored") for k, v in median.items()},
                "every seed groks, and the median grok epoch strictly increases with depth",
                all_grok and all(median[a] < median[b] for a, b in zip(labels, labels[1:]))),
        Verdict("the bottom layer is near-Fourier after training at every depth",
                "median over seeds of the median (over active nodes) share of a node's non-trivial irrep power in its "
                "dominant irrep",
                {k: {"trained": round(purity[k], 3), "at init": round(purity0[k], 3)} for k in labels},
                "trained ≥ 0.5 and ≥ 2× its value at initialisation",
                all(purity[k] >= 0.5 and purity[k] >= 2 * purity0[k] for k in labels)),
    ]


def purity_over_training(store, cell, group) -> tuple[np.ndarray, np.ndarray]:
    """(epochs [E], purity [seeds, E]): each seed's median active-node purity of W at every stored snapshot
    (snapshots are taken at the same epochs for every member of an ensemble)."""
    trajectories = [first_layer_over_training(store, r["run_id"]) for r in cell.results]
    epochs = np.array([e for e, _ in trajectories[0]])
    return epochs, np.array([[node_summary(W, group)["purity_median"] for _, W in t] for t in trajectories])


def _figure(ctx, store, trained, median, over_training, nodes, group) -> None:
    fig = new_figure(19, 4.8)
    ax, px, bx = fig.subplots(1, 3, width_ratios=[1.2, 1, 1])
    cols = colours(len(trained))
    for colour, cell in zip(cols, trained):
        epochs, acc = metric_curves(store, cell)
        ax.plot(epochs, acc.mean(axis=0), color=colour, lw=1.8, label=f"{cell.label}: test, mean")
        ax.fill_between(epochs, acc.min(axis=0), acc.max(axis=0), color=colour, alpha=0.2)
        epochs, tr = metric_curves(store, cell, "train_acc")
        ax.plot(epochs, tr.mean(axis=0), color=colour, lw=1, ls="--", label=f"{cell.label}: train, mean")
        if np.isfinite(median[cell.label]):
            ax.axvline(median[cell.label], color=colour, ls=":", lw=1)
    ax.set(xlabel=EPOCH_LABEL, ylabel=ACCURACY_LABEL, ylim=(-0.02, 1.02),
           title="Accuracy by depth (band: seed range; dotted: median grok epoch)")
    # linear up to epoch 100, logarithmic beyond: the groks sit in the first tenth of a full-mode budget
    ax.set_xscale("symlog", linthresh=100, linscale=1.5)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    for colour, cell in zip(cols, trained):
        epochs, p = over_training[cell.label]
        px.plot(epochs, np.median(p, axis=0), "o-", color=colour, lw=1.8, ms=4, label=f"{cell.label}: median over seeds")
        px.fill_between(epochs, p.min(axis=0), p.max(axis=0), color=colour, alpha=0.2)
        if np.isfinite(median[cell.label]):
            px.axvline(median[cell.label], color=colour, ls=":", lw=1)
    px.set(xlabel=EPOCH_LABEL, ylabel="bottom-layer purity (median over active nodes)", ylim=(0, 1.02),
           title="Bottom-layer purity at each snapshot (dotted: median grok)")
    px.grid(alpha=0.3)
    px.legend(fontsize=8, loc="lower right")
    bins = np.linspace(0, 1, 21)
    for colour, cell in zip(cols, trained):
        n = nodes[cell.label]
        active = n["norm"] >= 0.25 * n["norm"].max()
        bx.hist(n["purity"][active].numpy(), bins=bins, histtype="step", lw=2, color=colour,
                label=f"{cell.label} ({int(active.sum())} active nodes, seed 0)")
    bx.set(xlabel=f"node purity (the dominant {group.name} irrep's share of non-trivial power)",
           ylabel="active nodes (count)", title="Bottom layer after training: mostly one frequency per node")
    bx.xaxis.label.set_fontsize(9)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Li2 Fig. 9: deeper ReLU networks ({group.name}) grok later; features stay (distorted) Fourier")
    fig.savefig(ctx.figure_path("li2_depth"))
