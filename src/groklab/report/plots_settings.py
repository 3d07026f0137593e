"""Final test accuracy against what a sweep varies: a curve over one swept setting, a heatmap over two.

Same conventions as `plots`: values in, a pyplot-free `Figure` out, every axis labelled with its unit.
Callers pass values in the order to show them (numbers numerically sorted).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from groklab.report.plots import ACCURACY_LABEL, new_figure

MAX_TICKS = 12  # beyond this the swept values are not each labelled


def _numeric(values: Sequence) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)


def _value_axis(ax, values: np.ndarray) -> None:
    """Log when positive values span a decade; symlog when 0 sits among such values (a weight-decay
    grid 0, 1e-4, 1e-3), its linear part one decade wide so that 0 stands apart; else linear."""
    positive = values[values > 0]
    spans = positive.size > 1 and positive.max() / positive.min() >= 10
    if spans and (values > 0).all():
        ax.set_xscale("log")
    elif spans and (values >= 0).all():
        ax.set_xscale("symlog", linthresh=positive.min(), linscale=0.5)
    distinct = np.unique(values)
    if distinct.size <= MAX_TICKS:
        ax.set_xticks(distinct, [f"{v:g}" for v in distinct])
        ax.minorticks_off()


def accuracy_by_value_figure(values: Sequence, accuracy: Sequence[float], *, name: str,
                             title: str = "Final test accuracy against the swept setting") -> Figure:
    """Every run's final test accuracy (dots) and the mean per value (line) against the swept value;
    numbers on a numeric axis, anything else as categories in the order given."""
    fig = new_figure(8, 4.4)
    ax = fig.add_subplot()
    acc = np.asarray(accuracy, dtype=float)
    if _numeric(values):
        x = np.asarray(values, dtype=float)
        _value_axis(ax, x)
    else:
        order = list(dict.fromkeys(str(v) for v in values))
        x = np.array([order.index(str(v)) for v in values], dtype=float)
        ax.set_xticks(range(len(order)), order, rotation=20 if len(order) > 4 else 0)
    ax.plot(x, acc, "o", color="#4c72b0", alpha=0.55, ms=6, label="one run")
    means = pd.Series(acc).groupby(x).mean()
    ax.plot(means.index, means.to_numpy(), "-", color="#c44e52", lw=2, marker="D", ms=5, label="mean over runs")
    ax.set(xlabel=name, ylabel=f"final test {ACCURACY_LABEL}", title=title, ylim=(-0.03, 1.03))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def accuracy_heatmap_figure(table: pd.DataFrame, *, x_name: str, y_name: str, x_order: Sequence[str],
                            y_order: Sequence[str], title: str = "Final test accuracy over the two swept settings") -> Figure:
    """Mean final test accuracy per cell (table: x, y, acc — one row per run, x/y as display text),
    cells annotated with the mean and the number of runs; cells without runs left grey."""
    cells = table.groupby(["y", "x"])["acc"].agg(["mean", "size"])
    mean = np.full((len(y_order), len(x_order)), np.nan)
    count = np.zeros_like(mean, dtype=int)
    for (y, x), row in cells.iterrows():
        mean[list(y_order).index(y), list(x_order).index(x)] = row["mean"]
        count[list(y_order).index(y), list(x_order).index(x)] = int(row["size"])
    fig = new_figure(max(6.0, 1.0 * len(x_order) + 3), max(4.0, 0.6 * len(y_order) + 2))
    ax = fig.add_subplot()
    ax.set_facecolor("0.85")
    image = ax.imshow(np.ma.masked_invalid(mean), cmap="viridis", vmin=0, vmax=1, aspect="auto", origin="lower")
    for i in range(len(y_order)):
        for j in range(len(x_order)):
            if count[i, j]:
                ax.text(j, i, f"{mean[i, j]:.2f}\nn={count[i, j]}", ha="center", va="center", fontsize=8,
                        color="white" if mean[i, j] < 0.6 else "black")
    ax.set_xticks(range(len(x_order)), list(x_order), rotation=30 if len(x_order) > 6 else 0)
    ax.set_yticks(range(len(y_order)), list(y_order))
    ax.set(xlabel=x_name, ylabel=y_name, title=title)
    fig.colorbar(image, ax=ax, label=f"final test {ACCURACY_LABEL}, mean over runs")
    return fig
