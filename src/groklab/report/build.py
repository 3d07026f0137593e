"""Assemble a report from the store: `build_report(store, target) -> Path` of the page.

A target is a run id, an ensemble id or a sweep id (unique prefixes accepted), or None for the most
recent run. A run page covers the run's ensemble — the members trained together, e.g. Li2 Fig. 3's
weight decay vs none — and a sweep page every run of the sweep. Sections appear only when their data
exist: Li2 diagnostics when `li2.*` series were stored, transformer irrep features when `features.*`
series were, spectra and the census when snapshots of a
two-layer net on group composition exist, the phase diagram when a sweep varies the group and the
training fraction, grok-time statistics when a sweep has runs to compare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from groklab.errors import GroklabError
from groklab.outputs import make_folder
from groklab.report import data, plots, plots_sweep, snapshots
from groklab.report.html import CodeItem, FigureItem, Page, Section, TableItem, TextItem, save_figure, write_page
from groklab.store import Store

MAX_BOX_GROUPS = 12  # beyond this a boxplot/survival figure is unreadable; the table still lists all
MAX_LINE_MEMBERS = 8  # beyond this a run page colours its curves by setting, not by member


@dataclass
class Target:
    kind: str  # "run" (an ensemble's members) or "sweep"
    id: str
    run_ids: list[str]


@dataclass
class Report:
    target: Target
    page: Path
    figures: list[FigureItem] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kind": self.target.kind, "id": self.target.id, "runs": self.target.run_ids, "page": str(self.page),
                "sections": self.sections,
                "figures": [{"stem": f.stem, "png": str(f.png), "svg": str(f.svg), "caption": f.caption} for f in self.figures]}


# -- which runs ------------------------------------------------------------------------------------

def _matches(store: Store, column: str, prefix: str) -> list[str]:
    """Ids in `column` equal to `prefix`, else starting with it (sweeps: also the recorded sweeps)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"  # literal prefix
    ids = set(store.runs(f"{column} = ? OR {column} LIKE ? ESCAPE '\\'", (prefix, pattern))[column].dropna())
    if column == "sweep_id":
        ids |= {i for i in _recorded_sweeps(store) if i.startswith(prefix)}
    return [prefix] if prefix in ids else sorted(ids)


def _recorded_sweeps(store: Store) -> dict[str, dict]:
    """sweep_id -> spec of every sweep the store recorded."""
    sweeps = store.sweeps()
    return dict(zip(sweeps["sweep_id"], sweeps["spec"]))


def resolve_target(store: Store, target: str | None) -> Target:
    """Find what `target` names: a run (-> its ensemble), an ensemble, a sweep; None means latest."""
    if target is None:
        latest = store.runs("status = 'complete'")
        if latest.empty:
            raise GroklabError(f"no completed runs in {store.path}; train one with `groklab train CONFIG`")
        row = latest.sort_values(["updated", "created"]).iloc[-1]
        if isinstance(row["sweep_id"], str) and row["sweep_id"]:  # a NULL reads back as None or NaN
            return _sweep(store, row["sweep_id"])
        return _ensemble(store, row["ensemble_id"], row["run_id"])
    if not target.strip():
        raise GroklabError("empty report target: give a run, ensemble or sweep id (or a prefix), or --latest")
    found = {kind: _matches(store, column, target) for kind, column in
             (("run", "run_id"), ("ensemble", "ensemble_id"), ("sweep", "sweep_id"))}
    kinds = [k for k, ids in found.items() if ids]
    named = [sweep_id for sweep_id, spec in _recorded_sweeps(store).items() if spec.get("name") == target]
    if not kinds and named:
        return _sweep(store, named[-1])  # a sweep's name: its most recent version
    if not kinds:
        raise GroklabError(f"no run, ensemble or sweep {target!r} in {store.path}; list runs with `groklab runs list`")
    if len(kinds) > 1 or len(found[kinds[0]]) > 1:
        names = ", ".join(f"{k} {i[:12]}" for k in kinds for i in found[k][:4])
        raise GroklabError(f"report target {target!r} is ambiguous ({names}); give more characters")
    kind, ident = kinds[0], found[kinds[0]][0]
    if kind == "sweep":
        return _sweep(store, ident)
    if kind == "ensemble":
        return _ensemble(store, ident, None)
    run = store.run(ident)
    return _ensemble(store, run["ensemble_id"], run["run_id"]) if run["ensemble_id"] else Target("run", ident, [ident])


def _sweep(store: Store, sweep_id: str) -> Target:
    """A sweep's runs: those it started, and those it linked (runs it found already done)."""
    ids = list(store.runs("sweep_id = ?", (sweep_id,))["run_id"])
    ids += [r for r in store.sweep_run_ids(sweep_id) if r not in set(ids)]
    if not ids:
        raise GroklabError(f"sweep {sweep_id!r} has no runs in {store.path} yet; run it with `groklab sweep`")
    return Target("sweep", sweep_id, ids)


def _ensemble(store: Store, ensemble_id: str, run_id: str | None) -> Target:
    ids = list(store.runs("ensemble_id = ?", (ensemble_id,)).sort_values("member")["run_id"])
    return Target("run", run_id or ensemble_id, ids)


# -- the page --------------------------------------------------------------------------------------

def build_report(store: Store | str | Path, target: str | None = None, out: str | Path | None = None) -> Path:
    """Write the report page (and its figures as PNG/SVG) for `target`; return the page's path."""
    return assemble(store, target, out).page


def assemble(store: Store | str | Path, target: str | None = None, out: str | Path | None = None) -> Report:
    """Like `build_report`, returning the page path, the figures and the section titles."""
    if not isinstance(store, Store):
        if not Path(store).is_file():
            raise GroklabError(f"no store at {str(store)!r}; train something first or pass --store PATH")
        store = Store(store, readonly=True)
    tgt = resolve_target(store, target)
    runs = store.runs(f"run_id IN ({','.join('?' * len(tgt.run_ids))})", tuple(tgt.run_ids))
    runs = runs[runs["config"].map(bool)]  # a run whose config is damaged (reported by the store) is left out
    if runs.empty:
        raise GroklabError(f"every run of {tgt.kind} {tgt.id[:12]} has a damaged config; report another target")
    if tgt.kind == "run":
        runs = runs.sort_values("member")
    out = Path(out) if out is not None else store.folder / "reports" / f"{tgt.kind}-{tgt.id[:12]}"
    make_folder(out, "report folder (--out)")
    report = Report(tgt, out / "index.html")
    builder = _run_sections if tgt.kind == "run" else _sweep_sections
    sections, page_meta = builder(store, runs, out, report)
    keys = data.varying_keys(list(runs["config"]))
    if tgt.kind == "sweep":
        name = _recorded_sweeps(store).get(tgt.id, {}).get("name")
        title = f"groklab report — sweep {name + ' ' if name else ''}({tgt.id})"
    else:
        title = f"groklab report — run {tgt.id[:12]}"
    first = runs["config"].iloc[0]
    subtitle = (f"{first.get('name', 'run') + ': ' if first.get('name', 'run') != 'run' else ''}"
                f"{first['task'].get('op')} on {_task_name(first)}, "
                f"{first['model'].get('kind')} (width {first['model'].get('width')}), {first['optim'].get('kind')}, "
                f"{first['loss'].get('kind')} loss; {len(runs)} run(s)")
    facts = [("store", str(store.path)), ("runs", str(len(runs))),
             ("complete", str(int((runs["status"] == "complete").sum()))),
             ("varying settings", ", ".join(keys) or "none")] + page_meta
    sections = [s for s in sections if s.items]
    report.sections = [s.title for s in sections]
    write_page(Page(title, subtitle, sections, facts), report.page)
    return report


def _task_name(config: dict) -> str:
    task = config["task"]
    return task.get("group", "?") if task.get("op") == "compose" else f"mod {task.get('modulus')}"


def _figure(report: Report, out: Path, fig, stem: str, caption: str) -> FigureItem:
    item = save_figure(fig, out, stem, caption)
    report.figures.append(item)
    return item


def _run_sections(store: Store, runs: pd.DataFrame, out: Path, report: Report):
    keys = data.varying_keys(list(runs["config"]))
    members = data.members_of(runs, keys)  # one label and colour per run
    ids = list(runs["run_id"])
    metrics, series = store.metrics(ids), store.series(ids)
    data.fill_stages(members, series)
    first = runs["config"].iloc[0]
    sections = [Section("Runs", [TableItem(data.runs_table(runs, keys))])]
    lines, chosen = members, runs
    if len(members) > MAX_LINE_MEMBERS:
        # Many seeds: colour and label the curves by setting (e.g. weight decay), analyse one
        # snapshot per setting first.
        groups = data.run_groups(runs, data.grouping_keys(keys, phase=False))
        lines = data.members_of(runs, data.grouping_keys(keys, phase=False), group_of=groups)
        order = sorted(range(len(runs)), key=lambda i: (list(groups.values()).index(groups[ids[i]]) != i, i))
        chosen, members = runs.iloc[order], [members[i] for i in order]
        data.fill_stages(lines, series)

    curves = Section("Training curves")
    if not metrics.empty:
        fig = plots.curves_figure(metrics, lines, loss_label=data.loss_axis_label(first),
                                  title=f"Train and test curves ({len(lines)} member{'s' if len(lines) > 1 else ''})")
        staged = any(m.stages for m in lines)
        curves.items.append(_figure(report, out, fig, "curves", "Train (dashed) and test (solid) accuracy and loss per "
                                    "member; ○ memorization epoch, ★ grok epoch" + ("; shaded: Li2 stages I–III."
                                                                                    if staged else ".")))
    sections.append(curves)
    sections.append(_li2_section(report, out, series, lines))
    sections.append(_features_section(report, out, series, lines))

    spectra = Section("Irrep spectra of hidden nodes")
    panels, group_name, note = snapshots.spectra_panels(chosen, members, store.folder)
    if panels:
        fig = plots.spectra_figure(panels, group_name=group_name, order_note=note)
        spectra.items.append(_figure(report, out, fig, "spectra", "Fraction of each hidden node's first-operand weight "
                                     "power per real irrep, at chosen snapshot epochs (after grokking Li2 expects one irrep per node)."))
    sections.append(spectra)

    census = Section("Energy census")
    for i, (row, member) in enumerate(zip(chosen.to_dict("records")[: snapshots.MAX_SNAPSHOT_MEMBERS], members)):
        result = snapshots.census_for(row, store)
        if result is None:
            continue
        fig = plots.census_figure(result["table"], group_name=result["group"], nodes=result["nodes"],
                                  activation=result["activation"],
                                  title=f"Energy census of trained nodes — {member.label}"
                                  + (f" (epoch {result['epoch']})" if result.get("epoch") is not None else ""))
        census.items.append(_figure(report, out, fig, f"census_{i}", f"{member.label}: active nodes by dominant irrep, and "
                                    "their energy against Thm 2's per-irrep maximum (definition as written, full data)."))
        census.items.append(TableItem(pd.DataFrame(result["table"]), f"census — {member.label}: nodes and energies per "
                                      "dominant irrep (E_thm2: Thm 2's maximum)"))
    sections.append(census)
    sections.append(Section("Configuration", [CodeItem(json.dumps(r["config"], indent=2), f"config of {r['run_id'][:12]}")
                                              for r in runs.to_dict("records")]))
    return sections, [("ensemble", str(runs["ensemble_id"].iloc[0]))]


def _li2_section(report: Report, out: Path, series: pd.DataFrame, members) -> Section:
    section = Section("Li2 diagnostics")
    li2 = series[series["key"].str.startswith("li2.")] if not series.empty else series
    if not li2.empty:
        fig = plots.li2_figure(li2, members)
        section.items.append(_figure(report, out, fig, "li2", "Li2 diagnostics stored by the training hook: ‖G_F‖, "
                                     "stage-II alignment, kernel diagonality, update-direction cosines (each defined "
                                     "in groklab's docs/li2-quantities.md)."))
    return section


def _features_section(report: Report, out: Path, series: pd.DataFrame, members) -> Section:
    section = Section("Transformer irrep features")
    feats = series[series["key"].str.startswith("features.")] if not series.empty else series
    if not feats.empty:
        from groklab.report.plots_features import features_figure

        fig = features_figure(feats, members)
        section.items.append(_figure(report, out, fig, "features", "Irrep progress measures stored by the feature hook "
                                     "(features.every): key irreps of the token embedding and irreps held by FFN neurons, "
                                     "the key irreps' share of power, and the loss with the logits restricted to the key "
                                     "irreps or with them excluded (defined in groklab's docs/transformer-features.md)."))
    return section


def _sweep_sections(store: Store, runs: pd.DataFrame, out: Path, report: Report):
    keys = data.varying_keys(list(runs["config"]))
    done = runs[runs["status"] == "complete"]
    sections = [Section("Runs", [TableItem(data.runs_table(runs, keys))])]
    phase = data.phase_table(done, keys) if not done.empty else None
    section = Section("Phase diagram")
    if phase is not None:
        from groklab.li2 import fit_critical_constant
        from groklab.tasks import CRITICAL_RATIO_C

        fitted = fit_critical_constant(phase["order"], phase["fraction"], phase["test_acc"], d_max=phase["d_max"])
        fig = plots_sweep.phase_figure(phase, c=CRITICAL_RATIO_C, fitted=fitted)
        section.items.append(_figure(report, out, fig, "phase", "Mean final test accuracy per (|G|, training fraction) "
                                     "cell with Li2's predicted boundary p* = c·ln M/M (Thm 4, Fig. 5)."))
        if np.isfinite(fitted["c"]):
            text = (f"Fitted c = {fitted['c']:.4g} (reference {CRITICAL_RATIO_C:g}) from the fractions where the mean "
                    f"test accuracy first reaches 0.5; rms residual {fitted['rms']:.3g}.")
        else:
            text = "No group's mean test accuracy crosses 0.5 inside the sampled fractions, so c cannot be fitted."
        section.items.append(TextItem(text))
    sections.append(section)

    group_keys = data.grouping_keys(keys, phase is not None)
    groups = data.run_groups(done, group_keys)
    labels = list(dict.fromkeys(groups.values()))
    metrics = store.metrics(list(done["run_id"])) if not done.empty else pd.DataFrame()
    curves = Section("Test accuracy by group")
    if not metrics.empty and len(labels) <= MAX_BOX_GROUPS:
        fig = plots_sweep.group_curves_figure(metrics, groups)
        curves.items.append(_figure(report, out, fig, "group_curves", "Test accuracy of every run (thin) and the group "
                                    "median (bold)."))
    sections.append(curves)
    sections.append(_grok_section(report, out, done, groups, labels))
    members = data.members_of(done, group_keys, group_of=groups) if not done.empty else []
    sweep_series = store.series(list(done["run_id"])) if members else pd.DataFrame(columns=["run_id", "epoch", "key", "value"])
    sections.append(_li2_section(report, out, sweep_series, members))
    sections.append(_features_section(report, out, sweep_series, members))
    spec = _recorded_sweeps(store).get(report.target.id)
    config = [CodeItem(json.dumps(spec, indent=2), "sweep specification")] if spec else []
    config.append(CodeItem(json.dumps(runs["config"].iloc[0], indent=2), "config of the first run"))
    sections.append(Section("Configuration", config))
    return sections, [("groups", ", ".join(group_keys) or "one group")]


def _grok_section(report: Report, out: Path, done: pd.DataFrame, groups: dict, labels: list[str]) -> Section:
    """Box plots, Kaplan–Meier curves and the statistics tables of grok epochs per group of runs."""
    section = Section("Grok epochs")
    if done.empty:
        return section
    summaries = {r.run_id: (r.summary or {}) for r in done.itertuples()}
    censor_at = data.censor_times(done)
    grok = []
    for label in labels:
        ids = [r for r, g in groups.items() if g == label]
        epoch = lambda r, key: np.nan if summaries[r].get(key) is None else float(summaries[r][key])  # noqa: E731
        grok.append(plots_sweep.GrokGroup(label, np.array([epoch(r, "grok_epoch") for r in ids]),
                                          np.array([epoch(r, "sustained_grok_epoch") for r in ids]),
                                          np.array([censor_at[r] for r in ids])))
    if len(labels) <= MAX_BOX_GROUPS:
        section.items.append(_figure(report, out, plots_sweep.grok_box_figure(grok), "grok_box",
                                     "Grok epochs of grokked runs per group (first crossing and sustained); censored runs "
                                     "are counted below each box."))
    else:
        section.items.append(TextItem(f"{len(labels)} groups: too many for box and survival plots; see the table."))
    try:
        from groklab.report import stats
    except ImportError:
        section.items.append(TextItem("groklab.report.stats is not available: survival curves and tests are omitted."))
        return section
    section.items.extend(_statistics(report, out, stats, grok, plot=len(labels) <= MAX_BOX_GROUPS))
    return section


def _statistics(report: Report, out: Path, stats, grok: list, plot: bool) -> list:
    """Survival curves, per-group summaries and the group comparisons (censoring-aware)."""
    items, curves, rows = [], [], []
    budget = max(float(g.censor_at.max()) for g in grok)
    for g in grok:
        times = {a: np.where(np.isfinite(getattr(g, a)), getattr(g, a), g.censor_at) for a in ("first", "sustained")}
        km = {a: stats.kaplan_meier(times[a], np.isfinite(getattr(g, a))) for a in ("first", "sustained")}
        curves.append((g.label, km["first"], km["sustained"]))
        for a, name in (("first", "first crossing"), ("sustained", "sustained")):
            d = stats.describe(getattr(g, a))
            rows.append({"group": g.label, "metric": name, "n": d["n"], "grokked": d["grokked"], "censored": d["censored"],
                         "mean": d["mean"], "median": d["median"], "q1": d["q1"], "q3": d["q3"], "std": d["std"],
                         "KM median": stats.km_median(km[a])})
    if plot:
        items.append(_figure(report, out, plots_sweep.survival_figure(curves, budget=budget), "survival",
                             "Kaplan–Meier estimate of the fraction of runs not yet grokked; censored runs (no grok "
                             "within the budget, or diverged) are ticks, not events."))
    items.append(TableItem(pd.DataFrame(rows), "grok epochs per group (mean/median/quartiles over grokked runs)"))
    if len(grok) < 2:
        return items
    tests = []
    for a, name in (("first", "first crossing"), ("sustained", "sustained")):
        times = np.concatenate([np.where(np.isfinite(getattr(g, a)), getattr(g, a), g.censor_at) for g in grok])
        events = np.concatenate([np.isfinite(getattr(g, a)) for g in grok])
        lr = stats.logrank(times, events, [g.label for g in grok for _ in g.first])
        tests.append({"metric": name, "test": f"log-rank ({len(grok)} groups)", "statistic": lr["chi2"], "df": lr["df"],
                      "p": lr["p"], "note": "all runs, censoring-aware"})
        if len(grok) == 2:
            tests += _location_tests(stats, name, *(getattr(g, a)[np.isfinite(getattr(g, a))] for g in grok))
    items.append(TableItem(pd.DataFrame(tests), f"group comparisons ({' vs '.join(g.label for g in grok[:2])}"
                                               + (" ..." if len(grok) > 2 else "") + ")"))
    return items


def _location_tests(stats, metric: str, x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Two-sample tests on the grokked runs' epochs (the Muon paper's t-test and its robust companions)."""
    if min(x.size, y.size) < 2:
        note = f"undefined: needs two grokked runs per group (have {x.size} and {y.size})"
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
