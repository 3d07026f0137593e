"""Figures of one run (an ensemble of members): curves, Li2 diagnostics, irrep spectra, energy census.

Every function takes frames/arrays and returns a `matplotlib.figure.Figure`. Figures are built
without pyplot, so nothing here touches global matplotlib state (no backend switch, no open-figure
registry): the report can run inside a notebook or a test process without side effects. Every
figure has a title, axis labels with units and a legend wherever lines differ. Sweep-level figures
(phase diagram, grok-epoch distributions, survival curves) are in `plots_sweep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from groklab.models.activations import ACTIVATIONS

ACCURACY_LABEL = "accuracy (fraction)"
EPOCH_LABEL = "epoch"
STAGE_COLOURS = {"I": "#fde9c9", "II": "#d8ecd2", "III": "#d6e2f3"}
STAGE_NAMES = {"I": "stage I (lazy)", "II": "stage II (independent features)", "III": "stage III (interactive)"}
MEMORIZATION_MARKER, GROK_MARKER = "o", "*"
PURE_COLOUR, NEAR_COLOUR, MIXED_COLOUR = "#4c72b0", "#a9c0e3", "#a0a0a0"
PURE, NEAR_PURE = 0.99, 0.9  # share of a node's power in its dominant irrep: "pure", "nearly pure"
MAX_STRIP_ROWS = 12

# Axis labels of the Li2 diagnostics the training hook stores, in the order of
# docs/li2-quantities.md#training-diagnostics; any other `li2.*` key is plotted under its own name.
LI2_LABELS = {
    "li2.gf_norm": ("‖G_F‖ = ‖P₁⊥(Y − Ŷ)V‖ (paper)", "Frobenius norm"),
    "li2.gf_norm_ref": ("‖(Y − 1/C − Ŷ)V‖ (reference dF_norm)", "Frobenius norm"),
    "li2.gf_stage2_cos": ("G_F vs stage-II signal ỸỸᵀF̃", "cosine similarity"),
    "li2.kernel_offdiag": ("off-diagonality of F̃ᵀF̃", "mean |off-diag| / mean |diag|"),
    "li2.ff_ideal_dist": ("FFᵀ distance from aI + b11ᵀ", "relative Frobenius distance"),
    "li2.ff_ideal_dist_c": ("F̃F̃ᵀ distance from aI + b11ᵀ", "relative Frobenius distance"),
    "li2.dW_cos": ("consecutive updates ΔW_t, ΔW_t+1", "cosine similarity"),
    "li2.dV_cos": ("consecutive updates ΔV_t, ΔV_t+1", "cosine similarity"),
    "li2.v_ridge_dist": ("‖V − V_ridge(F)‖ / ‖V_ridge‖ (stage I)", "relative distance"),
    "li2.sign_match": ("Thm 6 sign rule, most similar node pairs", "fraction of pairs"),
    "li2.coverage": ("irreps covered by active nodes", "fraction of non-trivial irreps"),
    "li2.purity": ("purity of active nodes' dominant irrep", "fraction of node power"),
    "li2.active_frac": ("active nodes (‖w_j‖ ≥ ¼ max)", "fraction of nodes"),
}


@dataclass
class Member:
    """What a figure needs to know about one run: its label, colour and grokking milestones."""

    run_id: str
    label: str
    colour: str
    memorization_epoch: int | None = None
    grok_epoch: int | None = None
    stages: dict = field(default_factory=dict)  # {"I": start epoch, "II": ..., "III": ...}


def colours(n: int) -> list[str]:
    """Distinct colours for n lines (tab10, then tab20 beyond ten)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def stage_intervals(stages: dict, last_epoch: float) -> list[tuple[str, float, float]]:
    """(name, start, end) of each stage with a start epoch, ending where the next begins (or at the end)."""
    starts = sorted(((float(e), name) for name, e in (stages or {}).items() if e is not None and name in STAGE_COLOURS))
    out = []
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else float(last_epoch)
        if end > start:
            out.append((name, start, end))
    return out


def _shade_stages(ax, stages: dict, last_epoch: float) -> list:
    handles = []
    for name, start, end in stage_intervals(stages, last_epoch):
        ax.axvspan(start, end, color=STAGE_COLOURS[name], alpha=0.8, zorder=0, lw=0)
        handles.append(Patch(color=STAGE_COLOURS[name], label=STAGE_NAMES[name]))
    return handles


def _member_handles(members: Sequence[Member]) -> list:
    """One legend line per distinct label (members of one group share a label and a colour)."""
    seen = {}
    for m in members:
        seen.setdefault(m.label, Line2D([], [], color=m.colour, lw=2, label=m.label))
    return list(seen.values())


def _milestone_handles() -> list:
    return [Line2D([], [], color="0.3", marker=MEMORIZATION_MARKER, ls="", mfc="white", label="memorization epoch"),
            Line2D([], [], color="0.3", marker=GROK_MARKER, ls="", ms=11, label="grok epoch")]


def _value_at(frame: pd.DataFrame, column: str, epoch: int | None) -> float | None:
    if epoch is None or frame.empty:
        return None
    rows = frame.dropna(subset=[column])
    if rows.empty:
        return None
    i = int(np.argmin(np.abs(rows["epoch"].to_numpy() - epoch)))
    return float(rows[column].iloc[i])


def curves_figure(metrics: pd.DataFrame, members: Sequence[Member], *, loss_label: str = "loss",
                  title: str = "Training curves") -> Figure:
    """Train (dashed) and test (solid) accuracy and loss per member, with milestones and stage bands.

    metrics: one row per (run_id, epoch) with train/test accuracy and loss (test NaN between
    evaluations). Memorization (○, on the train curve) and grok (★, on the test curve) epochs are
    marked. Stages shade the background when one member has them; with several members each
    member's stages appear as a row of a strip below the curves.
    """
    staged = [m for m in members if stage_intervals(m.stages, 1e18)]
    staged = staged if len(staged) <= MAX_STRIP_ROWS else []  # a strip of dozens of rows says nothing
    strip = len(staged) > 1
    fig = new_figure(12, 5.4 if strip else 4.6)
    grid = fig.add_gridspec(2 if strip else 1, 2, height_ratios=[5, 0.35 * len(staged) + 0.4] if strip else None)
    ax_acc, ax_loss = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    last = float(metrics["epoch"].max()) if not metrics.empty else 1.0
    stage_handles = _shade_stages(ax_acc, staged[0].stages, last) if len(staged) == 1 else []
    if len(staged) == 1:
        _shade_stages(ax_loss, staged[0].stages, last)

    for m in members:
        rows = metrics[metrics["run_id"] == m.run_id].sort_values("epoch")
        for ax, column, style in ((ax_acc, "train_acc", "--"), (ax_acc, "test_acc", "-"),
                                  (ax_loss, "train_loss", "--"), (ax_loss, "test_loss", "-")):
            part = rows.dropna(subset=[column])
            part = part[part[column] > 0] if ax is ax_loss else part  # log axis
            ax.plot(part["epoch"], part[column], ls=style, color=m.colour, lw=1.4)
        mem = _value_at(rows, "train_acc", m.memorization_epoch)
        if mem is not None:
            ax_acc.plot([m.memorization_epoch], [mem], MEMORIZATION_MARKER, color=m.colour, mfc="white", ms=7, zorder=5)
        grok = _value_at(rows, "test_acc", m.grok_epoch)
        if grok is not None:
            ax_acc.plot([m.grok_epoch], [grok], GROK_MARKER, color=m.colour, ms=13, mec="black", mew=0.6, zorder=6)

    ax_acc.set(xlabel=EPOCH_LABEL, ylabel=ACCURACY_LABEL, title="Accuracy", ylim=(-0.03, 1.03))
    ax_loss.set(xlabel=EPOCH_LABEL, ylabel=loss_label, title="Loss", yscale="log")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, last)
    member_handles = _member_handles(members)
    style_handles = [Line2D([], [], color="0.3", ls="--", label="train"), Line2D([], [], color="0.3", ls="-", label="test")]
    ax_acc.legend(handles=member_handles + style_handles + _milestone_handles() + stage_handles, fontsize=8,
                  loc="center right", framealpha=0.9)
    ax_loss.legend(handles=member_handles + style_handles, fontsize=8, loc="best", framealpha=0.9)
    if strip:
        _stage_strip(fig.add_subplot(grid[1, :], sharex=ax_acc), staged, last)
    fig.suptitle(title, fontsize=13)
    return fig


def _stage_strip(ax, members: Sequence[Member], last: float) -> None:
    for row, m in enumerate(members):
        for name, start, end in stage_intervals(m.stages, last):
            ax.broken_barh([(start, end - start)], (row - 0.4, 0.8), color=STAGE_COLOURS[name], edgecolor="0.5", lw=0.5)
            ax.text((start + end) / 2, row, name, ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(members)), [m.label for m in members], fontsize=7)
    ax.set_ylim(len(members) - 0.4, -0.6)  # first member on top, as in the legend
    ax.set_xlabel(EPOCH_LABEL)
    ax.set_title("Li2 stages per member", fontsize=9)
    ax.legend(handles=[Patch(color=c, label=STAGE_NAMES[k]) for k, c in STAGE_COLOURS.items()], fontsize=7,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))


def li2_label(key: str) -> tuple[str, str]:
    """(panel title, y-axis label with units) of a stored `li2.*` series."""
    if key in LI2_LABELS:
        return LI2_LABELS[key]
    return key, f"{key.removeprefix('li2.')} (value)"


def li2_figure(series: pd.DataFrame, members: Sequence[Member], *, title: str = "Li2 diagnostics") -> Figure:
    """One panel per `li2.*` key of `series` (rows run_id, epoch, key, value): a line per member, the
    member's grok epoch as a dotted vertical line, and stage bands when one member has stages."""
    present = {str(k) for k in series["key"].unique() if str(k).startswith("li2.")}
    keys = [k for k in LI2_LABELS if k in present] + sorted(present - set(LI2_LABELS))
    cols = min(3 if len(keys) <= 9 else 4, len(keys))
    rows_n = math.ceil(len(keys) / cols)
    fig = new_figure(4.4 * cols, 3.3 * rows_n + 0.6)
    last = float(series["epoch"].max()) if not series.empty else 1.0
    staged = [m for m in members if stage_intervals(m.stages, last)]
    stage_handles = []
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows_n, cols, i + 1)
        if len(staged) == 1:
            stage_handles = _shade_stages(ax, staged[0].stages, last)
        part = series[series["key"] == key]
        values = part["value"].to_numpy(dtype=float)
        for m in members:
            rows = part[part["run_id"] == m.run_id].sort_values("epoch")
            ax.plot(rows["epoch"], rows["value"], color=m.colour, lw=1.3)
            if m.grok_epoch is not None:
                ax.axvline(m.grok_epoch, color=m.colour, ls=":", lw=1.2)
        positive = values[np.isfinite(values)]
        if positive.size and (positive > 0).all() and positive.max() / positive.min() > 100:
            ax.set_yscale("log")  # norms span decades between stage I and the end
        name, unit = li2_label(key)
        ax.set(title=name, xlabel=EPOCH_LABEL, ylabel=unit, xlim=(0, last))
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    handles = _member_handles(members)
    handles.append(Line2D([], [], color="0.3", ls=":", label="grok epoch"))
    fig.legend(handles=handles + stage_handles, loc="outside lower center", ncol=min(6, len(handles) + len(stage_handles)),
               fontsize=8)
    fig.suptitle(title, fontsize=13)
    return fig


def weight_norm_figure(norms: pd.DataFrame, members: Sequence[Member], *,
                       title: str = "Weight norm during training") -> Figure:
    """‖θ‖₂ per member (norms: run_id, epoch, norm) with each member's grok epoch dotted; a log axis
    when the norm spans a decade (weight decay can shrink it by orders of magnitude)."""
    fig = new_figure(8, 4.2)
    ax = fig.add_subplot()
    for m in members:
        rows = norms[norms["run_id"] == m.run_id].sort_values("epoch")
        ax.plot(rows["epoch"], rows["norm"], color=m.colour, lw=1.5, marker="." if len(rows) < 30 else None)
        if m.grok_epoch is not None:
            ax.axvline(m.grok_epoch, color=m.colour, ls=":", lw=1.2)
    values = norms["norm"].to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() > 10:
        ax.set_yscale("log")
    ax.set(xlabel=EPOCH_LABEL, ylabel="‖θ‖₂ (all parameters, L2 norm)", title=title)
    ax.grid(alpha=0.3)
    handles = _member_handles(members) + [Line2D([], [], color="0.3", ls=":", label="grok epoch")]
    ax.legend(handles=handles, fontsize=8, loc="best")
    return fig


@dataclass
class SpectrumPanel:
    """Per-node irrep power of one member at one epoch: power [nodes, irreps], rows summing to 1."""

    member: str
    epoch: int
    power: np.ndarray
    irrep_labels: list[str]
    note: str = ""
    total_nodes: int | None = None  # width K, when only some nodes are shown


def spectra_figure(panels: Sequence[SpectrumPanel], *, group_name: str, order_note: str = "") -> Figure:
    """Heatmaps of hidden nodes' irrep spectra: one row of panels per member, one column per epoch.

    Colour is the fraction of a node's first-operand weight power W[j, :M] in each real irrep (rows
    sum to 1); the same node order in every panel of a member, so features emerging over training
    read left to right.
    """
    members = list(dict.fromkeys(p.member for p in panels))
    epochs_per = max(sum(p.member == m for p in panels) for m in members)
    fig = new_figure(3.2 * epochs_per + 1.2, 3.6 * len(members) + 0.7)
    axes = fig.subplots(len(members), epochs_per, squeeze=False)
    image = None
    for r, member in enumerate(members):
        mine = [p for p in panels if p.member == member]
        for c in range(epochs_per):
            ax = axes[r, c]
            if c >= len(mine):
                ax.set_visible(False)
                continue
            p = mine[c]
            image = ax.imshow(p.power, aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=1)
            labels = p.irrep_labels
            step = max(1, math.ceil(len(labels) / 12))
            ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=90, fontsize=7)
            # a long note ("first snapshot after the grok at 131") on its own line: neighbours' titles stay apart
            note = "" if not p.note else (f" ({p.note})" if len(p.note) <= 16 else f"\n({p.note})")
            ax.set_title(f"{member}\nepoch {p.epoch}{note}", fontsize=9)
            ax.set_xlabel(f"real irrep of {group_name}", fontsize=8)
            if c == 0:
                shown = p.power.shape[0]
                ax.set_ylabel(f"hidden node ({shown} of {p.total_nodes} shown)" if p.total_nodes else
                              f"hidden node ({shown} shown)", fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes, label="fraction of node's power (W[j, :M])", shrink=0.8)
    fig.suptitle("Irrep spectra of hidden nodes" + (f"\n{order_note}" if order_note else ""), fontsize=12)
    return fig


ACTIVATION_NAMES = {name: a.label for name, a in ACTIVATIONS.items()}


def census_headline(active: int, nodes: int, purity=None) -> str:
    """What the census says in two lines: how many nodes are active, and how pure they are — the
    share above each threshold and the median, since "0 pure" alone hides nodes at 98%."""
    head = f"{active} active of {nodes} nodes (‖w_j‖ ≥ ¼ of the largest)"
    purity = np.asarray(purity if purity is not None else [], dtype=float)
    if not purity.size:
        return head
    share = lambda t: f"{(purity >= t).mean():.0%}"  # noqa: E731
    return (f"{head}\npower in the dominant irrep: median {np.median(purity):.0%}; "
            f"{share(NEAR_PURE)} of nodes ≥ {NEAR_PURE:.0%}, {share(PURE)} ≥ {PURE:.0%} (pure)")


def census_figure(rows: Sequence[dict], *, group_name: str, nodes: int, activation: str, purity=None,
                  title: str = "Energy census of trained nodes") -> Figure:
    """Nodes per dominant irrep, pure (≥ 99% of their power in it) and nearly pure (≥ 90%) stacked on
    the rest (left), and the energy E(w/‖w‖) of each kind against Thm 2's maximum for that irrep (right).

    rows: `groklab.report.snapshots.census_rows` (irrep, pure, mixed, nearly_pure, E_pure_mean/min/max,
    E_mixed_mean/min/max, E_thm2); purity: each active node's share of power in its dominant irrep."""
    labels = [r["irrep"] for r in rows]
    pure = np.array([r.get("pure", 0) for r in rows])
    near = np.array([r.get("nearly_pure", 0) for r in rows])
    mixed = np.array([r.get("mixed", 0) for r in rows]) - near
    has_energy = any("E_pure_mean" in r or "E_mixed_mean" in r for r in rows)
    fig = new_figure(12 if has_energy else 7, 4.6)
    axes = fig.subplots(1, 2 if has_energy else 1, squeeze=False)[0]
    x = np.arange(len(labels))
    rotation = 90 if len(labels) > 8 else 0
    axes[0].bar(x, pure, color=PURE_COLOUR, label=f"pure (≥ {PURE:.0%} of power in the irrep)")
    axes[0].bar(x, near, bottom=pure, color=NEAR_COLOUR, label=f"nearly pure ({NEAR_PURE:.0%}–{PURE:.0%})")
    axes[0].bar(x, mixed, bottom=pure + near, color=MIXED_COLOUR, label=f"mixed (< {NEAR_PURE:.0%})")
    axes[0].set_xticks(x, labels, rotation=rotation, fontsize=8)
    axes[0].set(xlabel=f"dominant real irrep of {group_name}", ylabel="active nodes (count)",
                title=census_headline(int(pure.sum() + near.sum() + mixed.sum()), nodes, purity))
    axes[0].title.set_fontsize(9)
    axes[0].legend(fontsize=8, loc="best")
    axes[0].grid(alpha=0.3, axis="y")
    if has_energy:
        ax = axes[1]
        for kind, colour, shift in (("pure", PURE_COLOUR, -0.12), ("mixed", MIXED_COLOUR, 0.12)):
            mean = np.array([r.get(f"E_{kind}_mean", np.nan) for r in rows], dtype=float)
            if not np.isfinite(mean).any():
                continue
            err = [mean - np.array([r.get(f"E_{kind}_min", np.nan) for r in rows], dtype=float),
                   np.array([r.get(f"E_{kind}_max", np.nan) for r in rows], dtype=float) - mean]
            name = "pure" if kind == "pure" else f"< {PURE:.0%} pure"
            ax.errorbar(x + shift, mean, yerr=err, fmt="o", color=colour, capsize=3, label=f"{name} nodes (mean, min–max)")
        closed = np.array([r.get("E_thm2", np.nan) for r in rows], dtype=float)
        if np.isfinite(closed).any():
            ax.plot(x, closed, "_", color="#c44e52", ms=22, mew=2.5, label="Thm 2 maximum (σ = x², full data)")
        ax.set_xticks(x, labels, rotation=rotation, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.set(xlabel=f"dominant real irrep of {group_name}", ylabel="energy E(w/‖w‖) (definition as written)",
               title=f"Energy of unit-norm nodes (σ = {ACTIVATION_NAMES.get(activation, activation)})")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=13)
    return fig
