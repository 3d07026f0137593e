"""li2-zero-init — Sec. 3.2 / Figs. 14–16: a zero-initialised top layer V(0) = 0 groks earlier.

With V(0) = 0 the backpropagated gradient G_F holds only the signal term t·ỸỸᵀF̃ (no random ỸV₀ᵀ
part; Sec. 3.2), so feature learning starts at once. Setting (RC8): Z_M, σ = x², class-centred
MSE, full-batch Adam lr 5e-3, weight decay 5e-5, `model.top_init_scale` 0 vs 1 (PyTorch's default
init), several training fractions. Each (fraction, init) is one ensemble of seeds. The grok epoch is
the first evaluation with test accuracy ≥ 0.95 (members that never get there are censored and
count as later than any observed epoch). Besides the medians, the inits are compared seed for seed: a
seed fixes the split and W(0), so each pair differs only in V(0).

Quick: Z41, K = 256, fractions 0.5 and 0.8, 3 seeds, 400 epochs. Full: M ∈ {41, 89, 127}, K = 1024,
fractions 0.3, 0.4, 0.5, 0.8, 5 seeds, 2000 epochs; members stop once their grok is sustained
(`train.stop=sustained`: the grok epochs, all the verdicts read, are unchanged by it).
"""

from __future__ import annotations

import numpy as np

from groklab.train.cells import grok_epochs, metric_curves, train_cells
from groklab.report import stats
from groklab.report.plots import ACCURACY_LABEL, EPOCH_LABEL, new_figure
from groklab.reproduce import Verdict
from groklab.store import Store

CLAIM = "Zero-init top layer (V(0) = 0) groks earlier than the default init, most of all with scarce data"

QUICK = dict(orders=(41,), fractions=(0.5, 0.8), seeds=3, base=["model.width=256", "train.epochs=400"])
FULL = dict(orders=(41, 89, 127), fractions=(0.3, 0.4, 0.5, 0.8), seeds=5,
            base=["model.width=1024", "train.epochs=2000", "train.checkpoint_every=500", "train.stop=sustained"])
INITS = {"default init": 1.0, "zero init": 0.0}


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    base = [*mode["base"], "model.activation=sqr", "loss.kind=mse", "loss.centring=class", "optim.kind=adam",
            "optim.lr=5e-3", "optim.weight_decay=5e-5", "train.eval_every=5",
            f"train.seeds=[{','.join(str(s) for s in range(seeds))}]"]
    cells = [(f"Z{M} p={f} {name}", [f"task.group=Z{M}", f"task.train_fraction={f}", f"model.top_init_scale={scale}"])
             for M in mode["orders"] for f in mode["fractions"] for name, scale in INITS.items()]
    trained = {c.label: c for c in train_cells(base, cells, ctx.store_path, progress=ctx.progress, echo=ctx.echo)}
    store = Store(ctx.store_path)

    medians, grokked, epochs = {}, {}, {name: [] for name in INITS}
    for M in mode["orders"]:
        for f in mode["fractions"]:
            for name in INITS:
                g = grok_epochs(trained[f"Z{M} p={f} {name}"])
                medians[(M, f, name)] = float(np.median(g))
                grokked[(M, f, name)] = int(np.isfinite(g).sum())
                # members are in seed order in every cell, so the two lists pair up seed by seed
                epochs[name] += g.tolist()
    _figure(ctx, store, trained, mode, medians)

    pairs = stats.first_to_event(epochs["default init"], epochs["zero init"])
    return verdicts(medians, grokked, pairs, mode, seeds)


def verdicts(medians: dict, grokked: dict, pairs: dict, mode, seeds: int) -> list[Verdict]:
    """The three verdicts from the median grok epochs and grokked counts per (M, fraction, init) and the seed-for-seed
    comparison `pairs` (`stats.first_to_event(default, zero)`)."""
    def fmt(x):
        return "censored" if not np.isfinite(x) else int(x)

    earlier = {f"Z{M} p={f}": {"default": fmt(medians[(M, f, 'default init')]), "zero": fmt(medians[(M, f, 'zero init')])}
               for M in mode["orders"] for f in mode["fractions"]}
    ratio = {(M, f): medians[(M, f, "default init")] / medians[(M, f, "zero init")]
             for M in mode["orders"] for f in mode["fractions"]}
    lo, hi = min(mode["fractions"]), max(mode["fractions"])
    return [
        Verdict("zero init groks earlier than the default init at every training fraction",
                f"Z_M M ∈ {list(mode['orders'])}, x², MSE, Adam 5e-3, wd 5e-5, {seeds} seeds; median grok epoch "
                f"(test acc ≥ 0.95)", earlier, "median(zero) < median(default), and every zero-init seed groks",
                all(medians[(M, f, "zero init")] < medians[(M, f, "default init")]
                    and grokked[(M, f, "zero init")] == seeds for M in mode["orders"] for f in mode["fractions"])),
        Verdict("the speed-up is largest with scarce data",
                "ratio of median grok epochs default / zero at the smallest vs the largest fraction",
                {f"Z{M}": {f"p={lo}": round(ratio[(M, lo)], 2), f"p={hi}": round(ratio[(M, hi)], 2)}
                 for M in mode["orders"]},
                "ratio at the smallest fraction > ratio at the largest",
                all(ratio[(M, lo)] > ratio[(M, hi)] for M in mode["orders"])),
        _paired_verdict(pairs, mode, seeds),
    ]


def _paired_verdict(pairs: dict, mode, seeds: int) -> Verdict:
    """Medians hide the pairing: the two inits share each seed's split and W(0), so compare seed by seed.
    `pairs` is `stats.first_to_event(default, zero)`: wins_a = default first, wins_b = zero first."""
    later, earlier, ties = pairs["wins_a"], pairs["wins_b"], pairs["ties"]
    n = later + earlier + ties
    return Verdict("seed for seed (same split, same W(0)), zero init groks no later than the default init",
                   f"every (M, p, seed) of Z_M M ∈ {list(mode['orders'])}, p ∈ {list(mode['fractions'])}, {seeds} "
                   "seeds; grok epochs read every 5 epochs, so a tie is the same evaluation",
                   {"pairs": n, "zero init earlier": earlier, "tied": ties, "zero init later": later,
                    "sign test p (two-sided, ties dropped)": float(f"{pairs['p']:.3g}")},
                   "zero init later in no pair, earlier in most", later == 0 and 2 * earlier > n)


def _figure(ctx, store, trained, mode, medians) -> None:
    M = mode["orders"][0]
    fracs = mode["fractions"]
    fig = new_figure(5 * len(fracs) + 4.5, 4.6)
    axes = fig.subplots(1, len(fracs) + 1)
    styles = {"default init": ("#4c72b0", "default init (PyTorch, V ~ U(±1/√K))"),
              "zero init": ("#c44e52", "zero init (V(0) = 0)")}
    for ax, f in zip(axes, fracs):
        for name, (colour, label) in styles.items():
            epochs, acc = metric_curves(store, trained[f"Z{M} p={f} {name}"])
            ax.plot(epochs, acc.mean(axis=0), color=colour, lw=1.8, label=f"{label}, mean")
            ax.fill_between(epochs, acc.min(axis=0), acc.max(axis=0), color=colour, alpha=0.2)
            med = medians[(M, f, name)]
            if np.isfinite(med):
                ax.axvline(med, color=colour, ls=":", lw=1.2)
        ax.set(xlabel=EPOCH_LABEL, ylabel=f"test {ACCURACY_LABEL}", ylim=(-0.02, 1.02),
               title=f"Z{M}, training fraction {f} (band: seed range; dotted: median grok epoch)")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    bx = axes[-1]
    width = 0.8 / len(mode["orders"]) / 2
    for i, M2 in enumerate(mode["orders"]):
        for j, (name, (colour, _)) in enumerate(styles.items()):
            x = np.arange(len(fracs)) + (2 * i + j - len(mode["orders"]) + 0.5) * width
            vals = [medians[(M2, f, name)] for f in fracs]
            shown = [v if np.isfinite(v) else np.nan for v in vals]
            bx.bar(x, shown, width, color=colour, alpha=1.0 - 0.25 * i, label=f"Z{M2}, {name}")
    bx.set_xticks(np.arange(len(fracs)), [str(f) for f in fracs])
    bx.set(xlabel="training fraction p (of all pairs)", ylabel="median grok epoch (epochs; missing bar: censored)",
           title="Grok epoch by init")
    bx.legend(fontsize=8)
    bx.grid(alpha=0.3, axis="y")
    fig.suptitle("Li2 zero-init: V(0) = 0 starts feature learning at once (σ = x², MSE, Adam lr 5e-3, wd 5e-5)")
    fig.savefig(ctx.figure_path("li2_zero_init"))
