"""Sections that run and sweep pages share: Li2 diagnostics, transformer features, weight norms.

Each takes the page's `Report` (anything with `add_figure(out, fig, stem, caption)`), the output
folder and the data, and returns a `Section` that is empty when the data are absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from groklab.report import plots
from groklab.report.html import Section


def run_anchor(run_id: str) -> str:
    """The page anchor of a run's entry (its details on a sweep page, its config on a run page)."""
    return f"run-{run_id[:12]}"


def li2_section(report, out: Path, series: pd.DataFrame, members) -> Section:
    section = Section("Li2 diagnostics")
    li2 = series[series["key"].str.startswith("li2.")] if not series.empty else series
    if not li2.empty:
        fig = plots.li2_figure(li2, members)
        section.items.append(report.add_figure(out, fig, "li2", "Li2 diagnostics stored by the training hook: ‖G_F‖, "
                                               "stage-II alignment, kernel diagonality, update-direction cosines (each "
                                               "defined in groklab's docs/li2-quantities.md)."))
    return section


def features_section(report, out: Path, series: pd.DataFrame, members) -> Section:
    section = Section("Transformer irrep features")
    feats = series[series["key"].str.startswith("features.")] if not series.empty else series
    if not feats.empty:
        from groklab.report.plots_features import features_figure

        fig = features_figure(feats, members)
        section.items.append(report.add_figure(
            out, fig, "features", "Irrep progress measures stored by the feature hook (features.every): key irreps of "
            "the token embedding and irreps held by FFN neurons, the key irreps' share of power, and the loss with the "
            "logits restricted to the key irreps or with them excluded (defined in groklab's docs/transformer-features.md)."))
    return section


def weight_norm_items(report, out: Path, runs: pd.DataFrame, members, store_folder: Path) -> list:
    """The weight-norm figure of the runs' snapshots (weight decay's story: the norm falls as the net
    trades memorization for a smaller, general solution); nothing when no snapshots are kept."""
    from groklab.report.snapshots import weight_norms

    norms = weight_norms(runs, store_folder)
    if norms.empty:
        return []
    fig = plots.weight_norm_figure(norms, members)
    return [report.add_figure(out, fig, "weight_norm", "Norm of all parameters ‖θ‖₂ per member at each weight snapshot "
                              "(dotted: grok epoch); computed from the snapshots the run keeps.")]
