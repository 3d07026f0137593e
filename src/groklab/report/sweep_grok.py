"""The grok-epoch section of a sweep's page: box plots, Kaplan–Meier curves and the statistics of grok
epochs per setting, censoring-aware (a run that never grokked is censored, never placed at the budget).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from groklab.report import data, plots_sweep
from groklab.report.html import Section, TableItem, TextItem

MAX_BOX_SETTINGS = 12  # beyond this a boxplot/survival figure is unreadable; the table still lists all


def grok_section(report, out: Path, done: pd.DataFrame, settings: dict, labels: list[str]) -> Section:
    """Box plots, Kaplan–Meier curves and the statistics tables of grok epochs per setting."""
    section = Section("Grok epochs")
    if done.empty:
        return section
    summaries = {r.run_id: (r.summary or {}) for r in done.itertuples()}
    censor_at = data.censor_times(done)
    grok = []
    for label in labels:
        ids = [r for r, g in settings.items() if g == label]
        epoch = lambda r, key: np.nan if summaries[r].get(key) is None else float(summaries[r][key])  # noqa: E731
        grok.append(plots_sweep.GrokGroup(label, np.array([epoch(r, "grok_epoch") for r in ids]),
                                          np.array([epoch(r, "sustained_grok_epoch") for r in ids]),
                                          np.array([censor_at[r] for r in ids])))
    if len(labels) <= MAX_BOX_SETTINGS:
        section.items.append(report.add_figure(out, plots_sweep.grok_box_figure(grok), "grok_box",
                                               "Grok epochs of grokked runs per setting (first crossing and sustained); "
                                               "censored runs are counted below each box."))
    else:
        section.items.append(TextItem(f"{len(labels)} settings: too many for box and survival plots; see the table."))
    try:
        from groklab.report import stats
    except ImportError:
        section.items.append(TextItem("groklab.report.stats is not available: survival curves and tests are omitted."))
        return section
    section.items.extend(_statistics(report, out, stats, grok, plot=len(labels) <= MAX_BOX_SETTINGS))
    return section


def _statistics(report, out: Path, stats, grok: list, plot: bool) -> list:
    """Survival curves, per-setting summaries and the comparisons of settings (censoring-aware)."""
    items, curves, rows = [], [], []
    budget = max(float(g.censor_at.max()) for g in grok)
    for g in grok:
        times = {a: np.where(np.isfinite(getattr(g, a)), getattr(g, a), g.censor_at) for a in ("first", "sustained")}
        km = {a: stats.kaplan_meier(times[a], np.isfinite(getattr(g, a))) for a in ("first", "sustained")}
        curves.append((g.label, km["first"], km["sustained"]))
        for a, name in (("first", "first crossing"), ("sustained", "sustained")):
            d = stats.describe(getattr(g, a))
            rows.append({"setting": g.label, "metric": name, "n": d["n"], "grokked": d["grokked"], "censored": d["censored"],
                         "mean": d["mean"], "median": d["median"], "q1": d["q1"], "q3": d["q3"], "std": d["std"],
                         "KM median": stats.km_median(km[a])})
    if plot:
        items.append(report.add_figure(out, plots_sweep.survival_figure(curves, budget=budget), "survival",
                                       "Kaplan–Meier estimate of the fraction of runs not yet grokked; censored runs (no "
                                       "grok within the budget, or diverged) are ticks, not events. Settings are drawn "
                                       f"{plots_sweep.ARM_OFFSET:g} apart vertically and in decreasing widths, so equal "
                                       "curves stay visible."))
    items.append(TableItem(pd.DataFrame(rows), "grok epochs per setting (mean/median/quartiles over grokked runs)"))
    if len(grok) < 2:
        return items
    tests = []
    for a, name in (("first", "first crossing"), ("sustained", "sustained")):
        times = np.concatenate([np.where(np.isfinite(getattr(g, a)), getattr(g, a), g.censor_at) for g in grok])
        events = np.concatenate([np.isfinite(getattr(g, a)) for g in grok])
        lr = stats.logrank(times, events, [g.label for g in grok for _ in g.first])
        tests.append({"metric": name, "test": f"log-rank ({len(grok)} settings)", "statistic": lr["chi2"], "df": lr["df"],
                      "p": lr["p"], "note": "all runs, censoring-aware"})
        if len(grok) == 2:
            tests += _location_tests(stats, name, *(getattr(g, a)[np.isfinite(getattr(g, a))] for g in grok))
    items.append(TableItem(pd.DataFrame(tests), f"comparisons of settings ({' vs '.join(g.label for g in grok[:2])}"
                                               + (" ..." if len(grok) > 2 else "") + ")"))
    return items


def _location_tests(stats, metric: str, x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Two-sample tests on the grokked runs' epochs (the Muon paper's t-test and its robust companions)."""
    if min(x.size, y.size) < 2:
        note = f"undefined: needs two grokked runs per setting (have {x.size} and {y.size})"
        return [{"metric": metric, "test": t, "statistic": None, "df": None, "p": None, "note": note}
                for t in ("Student t", "Welch t", "Mann–Whitney U", "bootstrap mean difference")]
    rows = []
    for name, res in (("Student t", stats.student_t(x, y)), ("Welch t", stats.welch_t(x, y))):
        rows.append({"metric": metric, "test": name, "statistic": res["t"], "df": res["df"], "p": res["p"],
                     "note": f"grokked runs: mean difference {res['mean_diff']:.4g} epochs"})
    mw = stats.mann_whitney(x, y)
    rows.append({"metric": metric, "test": "Mann–Whitney U", "statistic": mw["U"], "df": None, "p": mw["p"],
                 "note": f"grokked runs, {mw['method']} p"})
    boot = stats.bootstrap_mean_diff(x, y, n_boot=2000)
    rows.append({"metric": metric, "test": "bootstrap mean difference", "statistic": boot["diff"], "df": None, "p": None,
                 "note": f"{boot['level']:.0%} CI [{boot['low']:.4g}, {boot['high']:.4g}] epochs"})
    return rows
