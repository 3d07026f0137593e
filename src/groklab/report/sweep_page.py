"""The sections of a sweep's page: runs (each linked to its details), the phase diagram, final
accuracy against the swept settings, test curves and grok-epoch statistics per setting.

A *setting* is one combination of the swept hyperparameters (seeds apart); "group" on this page
always means a mathematical group.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from groklab.report import data, plots_settings, plots_sweep
from groklab.report.html import CodeItem, DetailsItem, Section, TableItem, TextItem
from groklab.report.sections import features_section, li2_section, run_anchor
from groklab.report.sweep_grok import MAX_BOX_SETTINGS, grok_section
from groklab.store import Store


def sweep_sections(store: Store, runs: pd.DataFrame, out: Path, report, spec: dict | None):
    keys = data.varying_keys(list(runs["config"]))
    runs = data.sort_by_setting(runs, keys)
    done = runs[runs["status"] == "complete"]
    table = data.runs_table(runs, keys)
    sections = [Section("Runs", [TableItem(table, "runs (the run id links to its details below)",
                                           links=[f"#{run_anchor(r)}" for r in runs["run_id"]])])]
    phase = data.phase_table(done, keys) if not done.empty else None
    sections.append(_phase_section(report, out, phase))
    setting_keys = data.grouping_keys(keys, phase is not None)
    sections.append(_by_value_section(report, out, done, setting_keys if phase is None else []))
    settings = data.run_groups(done, setting_keys)
    labels = list(dict.fromkeys(settings.values()))
    metrics = store.metrics(list(done["run_id"])) if not done.empty else pd.DataFrame()
    curves = Section("Test accuracy by setting")
    if not metrics.empty and len(labels) <= MAX_BOX_SETTINGS:
        fig = plots_sweep.group_curves_figure(metrics, settings)
        curves.items.append(report.add_figure(out, fig, "setting_curves", "Test accuracy of every run (thin) and the "
                                              "median of each setting (bold)."))
    sections.append(curves)
    sections.append(grok_section(report, out, done, settings, labels))
    members = data.members_of(done, setting_keys, group_of=settings) if not done.empty else []
    series = store.series(list(done["run_id"])) if members else pd.DataFrame(columns=["run_id", "epoch", "key", "value"])
    sections.append(li2_section(report, out, series, members))
    sections.append(features_section(report, out, series, members))
    sections.append(Section("Runs in detail", [_run_details(r, table_row) for r, table_row in
                                               zip(runs.to_dict("records"), table.to_dict("records"))]))
    config = [CodeItem(json.dumps(spec, indent=2), "sweep specification")] if spec else []
    config.append(CodeItem(json.dumps(runs["config"].iloc[0], indent=2), "config of the first run"))
    sections.append(Section("Configuration", config))
    return sections, [("settings compared", ", ".join(setting_keys) or "one setting")]


def _phase_section(report, out: Path, phase: pd.DataFrame | None) -> Section:
    section = Section("Phase diagram")
    if phase is None:
        return section
    from groklab.li2 import fit_critical_constant
    from groklab.tasks import CRITICAL_RATIO_C

    fitted = fit_critical_constant(phase["order"], phase["fraction"], phase["test_acc"], d_max=phase["d_max"])
    fig = plots_sweep.phase_figure(phase, c=CRITICAL_RATIO_C, fitted=fitted)
    section.items.append(report.add_figure(out, fig, "phase", "Mean final test accuracy per (|G|, training fraction) "
                                           "cell with Li2's predicted boundary p* = c·ln M/M (Thm 4, Fig. 5)."))
    if np.isfinite(fitted["c"]):
        text = (f"Fitted c = {fitted['c']:.4g} (reference {CRITICAL_RATIO_C:g}) from the fractions where the mean "
                f"test accuracy first reaches 0.5; rms residual {fitted['rms']:.3g}.")
    else:
        text = "No group's mean test accuracy crosses 0.5 inside the sampled fractions, so c cannot be fitted."
    section.items.append(TextItem(text))
    return section


def _by_value_section(report, out: Path, done: pd.DataFrame, keys: list[str]) -> Section:
    """Final test accuracy against one swept setting (a curve) or two (a heatmap)."""
    section = Section("Final accuracy by setting")
    rows = [(data.flatten(r.config), (r.summary or {}).get("final_test_acc")) for r in done.itertuples()]
    rows = [(flat, float(acc)) for flat, acc in rows if acc is not None]
    if not rows or len(keys) not in (1, 2):
        return section
    name = lambda k: f"{k} ({data.SHORT_NAMES[k]})" if k in data.SHORT_NAMES else k  # noqa: E731
    if len(keys) == 1:
        rows = sorted(rows, key=lambda r: data.sort_value(r[0].get(keys[0])))
        fig = plots_settings.accuracy_by_value_figure([f.get(keys[0]) for f, _ in rows], [a for _, a in rows],
                                                      name=name(keys[0]))
        caption = f"Final test accuracy of every run (dots) and the mean per value (line) against {keys[0]}."
    else:
        shown = [{k: data.format_value(f.get(k)) for k in keys} for f, _ in rows]
        orders = []
        for k in keys:  # each axis in numeric order of its raw values
            raw = {s[k]: f.get(k) for s, (f, _) in zip(shown, rows)}
            orders.append(sorted(raw, key=lambda v: data.sort_value(raw[v])))
        table = pd.DataFrame({"x": [s[keys[0]] for s in shown], "y": [s[keys[1]] for s in shown],
                              "acc": [a for _, a in rows]})
        fig = plots_settings.accuracy_heatmap_figure(table, x_name=name(keys[0]), y_name=name(keys[1]),
                                                     x_order=orders[0], y_order=orders[1])
        caption = f"Mean final test accuracy per ({keys[0]}, {keys[1]}) cell; n: runs in the cell."
    section.items.append(report.add_figure(out, fig, "accuracy_by_setting", caption))
    return section


def _run_details(run: dict, row: dict) -> DetailsItem:
    """A run's entry, where its row in the runs table links: its results, and how to write its own page."""
    shown = {k: v for k, v in row.items() if k not in ("run", "memorized", "epochs", "train acc", "wall (s)")}
    summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
                        if v is not None and not (isinstance(v, float) and np.isnan(v)))
    text = TextItem(f"Its own page (curves, weight norm, irrep spectra and census where they apply): "
                    f"groklab report {run['run_id'][:12]}")
    config = CodeItem(json.dumps(run["config"], indent=2), "config")
    return DetailsItem(f"{run['run_id'][:12]}: {summary}", [text, config], anchor=run_anchor(run["run_id"]))
