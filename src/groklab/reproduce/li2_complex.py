"""li2-complex — Figs. 10–11: complex weights grok faster than real ones (RC7, second half).

The reference's complex mode casts the real init to complex, and from there the gradient of Re(output)
in the imaginary parts is exactly zero: it trains the real network (tested in tests/test_models.py), so
the claim cannot be tested with it. Here the complex arm starts complex (`model.complex_init=true`: real
and imaginary parts i.i.d. uniform with E|w|² equal to the real init's second moment, see
`groklab.models.two_layer`), and the comparison is real vs complex-initialised nets at Figs. 10–11's
setting: Z_M, K = 256, σ = x², class-centred MSE, Adam lr 5e-3 (coupled L2) on every parameter (Muon is
defined for real matrices only), weight decay 5e-5, 20 % test. Each (M, arm) is one ensemble of seeds;
members stop at their first grok epoch (`train.stop=grok`), which is the measured quantity, so the
budget is paid only by runs that have not grokked. How complex each trained first layer is, is measured
too (`li2.features.complexness`: per active node σ₂/σ₁ of [Re w; Im w], 0 for a real row times a phase,
which computes what a real node does): a complex arm whose nodes became rotated real ones would test
nothing.

Quick: Z23 (400 epochs) and Z41 (200 epochs), 2 seeds. Full: M ∈ {23, 41, 89, 127}, 5 seeds, 1500
epochs for Z23 and 500 for the others (the budgets of li2-ridge at the same setting, where every real
run grokked within them).
"""

from __future__ import annotations

import numpy as np

from groklab.li2.features import active_nodes, complexness
from groklab.report.plots import new_figure
from groklab.reproduce import Verdict
from groklab.reproduce.panels import test_accuracy_bands
from groklab.store import Store
from groklab.train.cells import grok_epochs, member_weights, train_cells

CLAIM = "Complex weights (started complex) grok faster than real weights (Li2 Figs. 10–11)"

QUICK = dict(epochs={23: 400, 41: 200}, seeds=2)
FULL = dict(epochs={23: 1500, 41: 500, 89: 500, 127: 500}, seeds=5)
ARMS = {"real": ["model.complex_weights=false"],
        "complex": ["model.complex_weights=true", "model.complex_init=true"]}
MIN_COMPLEX = 0.1  # median complexness of active nodes below this: the run has (nearly) become a real net


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    base = ["model.width=256", "task.train_fraction=0.8", "model.activation=sqr", "loss.kind=mse", "optim.kind=adam",
            "optim.lr=5e-3", "optim.weight_decay=5e-5", "train.eval_every=5", "train.stop=grok",
            f"train.seeds=[{','.join(str(s) for s in range(seeds))}]"]
    cells = [(f"Z{M} {arm}", [f"task.group=Z{M}", f"train.epochs={epochs}", *extra])
             for M, epochs in mode["epochs"].items() for arm, extra in ARMS.items()]
    trained = {c.label: c for c in train_cells(base, cells, ctx.store_path, progress=ctx.progress, echo=ctx.echo)}
    store = Store(ctx.store_path)
    grok = {label: grok_epochs(c) for label, c in trained.items()}  # censored: ∞
    median = {label: float(np.median(g)) for label, g in grok.items()}
    imag = {M: [_complexness(member_weights(store, r["run_id"])["W"]) for r in trained[f"Z{M} complex"].results]
            for M in mode["epochs"]}
    _figure(ctx, store, trained, median, mode)

    orders = list(mode["epochs"])
    setting = (f"Z_M, K = 256, x², class-centred MSE, Adam 5e-3, wd 5e-5, 20 % test, {seeds} seeds, members stop "
               f"at their grok; budgets {', '.join(f'Z{M} {e}' for M, e in mode['epochs'].items())} epochs")
    grokked = {label: int(np.isfinite(g).sum()) for label, g in grok.items()}
    return verdicts(orders, median, grokked, imag, seeds, setting)


def verdicts(orders, median: dict, grokked: dict, imag: dict, seeds: int, setting: str) -> list[Verdict]:
    """The two verdicts from the median grok epochs and grokked counts per "Z{M} {arm}" and the complex runs'
    complexness per M."""
    per_m = {f"Z{M}": {arm: {"median grok epoch": _fmt(median[f"Z{M} {arm}"]),
                             "grokked": f"{grokked[f'Z{M} {arm}']}/{seeds}"} for arm in ARMS}
             for M in orders}
    faster = all(median[f"Z{M} complex"] < median[f"Z{M} real"] for M in orders)
    return [
        Verdict("complex weights grok faster than real weights (Figs. 10–11)", setting, per_m,
                "complex median grok epoch below the real one at every M (a run that never groks counts as later "
                "than any that does)", faster),
        Verdict("complex-initialised weights stay complex through training (not phase-rotated real nodes)",
                "median over active nodes of σ₂/σ₁ of [Re w; Im w] (0: a real row times a phase) of each trained "
                "first layer, at its grok epoch or the budget",
                {f"Z{M}": {"min": round(min(v), 3), "max": round(max(v), 3)} for M, v in imag.items()},
                f"≥ {MIN_COMPLEX} in every complex run", all(min(v) >= MIN_COMPLEX for v in imag.values())),
    ]


def _complexness(W) -> float:
    return float(complexness(W)[active_nodes(W)].median())


def _fmt(x: float):
    return int(x) if np.isfinite(x) else "censored"


def _figure(ctx, store, trained, median, mode) -> None:
    orders = list(mode["epochs"])
    panels = len(orders) + 1
    cols = min(panels, 3)
    rows = -(-panels // cols)
    fig = new_figure(5 * cols, 4.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    colours = {"real": "#4c72b0", "complex": "#c44e52"}
    for ax, M in zip(axes, orders):
        test_accuracy_bands(ax, store, [(f"{arm} weights", trained[f"Z{M} {arm}"], colour, median[f"Z{M} {arm}"])
                                        for arm, colour in colours.items()], f"Z{M}")
    bx = axes[panels - 1]
    for arm, colour in colours.items():
        values = [median[f"Z{M} {arm}"] for M in orders]
        bx.plot(orders, [v if np.isfinite(v) else np.nan for v in values], "o-", color=colour, label=f"{arm} weights")
    bx.set(xlabel="group order M of Z_M", ylabel="median grok epoch (epochs)", title="grok epoch by group order")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=8)
    fig.suptitle("Li2 Figs. 10–11: real vs complex-initialised weights (σ = x², MSE, Adam 5e-3, wd 5e-5, K = 256)")
    fig.savefig(ctx.figure_path("li2_complex"))
