"""Statistics and figures of `groklab reproduce muon-width-batch`, from one row per run.

Rows: width, batch, optimizer, lr, seed, grok_epoch (None/NaN: never grokked), observed_until, best_test_acc.
Per cell (width, batch) and optimizer the lr is chosen on `select_seed` alone; the comparison reads the
other seeds at the chosen lrs. Never-grokked runs are censored at the epoch they were last observed.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from groklab.report import stats
from groklab.report.plots import EPOCH_LABEL, new_figure
from groklab.reproduce import Verdict

OPTIMIZERS = ("adamw", "muon")
LABELS = {"adamw": "AdamW", "muon": "Muon"}
N_BOOT = 2000
ALPHA = 0.05


def _grokked(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def choose_lr(runs: pd.DataFrame, select_seed: int) -> float:
    """The lr whose `select_seed` run grokked first; never-grokked runs rank after every grokked one, then by
    best test accuracy (higher first), then by the grid's order."""
    rows = runs[runs.seed == select_seed]
    if rows.empty:
        raise ValueError(f"no run with the selection seed {select_seed}")

    def rank(r):
        acc = r.best_test_acc if r.best_test_acc is not None and not pd.isna(r.best_test_acc) else -1.0
        return (0, float(r.grok_epoch), -acc) if _grokked(r.grok_epoch) else (1, math.inf, -acc)

    return float(min(rows.itertuples(), key=rank).lr)


def km_median_or_none(epochs, observed) -> float | None:
    """Kaplan–Meier median grok epoch; None when fewer than half the runs grokked (beyond the budget)."""
    m = stats.km_median(stats.kaplan_meier(*stats.survival_data(epochs, observed)))
    return None if math.isnan(m) else m


def _median_for_bootstrap(epochs: np.ndarray, observed: np.ndarray, budget: int) -> float:
    # an undefined median lies beyond the budget; for the interval it is placed at the budget, so a CI end
    # at the budget reads "at least"
    m = km_median_or_none(epochs, observed)
    return float(budget) if m is None else m


def median_difference(a: pd.DataFrame, m: pd.DataFrame, budget: int, seed: int = 0) -> dict:
    """Muon − AdamW KM median grok epoch, with a percentile bootstrap CI that resamples seeds within each arm."""
    ea, oa = a.grok_epoch.astype(float).to_numpy(), a.observed_until.astype(float).to_numpy()
    em, om = m.grok_epoch.astype(float).to_numpy(), m.observed_until.astype(float).to_numpy()
    med_a, med_m = km_median_or_none(ea, oa), km_median_or_none(em, om)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(N_BOOT):
        ia, im = rng.integers(0, len(ea), len(ea)), rng.integers(0, len(em), len(em))
        diffs.append(_median_for_bootstrap(em[im], om[im], budget) - _median_for_bootstrap(ea[ia], oa[ia], budget))
    diff = (None if med_a is None and med_m is None else
            (budget if med_m is None else med_m) - (budget if med_a is None else med_a))
    return {"adamw": med_a, "muon": med_m, "diff": diff, "bounded": med_a is None or med_m is None,
            "ci": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))]}


def _label(v: float | None, budget: int) -> str:
    return f">{budget}" if v is None else f"{v:.0f}"


def analyse(runs: pd.DataFrame, *, select_seed: int, budget: int) -> dict:
    """Per cell: chosen lrs, the judged runs' KM medians, their difference with CI, log-rank; Holm over cells."""
    runs = runs.copy()
    runs["grok_epoch"] = runs.grok_epoch.astype(float)
    cells = []
    for (width, batch), cell in runs.groupby(["width", "batch"], sort=False):
        lr = {o: choose_lr(cell[cell.optimizer == o], select_seed) for o in OPTIMIZERS}
        judged = {o: cell[(cell.optimizer == o) & (cell.lr == lr[o]) & (cell.seed != select_seed)] for o in OPTIMIZERS}
        d = median_difference(judged["adamw"], judged["muon"], budget)
        both = pd.concat([judged["adamw"], judged["muon"]])
        t, e = stats.survival_data(both.grok_epoch, both.observed_until)
        lr_test = stats.logrank(t, e, both.optimizer.tolist())
        muon_i = lr_test["groups"].index("muon") if "muon" in lr_test["groups"] else None
        muon_ahead = muon_i is not None and lr_test["observed"][muon_i] > lr_test["expected"][muon_i]
        cells.append({
            "width": int(width), "batch": str(batch), "lr": lr,
            "grokked": {o: int(judged[o].grok_epoch.notna().sum()) for o in OPTIMIZERS},
            "n": {o: int(len(judged[o])) for o in OPTIMIZERS},
            "median": {o: d[o] for o in OPTIMIZERS},
            "median_label": {o: _label(d[o], budget) for o in OPTIMIZERS},
            "diff": d["diff"], "diff_ci": d["ci"], "diff_bounded": d["bounded"],
            "diff_label": ("n/a (neither arm's median within the budget)" if d["diff"] is None else
                           # an unreached median lies beyond the budget: Muon's makes the difference a lower
                           # bound (≥), AdamW's an upper one (≤)
                           f"{'≥' if d['muon'] is None else '≤' if d['adamw'] is None else ''}"
                           f"{d['diff']:+.0f} epochs (95% CI {d['ci'][0]:+.0f} to {d['ci'][1]:+.0f})"),
            "logrank_p": 1.0 if math.isnan(lr_test["p"]) else float(lr_test["p"]), "muon_ahead": bool(muon_ahead),
            "km": {o: stats.kaplan_meier(*stats.survival_data(judged[o].grok_epoch, judged[o].observed_until))
                   .to_dict("records") for o in OPTIMIZERS},
        })
    holm = stats.holm([c["logrank_p"] for c in cells]) if cells else []
    for c, p in zip(cells, holm):
        c["holm_p"] = float(p)
    return {"cells": cells, "select_seed": select_seed, "budget": budget}


def verdicts(result: dict, setting: str) -> list[Verdict]:
    """Pre-stated: (1) Muon's median is below AdamW's in every cell; (2) at least one cell's log-rank
    difference, Muon ahead, survives Holm's correction at 0.05."""
    cells = result["cells"]
    below = [c for c in cells if c["diff"] is not None and c["diff"] < 0 and not (c["median"]["muon"] is None)]
    survivors = [c for c in cells if c["holm_p"] < ALPHA and c["muon_ahead"]]
    name = lambda c: f"d={c['width']}/B={c['batch']}"  # noqa: E731
    return [
        Verdict("Muon's KM median grok epoch is below AdamW's in every width × batch cell", setting,
                f"Muon below in {len(below)} of {len(cells)} cells"
                + (f" ({', '.join(name(c) for c in below)})" if below else ""),
                f"all {len(cells)} cells", bool(cells) and len(below) == len(cells)),
        Verdict("in at least one cell Muon groks sooner beyond chance (log-rank, Holm-corrected p < 0.05)",
                setting, (f"{len(survivors)} cell(s) survive: {', '.join(name(c) for c in survivors)}" if survivors
                          else "no cell survives; smallest Holm p "
                          + (f"{min(c['holm_p'] for c in cells):.3g}" if cells else "n/a")),
                "at least one cell", bool(survivors)),
    ]


def heatmap_figure(result: dict, *, title: str):
    """Muon − AdamW median grok epoch per (width, batch) cell, annotated with the CI and the Holm p."""
    cells = result["cells"]
    widths = sorted({c["width"] for c in cells})
    batches = list(dict.fromkeys(c["batch"] for c in cells))
    grid = np.full((len(widths), len(batches)), np.nan)
    for c in cells:
        if c["diff"] is not None:
            grid[widths.index(c["width"]), batches.index(c["batch"])] = c["diff"]
    fig = new_figure(2.6 * len(batches) + 2.5, 1.5 * len(widths) + 1.8)
    ax = fig.add_subplot()
    span = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-span, vmax=span, aspect="auto")  # negative (Muon sooner): blue
    for c in cells:
        i, j = widths.index(c["width"]), batches.index(c["batch"])
        text = ("n/a" if c["diff"] is None else
                f"{c['diff']:+.0f}{' (bound)' if c['diff_bounded'] else ''}\n[{c['diff_ci'][0]:+.0f}, "
                f"{c['diff_ci'][1]:+.0f}]") + f"\nHolm p {c['holm_p']:.2g}"
        dark = c["diff"] is not None and abs(c["diff"]) > 0.6 * span
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(batches)), [f"B = {b}" for b in batches])
    ax.set_yticks(range(len(widths)), [f"d = {w}" for w in widths])
    fig.colorbar(image, ax=ax, label="Muon − AdamW median grok epoch (blue: Muon sooner)")
    ax.set_title(textwrap.fill(title, 70), fontsize=9)  # the design's description is long: wrap, never clip
    return fig


def survival_figure(result: dict, *, budget: int):
    """Kaplan–Meier curves of the judged seeds, one panel per cell, AdamW and Muon at their chosen lrs."""
    from groklab.report.plots_sweep import OPTIMISER_COLOURS

    cells = result["cells"]
    cols = len({c["batch"] for c in cells}) or 1
    rows = math.ceil(len(cells) / cols) or 1
    fig = new_figure(4.0 * cols, 2.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, c in zip(axes, cells):
        for o, style in (("adamw", "-"), ("muon", "--")):
            km = pd.DataFrame(c["km"][o])
            times = [0.0, *km.time.tolist(), float(budget)]
            surv = [1.0, *km.survival.tolist(), km.survival.iloc[-1] if len(km) else 1.0]
            ax.step(times, surv, where="post", color=OPTIMISER_COLOURS[o], ls=style,
                    label=f"{LABELS[o]} lr {c['lr'][o]:g} ({c['grokked'][o]}/{c['n'][o]} grokked)")
        ax.set(title=f"d = {c['width']}, B = {c['batch']}", ylim=(-0.03, 1.03), xlim=(0, budget))
        ax.set_xlabel(EPOCH_LABEL, fontsize=8)
        ax.set_ylabel("not yet grokked", fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(cells):]:
        ax.set_visible(False)
    fig.suptitle("Kaplan–Meier, judged seeds (solid AdamW, dashed Muon)", fontsize=10)
    return fig
