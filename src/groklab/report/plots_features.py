"""The transformer feature figure: the `features.*` series the training hook stores (docs/transformer-features.md).

Four panels per page, a line per member with its grok epoch dotted: key irreps of the embedding and irreps
covered by FFN neurons; key power of the embedding and unembedding; full, restricted and excluded test loss;
the same on the training rows. Built without pyplot, like `plots`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from groklab.report.plots import EPOCH_LABEL, Member, _member_handles, new_figure

# (panel title, y label, [(key, line style, legend name)])
PANELS = [
    ("irreps the network uses", "number of non-trivial irreps",
     [("features.key_count", "-", "key irreps of the embedding"), ("features.covered", "--", "irreps held by FFN neurons")]),
    ("power in the key irreps", "share of non-trivial power",
     [("features.key_power", "-", "embedding"), ("features.unembed_key_power", "--", "unembedding")]),
    ("test loss: full, restricted, excluded", "loss (run's loss)",
     [("features.loss_test", "-", "full"), ("features.restricted_loss_test", "--", "restricted to key irreps"),
      ("features.excluded_loss_test", ":", "key irreps excluded")]),
    ("train loss: full, restricted, excluded", "loss (run's loss)",
     [("features.loss_train", "-", "full"), ("features.restricted_loss_train", "--", "restricted to key irreps"),
      ("features.excluded_loss_train", ":", "key irreps excluded")]),
]


def features_figure(series: pd.DataFrame, members: Sequence[Member], *, title: str = "Transformer irrep features") -> Figure:
    """The four panels above from a long series frame (run_id, epoch, key, value)."""
    fig = new_figure(4.6 * 2, 3.3 * 2 + 0.9)
    last = float(series["epoch"].max()) if not series.empty else 1.0
    for i, (name, unit, lines) in enumerate(PANELS):
        ax = fig.add_subplot(2, 2, i + 1)
        values, styles = [], []
        for key, style, label in lines:
            part = series[series["key"] == key]
            if part.empty:
                continue
            for m in members:
                rows = part[part["run_id"] == m.run_id].sort_values("epoch")
                ax.plot(rows["epoch"], rows["value"], color=m.colour, ls=style, lw=1.3)
                values.append(rows["value"].to_numpy(dtype=float))
            styles.append(Line2D([], [], color="0.3", ls=style, label=label))
        for m in members:
            if m.grok_epoch is not None:
                ax.axvline(m.grok_epoch, color=m.colour, ls=":", lw=0.8, alpha=0.6)
        flat = np.concatenate(values) if values else np.array([])
        flat = flat[np.isfinite(flat)]
        if "loss" in name and flat.size and (flat > 0).all() and flat.max() / flat.min() > 30:
            ax.set_yscale("log")  # a grokked loss is decades below chance
        ax.set(title=name, xlabel=EPOCH_LABEL, ylabel=unit, xlim=(0, last))
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
        if styles:
            ax.legend(handles=styles, fontsize=7, loc="best")
    handles = _member_handles(members) + [Line2D([], [], color="0.3", ls=":", lw=0.8, label="grok epoch")]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(6, len(handles)), fontsize=8)
    fig.suptitle(title, fontsize=13)
    return fig


def optimizer_features_figure(series: pd.DataFrame, runs: pd.DataFrame, keys: list[tuple[str, str]], *,
                              labels: dict[str, str], title: str) -> Figure:
    """A grid of `keys` (rows) × tasks (columns): one thin line per run coloured by optimizer, the median per
    optimizer bold, each grokked run's grok epoch as a tick on the x axis. `runs` has run_id, task, optimizer,
    grok_epoch; `series` is the store's long frame."""
    tasks = list(dict.fromkeys(runs["task"]))
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    palette = dict(zip(optimizers, ["#dd8452", "#4c72b0", "#55a868", "#c44e52"]))
    fig = new_figure(4.4 * len(tasks), 2.9 * len(keys) + 0.8)
    for i, (key, label) in enumerate(keys):
        for j, task in enumerate(tasks):
            ax = fig.add_subplot(len(keys), len(tasks), i * len(tasks) + j + 1)
            for opt in optimizers:
                ids = runs[(runs["task"] == task) & (runs["optimizer"] == opt)]
                part = series[(series["key"] == key) & series["run_id"].isin(ids["run_id"])]
                wide = part.pivot(index="epoch", columns="run_id", values="value").sort_index()
                for run_id in wide.columns:
                    ax.plot(wide.index, wide[run_id], color=palette[opt], lw=0.7, alpha=0.5)
                if not wide.empty:
                    ax.plot(wide.index, wide.median(axis=1), color=palette[opt], lw=2)
                for g in ids["grok_epoch"].dropna():
                    ax.axvline(float(g), color=palette[opt], ls=":", lw=0.8)
            if "loss" in key and (series.loc[series["key"] == key, "value"] > 0).all():
                ax.set_yscale("log")
            ax.set(title=f"{task}: {label}", xlabel=EPOCH_LABEL, ylabel=label.split(" (")[0])
            ax.title.set_fontsize(9)
            ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=palette[o], lw=2, label=f"{labels.get(o, o)} (median; thin: runs)") for o in optimizers]
    handles.append(Line2D([], [], color="0.3", ls=":", lw=0.8, label="grok epoch of a run"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(title, fontsize=12)
    return fig
