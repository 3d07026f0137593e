"""Figures for grok-epoch statistics: boxplots with censored counts, Kaplan–Meier curves.

Built on `matplotlib.figure.Figure` (no pyplot), so they render headless and leave no global state.
Inputs are plain arrays and the frames of `groklab.report.stats.kaplan_meier`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

COLORS = {"adamw": "#1f77b4", "muon": "#d62728"}
_CYCLE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

BoxPanel = tuple[str, Mapping[str, Sequence[float]], Mapping[str, int]]  # title, label -> epochs, label -> censored
KMPanel = tuple[str, Mapping[str, pd.DataFrame]]  # title, label -> Kaplan–Meier frame


def _color(label: str, i: int) -> str:
    return COLORS.get(str(label).split("/")[-1].lower(), _CYCLE[i % len(_CYCLE)])


def _figure(n_panels: int, width_ratios=None, height: float = 4.2):
    from matplotlib.figure import Figure

    widths = width_ratios or [1] * n_panels
    fig = Figure(figsize=(max(5.0, 2.2 * sum(widths) + 1.5), height), layout="constrained")
    axes = fig.subplots(1, n_panels, width_ratios=widths, squeeze=False)[0]
    return fig, axes


def boxplot_figure(panels: Sequence[BoxPanel], path: Path, title: str, *, width_ratios=None) -> Path:
    """One boxplot panel per entry: the grokked runs' epochs per label (points overlaid), with the
    number of censored runs written under each box — they are not in the box, since a run that never
    grokked has no grok epoch (plotting it at the budget would invent one)."""
    fig, axes = _figure(len(panels), width_ratios)
    for ax, (panel_title, groups, censored) in zip(axes, panels):
        labels = list(groups)
        data = [np.asarray([v for v in groups[k] if v is not None and np.isfinite(v)], dtype=float) for k in labels]
        positions = np.arange(1, len(labels) + 1)
        filled = [i for i, d in enumerate(data) if d.size]
        if filled:
            parts = ax.boxplot([data[i] for i in filled], positions=positions[filled], widths=0.55,
                               patch_artist=True, showfliers=False, medianprops={"color": "black"})
            for j, i in enumerate(filled):
                parts["boxes"][j].set_facecolor(_color(labels[i], i))
                parts["boxes"][j].set_alpha(0.45)
        rng = np.random.Generator(np.random.PCG64(0))  # fixed jitter: the figure is reproducible
        for i, d in enumerate(data):
            ax.scatter(positions[i] + rng.uniform(-0.12, 0.12, d.size), d, s=9, color=_color(labels[i], i),
                       alpha=0.8, zorder=3)
        ax.set_xticks(positions)
        ax.set_xticklabels([f"{k}\nn={d.size}, cens={censored.get(k, 0)}" for k, d in zip(labels, data)],
                           fontsize=7, rotation=0 if len(labels) <= 4 else 60)
        ax.set_title(panel_title, fontsize=9)
        ax.set_ylabel("grok epoch")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=120)
    return path


def km_figure(panels: Sequence[KMPanel], path: Path, title: str, *, budget: int | None = None) -> Path:
    """Kaplan–Meier curves of P(not yet grokked) per label, one panel per entry; ticks mark censoring."""
    fig, axes = _figure(len(panels), height=4.0)
    for ax, (panel_title, curves) in zip(axes, panels):
        for i, (label, km) in enumerate(curves.items()):
            color = _color(label, i)
            times = np.concatenate([[0.0], km["time"].to_numpy(float)])
            surv = np.concatenate([[1.0], km["survival"].to_numpy(float)])
            if budget is not None and times[-1] < budget:
                times, surv = np.append(times, budget), np.append(surv, surv[-1])
            n = int(km["at_risk"].iloc[0]) if len(km) else 0
            ax.step(times, surv, where="post", color=color, label=f"{label} (n={n})")
            cens = km[km["censored"] > 0]
            ax.plot(cens["time"], cens["survival"], "|", color=color, markersize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("epoch")
        ax.set_ylabel("fraction not yet grokked")
        ax.set_title(panel_title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=120)
    return path
