"""li2-ridge — Figs. 12–13 and Lemma 1: with the top layer solved by ridge regression at every step the
network still groks; and G_F(∞) = η(F̃F̃ᵀ+ηI)⁻¹ỸỸᵀF̃(F̃ᵀF̃+ηI)⁻¹ grows linearly in η.

Training (RC7): `model.ridge_lambda` = λ overwrites V with the ridge solution on the current
(uncentred) features and class-centred targets before every step (the reference's
`set_weight_reg`), so only W learns, through a top layer that is always at its Stage I fixed point.
Z_M, K = 256, σ = x², class-centred MSE, Adam lr 5e-3, weight decay 5e-5, 20 % test; λ = 1e-3 (the
reference's default until 29 Nov 2025; the paper does not state Fig. 12's λ). Each (M, top layer)
is one ensemble of seeds. Fig. 12/13: slower than a trained top layer for M = 23, faster for M ≥ 41.

Theory (no training): G_F(∞) on the full Z11 table with random unit first-layer rows, over η
(`groklab.li2.scans.gf_eta_scan`): Lemma 1 predicts ∝ η·ỸỸᵀF̃ for a wide layer (K ≫ n = 121),
vanishing as K grows (the NTK limit).

Quick: Z23 (800 epochs) and Z41 (200 epochs), 2 seeds. Full: M ∈ {23, 41, 89, 127}, 5 seeds,
1500 epochs for Z23 and 500 for the others.
"""

from __future__ import annotations

import numpy as np
import torch

from groklab.groups import get_group
from groklab.li2 import full_data, node_features
from groklab.train.cells import grok_epochs, train_cells
from groklab.li2.scans import gf_eta_scan, random_nodes
from groklab.report.plots import colours, new_figure
from groklab.reproduce import Verdict
from groklab.reproduce.panels import test_accuracy_bands
from groklab.store import Store

CLAIM = "A ridge-solved top layer still groks (Figs. 12–13); G_F(∞) grows linearly in η (Lemma 1)"

LAMBDA = 1e-3
QUICK = dict(epochs={23: 800, 41: 200}, seeds=2)
FULL = dict(epochs={23: 1500, 41: 500, 89: 500, 127: 500}, seeds=5)
TOPS = {"trained V (Adam)": [], f"ridge V (λ = {LAMBDA:g})": [f"model.ridge_lambda={LAMBDA}"]}
LEMMA_M, LEMMA_WIDTHS, ETAS = 11, (256, 2048), np.geomspace(1e-4, 10, 11)


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    base = ["model.width=256", "task.train_fraction=0.8", "model.activation=sqr", "loss.kind=mse", "optim.kind=adam",
            "optim.lr=5e-3", "optim.weight_decay=5e-5", "train.eval_every=5",
            f"train.seeds=[{','.join(str(s) for s in range(seeds))}]"]
    cells = [(f"Z{M} {top}", [f"task.group=Z{M}", f"train.epochs={epochs}", *extra])
             for M, epochs in mode["epochs"].items() for top, extra in TOPS.items()]
    trained = {c.label: c for c in train_cells(base, cells, ctx.store_path, progress=ctx.progress, echo=ctx.echo)}
    store = Store(ctx.store_path)
    grok = {label: grok_epochs(c) for label, c in trained.items()}
    median = {label: float(np.median(g)) for label, g in grok.items()}

    ctx.echo(f"  Lemma 1: G_F(∞) over η on Z{LEMMA_M}, K ∈ {list(LEMMA_WIDTHS)}")
    scans = lemma_scans()
    _figure(ctx, store, trained, median, scans, mode)

    ridge, plain = list(TOPS)[1], list(TOPS)[0]
    orders = list(mode["epochs"])
    return [
        groks_verdict({M: grok[f"Z{M} {ridge}"] for M in orders},
                      {M: trained[f"Z{M} {ridge}"].values("final_test_acc") for M in orders},
                      f"Z_M M ∈ {orders}, K = 256, x², MSE, Adam 5e-3, wd 5e-5, 20 % test, λ = {LAMBDA:g}, {seeds} seeds"),
        order_verdict({M: median[f"Z{M} {plain}"] for M in orders}, {M: median[f"Z{M} {ridge}"] for M in orders}),
        *lemma_verdicts(scans, ETAS <= 1e-2),
    ]


def groks_verdict(grok: dict, final_acc: dict, setting: str) -> Verdict:
    """Figs. 12–13's first verdict from the ridge top layer's runs: per M, each seed's grok epoch (∞ when it never
    reached the grokking test accuracy) and final test accuracy."""
    return Verdict("with the top layer replaced by its ridge solution every step, the network still groks", setting,
                   {f"Z{M}": f"{int(np.isfinite(g).sum())}/{len(g)} grokked, final test acc ≥ {np.min(final_acc[M]):.3f}"
                    for M, g in grok.items()},
                   "every seed reaches test accuracy ≥ 0.95", all(np.isfinite(g).all() for g in grok.values()))


def order_verdict(trained: dict, ridge: dict) -> Verdict:
    """Figs. 12–13's order from the median grok epochs per M of the trained and the ridge top layer."""
    fig12 = {f"Z{M}": {"trained V": _fmt(trained[M]), "ridge V": _fmt(ridge[M])} for M in trained}
    expected = all((ridge[M] > trained[M]) if M == 23 else (ridge[M] < trained[M]) for M in trained)
    return Verdict("ridge V is slower than a trained V for M = 23 and faster for M ≥ 41 (Figs. 12–13)",
                   "median grok epoch per top layer", fig12, "ridge later than trained at Z23, earlier at every larger M",
                   bool(expected))


def lemma_scans(widths=LEMMA_WIDTHS, etas=ETAS) -> dict:
    """{K: gf_eta_scan} of G_F(∞) over η on the full Z11 table with K random unit first-layer rows."""
    idx, labels = full_data(get_group(f"Z{LEMMA_M}"))
    Y = torch.nn.functional.one_hot(labels, LEMMA_M).to(torch.float64)
    return {K: gf_eta_scan(node_features(random_nodes(LEMMA_M, K, seed=1), idx), Y, etas) for K in widths}


def lemma_verdicts(scans: dict, small) -> list[Verdict]:
    """Lemma 1's two verdicts from the scans: the widest layer over the η where `small` holds, and the
    narrowest against the widest (the scans' first and last keys in width order)."""
    narrow, wide = scans[min(scans)], scans[max(scans)]
    return [
        Verdict("Lemma 1: for a wide random first layer G_F(∞) is linear in η and aligned with ỸỸᵀF̃",
                f"Z{LEMMA_M} full table (n = {LEMMA_M ** 2}), K = {max(scans)} random unit rows, σ = x², "
                f"η ∈ [{ETAS[small].min():g}, {ETAS[small].max():g}]",
                {"‖G_F(η)‖/η relative to η = 1e-4 (min)": round(float(wide["linearity"][small].min()), 4),
                 "cos(G_F, ỸỸᵀF̃) (min)": round(float(wide["cosine"][small].min()), 3)},
                "norm/η within 1 % of constant; cosine ≥ 0.9",
                bool(float(wide["linearity"][small].min()) >= 0.99 and float(wide["cosine"][small].min()) >= 0.9)),
        Verdict("G_F(∞) shrinks as the layer widens (no feature learning in the NTK limit)",
                f"‖G_F(∞)‖ at η = 1e-4, K = {min(scans)} vs {max(scans)}",
                {f"K={min(scans)}": f"{narrow['norm'][0]:.2e}", f"K={max(scans)}": f"{wide['norm'][0]:.2e}"},
                "at least 10× smaller at the larger width", bool(wide["norm"][0] * 10 <= narrow["norm"][0])),
    ]


def _fmt(x: float):
    return int(x) if np.isfinite(x) else "censored"


def _figure(ctx, store, trained, median, scans, mode) -> None:
    orders = list(mode["epochs"])
    panels = len(orders) + 1
    cols = min(panels, 3)  # full mode (five panels) wraps onto two rows
    rows = -(-panels // cols)
    fig = new_figure(5 * cols, 4.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax, M in zip(axes, orders):
        test_accuracy_bands(ax, store, [(top, trained[f"Z{M} {top}"], colour, median[f"Z{M} {top}"])
                                        for colour, top in zip(("#4c72b0", "#c44e52"), TOPS)], f"Z{M}")
    bx = axes[panels - 1]
    for colour, (K, scan) in zip(colours(len(scans)), scans.items()):
        bx.plot(scan["eta"], scan["norm"], "o-", color=colour, ms=4, label=f"K = {K}: ‖G_F(∞)‖")
        bx.plot(scan["eta"], scan["norm"][0] * scan["eta"] / scan["eta"][0], ":", color=colour, lw=1,
                label=f"K = {K}: linear in η")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set(xlabel="ridge coefficient η (paper's scale, no 1/n)", ylabel="‖G_F(∞)‖ (Frobenius norm)",
           title=f"Lemma 1 on Z{LEMMA_M}: random first layer, σ = x²")
    bx.grid(alpha=0.3, which="both")
    bx.legend(fontsize=8, loc="upper left")
    fig.suptitle("Li2 Figs. 12–13: a ridge-solved top layer still groks (σ = x², MSE, Adam lr 5e-3, wd 5e-5)")
    fig.savefig(ctx.figure_path("li2_ridge"))
