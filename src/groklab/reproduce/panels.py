"""Figure panels shared by reproductions that compare two arms of trained cells over training."""

from __future__ import annotations

import numpy as np

from groklab.report.plots import ACCURACY_LABEL, EPOCH_LABEL
from groklab.train.cells import metric_curves


def test_accuracy_bands(ax, store, arms: list[tuple[str, object, str, float]], title: str) -> None:
    """One panel: per arm (label, cell, colour, median grok epoch) the seeds' mean test accuracy, their range as a
    band and the median grok epoch as a dotted line (left out when no seed grokked)."""
    for label, cell, colour, median in arms:
        epochs, acc = metric_curves(store, cell)
        ax.plot(epochs, acc.mean(axis=0), color=colour, lw=1.8, label=f"{label}: test, mean")
        ax.fill_between(epochs, acc.min(axis=0), acc.max(axis=0), color=colour, alpha=0.2)
        if np.isfinite(median):
            ax.axvline(median, color=colour, ls=":", lw=1.2)
    ax.set(xlabel=EPOCH_LABEL, ylabel=f"test {ACCURACY_LABEL}", ylim=(-0.02, 1.02),
           title=f"{title} (band: seed range; dotted: median grok)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
