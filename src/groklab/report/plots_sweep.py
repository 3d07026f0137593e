"""Figures of a sweep: phase diagram, grok-epoch distributions, survival curves, test curves by setting
(and their multi-panel forms that the Muon study uses).

Same conventions as `plots`: frames/arrays in, a pyplot-free `Figure` out, every axis labelled
with its unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from groklab.report.plots import ACCURACY_LABEL, EPOCH_LABEL, colours, new_figure


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted, distinct centres (midpoints; the outer cells mirror their neighbour)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if v[0] else np.array([-0.5, 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _boundary(order: int, c: float, d_max: int) -> float:
    """Li2's predicted critical fraction, NaN where it leaves (0, 1) (tiny groups: every pair is needed)."""
    from groklab.errors import GroklabError
    from groklab.li2.theory import critical_ratio

    try:
        return critical_ratio(order, c=c, d_max=d_max)
    except GroklabError:
        return float("nan")


def phase_figure(table: pd.DataFrame, *, c: float, fitted: dict | None = None,
                 title: str = "Phase diagram: test accuracy vs training fraction and |G|") -> Figure:
    """Mean final test accuracy per (|G|, training fraction) cell with the predicted boundary.

    table: columns order, fraction, test_acc (one row per run) and optionally d_max (largest irrep
    degree). The boundary is p* = corr·c·ln M/M (Li2 Thm 4 / Fig. 5; corr = d_max/2 for non-abelian
    groups), drawn for each d_max present; `fitted` (from `fit_critical_constant`) adds the boundary
    with the constant fitted to these cells and the measured transition points.
    """
    cells = table.groupby(["order", "fraction"], as_index=False)["test_acc"].mean()
    orders = np.sort(cells["order"].unique())
    x_edges = _edges(orders)
    fig = new_figure(8, 5.5)
    ax = fig.add_subplot()
    # A shared grid of fractions (missing cells left empty) when the columns share their fractions;
    # otherwise one column per order with its own cells: critical-ratio sweeps probe every M at its
    # own fractions (p = c·ln M/M), so their rows do not line up.
    all_fracs = np.sort(cells["fraction"].unique())
    widest = cells.groupby("order")["fraction"].nunique().max()
    shared = all_fracs.size <= 1.5 * widest
    y_lo, y_hi, mesh, missing = np.inf, -np.inf, None, False
    for i, order in enumerate(orders):
        column = cells[cells["order"] == order].set_index("fraction")["test_acc"].sort_index()
        fracs = all_fracs if shared else column.index.to_numpy()
        values = column.reindex(fracs).to_numpy()
        missing |= bool(np.isnan(values).any())
        y_edges = np.clip(_edges(fracs), 1e-4, 1.0)
        mesh = ax.pcolormesh(x_edges[i : i + 2], y_edges, np.ma.masked_invalid(values[:, None]), cmap="viridis",
                             vmin=0, vmax=1, edgecolors="white", linewidth=0.5)
        y_lo, y_hi = min(y_lo, y_edges[0]), max(y_hi, y_edges[-1])
    fig.colorbar(mesh, ax=ax, label="final test accuracy (fraction, mean over seeds)")
    ragged = missing or not shared
    lo, hi = x_edges[0], x_edges[-1]
    m = np.arange(max(2, int(np.floor(lo))), int(np.ceil(hi)) + 1)
    d_maxes = sorted(int(d) for d in table["d_max"].unique()) if "d_max" in table else [1]
    by_corr: dict[float, list[int]] = {}  # d_max = 2 has correction 1: one line, not two drawn on top of each other
    for d in d_maxes:
        by_corr.setdefault(1.0 if d <= 1 else d / 2, []).append(d)
    for corr, ds in by_corr.items():
        kinds = ", ".join("abelian" if d <= 1 else f"d_max = {d}" for d in ds)
        scale = f"{c:g}" if corr == 1 else f"{corr:g}·{c:g}"
        ax.plot(m, [_boundary(int(x), c, ds[0]) for x in m], color="white", lw=2.2, ls="--" if corr == 1 else "-.",
                label=f"predicted p* = {scale}·ln M/M ({kinds})")
    if fitted and np.isfinite(fitted.get("c", np.nan)):
        ax.plot(m, fitted["c"] * np.log(m) / m, color="#ff7f0e", lw=1.8, label=f"fitted c = {fitted['c']:.3g}")
        pts = [(o, p) for o, p in fitted.get("p_star", {}).items() if np.isfinite(p)]
        if pts:
            ax.plot(*zip(*pts), "o", color="#ff7f0e", mec="black", label="measured transition (acc = 0.5)")
    if not shared and y_hi / y_lo > 8:
        ax.set_yscale("log")  # fractions ∝ ln M/M span a decade across group sizes
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="group order |G| = M (elements)", ylabel="training fraction p (of all pairs)", title=title,
           xlim=(lo, hi), ylim=(y_lo, y_hi))
    handles, _ = ax.get_legend_handles_labels()
    if ragged:
        ax.set_facecolor("0.85")  # where a column has no cell, the background shows
        handles.append(Patch(facecolor="0.85", edgecolor="white", label="no completed run"))
    ax.legend(handles=handles, fontsize=8, loc="upper right", facecolor="0.35", labelcolor="white", framealpha=0.8)
    return fig


@dataclass
class GrokGroup:
    """Grok epochs of the runs of one setting; None/NaN where a run did not grok (censored)."""

    label: str
    first: np.ndarray  # first-crossing grok epoch per run (NaN: censored)
    sustained: np.ndarray  # sustained grok epoch per run (NaN: censored)
    censor_at: np.ndarray  # last observed epoch per run (budget or divergence), the censoring time


# Grok epochs are right-censored: a run that never grokked has no grok epoch. Boxes therefore hold the
# grokked runs only and the censored ones are counted in the tick labels, never plotted at the budget.
def _box_panel(ax, labels: Sequence[str], data: Sequence[np.ndarray], censored: Sequence[int], palette) -> None:
    positions = np.arange(1, len(labels) + 1)
    kept = [i for i, d in enumerate(data) if d.size]
    if kept:
        box = ax.boxplot([data[i] for i in kept], positions=positions[kept], widths=0.55, patch_artist=True,
                         showfliers=False, medianprops=dict(color="black"))
        for patch, i in zip(box["boxes"], kept):
            patch.set(facecolor=palette[i], alpha=0.4)
    rng = np.random.default_rng(0)  # fixed jitter: the same figure on every build
    for i, d in enumerate(data):
        ax.plot(positions[i] + rng.uniform(-0.15, 0.15, d.size), d, "o", color=palette[i], ms=4, alpha=0.8)
        if not d.size:
            ax.text(positions[i], 0.5, "no run\ngrokked", transform=ax.get_xaxis_transform(), ha="center",
                    va="center", color="0.45", fontsize=9)
    ticks = [f"{label}\n{d.size} grokked\n{c} censored" for label, d, c in zip(labels, data, censored)]
    ax.set_xticks(positions, ticks, fontsize=8, rotation=20 if len(labels) > 4 else 0)
    ax.set_xlim(0.4, len(labels) + 0.6)
    ax.grid(alpha=0.3, axis="y")


def _survival_steps(ax, km: pd.DataFrame, colour, budget: float | None, style: str = "-", label: str | None = None,
                    lw: float = 1.6, offset: float = 0.0, zorder: float = 2) -> None:
    """S(t) of one Kaplan–Meier frame as a step curve from (0, 1), held to `budget`, censoring ticked;
    `offset` shifts it vertically (drawing only) so that arms with equal curves stay visible."""
    t = np.concatenate([[0.0], km["time"].to_numpy(float)])
    s = np.concatenate([[1.0], km["survival"].to_numpy(float)]) + offset
    if budget is not None and t[-1] < budget:
        t, s = np.append(t, budget), np.append(s, s[-1])
    ax.step(t, s, where="post", color=colour, ls=style, lw=lw, label=label, zorder=zorder)
    cens = km[km["censored"] > 0]
    ax.plot(cens["time"], cens["survival"] + offset, "|", color=colour, ms=10, mew=1.5, zorder=zorder)


ARM_OFFSET = 0.012  # vertical spacing of survival arms, in survival fraction: visible, far below one run's step


def arm_styles(n: int) -> list[tuple[float, float]]:
    """(line width, vertical offset) per arm: earlier arms wider and drawn first, offsets centred on 0,
    so an arm whose curve equals another's still shows beside and beneath it."""
    return [(1.2 + 1.6 * (n - 1 - i) / max(n - 1, 1), (i - (n - 1) / 2) * ARM_OFFSET) for i in range(n)]


def _finite(values) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)


def grok_box_figure(groups: Sequence[GrokGroup], *, title: str = "Grok epochs per setting") -> Figure:
    """Boxplots (Muon paper Fig. 4 style) of first-crossing and sustained grok epochs, runs as dots;
    censored runs are counted under each box, never plotted at the budget."""
    fig = new_figure(max(7.0, 1.3 * len(groups) + 5), 4.8)
    axes = fig.subplots(1, 2, sharey=True)
    palette = colours(len(groups))
    for ax, attr, name in ((axes[0], "first", "first crossing"), (axes[1], "sustained", "sustained")):
        data = [_finite(getattr(g, attr)) for g in groups]
        censored = [len(g.first) - d.size for g, d in zip(groups, data)]
        _box_panel(ax, [g.label for g in groups], data, censored, palette)
        ax.set(title=f"{name} grok epoch", xlabel="setting")
    axes[0].set_ylabel("grok epoch (epochs; grokked runs only)")
    handles = [Line2D([], [], color="black", label="median (box: quartiles, whiskers: 1.5·IQR)"),
               Line2D([], [], marker="o", ls="", color="0.4", label="one run")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(title, fontsize=13)
    return fig


def box_panels_figure(panels: Sequence[tuple[str, Mapping[str, Sequence[float]], Mapping[str, int]]], *,
                      title: str, width_ratios: Sequence[float] | None = None) -> Figure:
    """Side-by-side grok-epoch boxplots, one panel per (title, label → grok epochs, label → censored
    count); a label's colour follows its optimiser (".../AdamW", ".../Muon") so panels agree."""
    widths = list(width_ratios or [1] * len(panels))
    fig = new_figure(max(5.0, 2.8 * sum(widths) + 1.5), 4.8)
    axes = fig.subplots(1, len(panels), width_ratios=widths, squeeze=False)[0]
    for ax, (panel_title, groups, censored) in zip(axes, panels):
        labels = list(groups)
        _box_panel(ax, labels, [_finite(groups[k]) for k in labels], [censored.get(k, 0) for k in labels],
                   [_optimiser_colour(k, i) for i, k in enumerate(labels)])
        ax.set(title=panel_title, xlabel="setting")
    axes[0].set_ylabel("grok epoch (epochs; grokked runs only)")
    fig.suptitle(title, fontsize=11)
    return fig


def survival_figure(curves: Sequence[tuple[str, pd.DataFrame, pd.DataFrame | None]], *, budget: float,
                    title: str = "Kaplan–Meier: fraction of runs not yet grokked") -> Figure:
    """Step curves S(t) per setting (first crossing solid, sustained dashed), censoring ticks marked;
    arms are drawn with decreasing widths and small vertical offsets (`arm_styles`), so equal curves
    do not hide each other.

    curves: (label, km_first, km_sustained) with `groklab.report.stats.kaplan_meier` frames
    (time, at_risk, events, censored, survival)."""
    fig = new_figure(8, 4.8)
    ax = fig.add_subplot()
    palette = colours(len(curves))
    for i, ((label, first, sustained), colour, (lw, offset)) in enumerate(zip(curves, palette, arm_styles(len(curves)))):
        for km, style in ((first, "-"), (sustained, "--")):
            if km is not None and not km.empty:
                _survival_steps(ax, km, colour, budget, style, lw=lw, offset=offset, zorder=2 + i)
    handles = [Line2D([], [], color=c, lw=lw, label=lab) for (lab, _, _), c, (lw, _) in
               zip(curves, palette, arm_styles(len(curves)))]
    handles += [Line2D([], [], color="0.3", ls="-", label="first crossing"),
                Line2D([], [], color="0.3", ls="--", label="sustained"),
                Line2D([], [], color="0.3", marker="|", ls="", ms=10, label="censored run")]
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set(xlabel=EPOCH_LABEL, ylabel="runs not yet grokked (fraction)", title=title, ylim=(-0.04, 1.06),
           xlim=(0, budget * 1.03))
    ax.grid(alpha=0.3)
    return fig


def survival_panels_figure(panels: Sequence[tuple[str, Mapping[str, pd.DataFrame]]], *, title: str,
                           budget: float | None = None, ncols: int | None = None) -> Figure:
    """Kaplan–Meier curves side by side, one panel per (title, label → `kaplan_meier` frame), `ncols` a row.

    Curves that would coincide stay apart: each label's line is drawn a little thinner and dashed
    differently than the one before it, so an arm under another still shows."""
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig = new_figure(max(5.0, 3.7 * ncols), 4.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (panel_title, curves) in zip(axes, panels):
        for i, (label, km) in enumerate(curves.items()):
            n = int(km["at_risk"].iloc[0]) if len(km) else 0
            _survival_steps(ax, km, _optimiser_colour(label, i), budget, style=("-", "--", ":", "-.")[i % 4],
                            label=f"{label} (n={n})")
        ax.set(xlabel=EPOCH_LABEL, ylabel="runs not yet grokked (fraction)", ylim=(-0.02, 1.02))
        ax.set_title(panel_title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig


OPTIMISER_COLOURS = {"adamw": "#1f77b4", "muon": "#d62728"}


def _optimiser_colour(label: str, i: int) -> str:
    return OPTIMISER_COLOURS.get(str(label).split("/")[-1].lower(), colours(max(6, i + 1))[i])


def group_curves_figure(metrics: pd.DataFrame, run_groups: dict[str, str], *,
                        title: str = "Test accuracy of every run, by setting") -> Figure:
    """Test accuracy per run (thin) and the per-setting median over runs (bold); run_groups: run_id ->
    setting label, in the order the legend lists them."""
    labels = list(dict.fromkeys(run_groups.values()))
    palette = dict(zip(labels, colours(len(labels))))
    fig = new_figure(9, 4.8)
    ax = fig.add_subplot()
    test = metrics.dropna(subset=["test_acc"])
    for run_id, rows in test.groupby("run_id"):
        if run_id in run_groups:
            ax.plot(rows["epoch"], rows["test_acc"], color=palette[run_groups[run_id]], lw=0.7, alpha=0.45)
    for label in labels:
        ids = [r for r, g in run_groups.items() if g == label]
        med = test[test["run_id"].isin(ids)].groupby("epoch")["test_acc"].median()
        ax.plot(med.index, med.to_numpy(), color=palette[label], lw=2.4)
    handles = [Line2D([], [], color=palette[lab], lw=2.4, label=lab) for lab in labels]
    handles += [Line2D([], [], color="0.4", lw=0.7, label="one run"), Line2D([], [], color="0.4", lw=2.4, label="median of the setting")]
    ax.legend(handles=handles, fontsize=8, loc="best")
    last = float(test["epoch"].max()) if not test.empty else 1.0
    ax.set(xlabel=EPOCH_LABEL, ylabel=f"test {ACCURACY_LABEL}", title=title, ylim=(-0.03, 1.03), xlim=(0, last))
    ax.grid(alpha=0.3)
    return fig
