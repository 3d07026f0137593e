"""Assemble a report from the store: `build_report(store, target) -> Path` of the page.

A target is a run id, an ensemble id or a sweep id (unique prefixes accepted), or None for the most
recent run. A run page covers the run's ensemble — the members trained together, e.g. Li2 Fig. 3's
weight decay vs none — and a sweep page every run of the sweep. Sections appear only when their data
exist: the weight norm when snapshots were kept, Li2 diagnostics when `li2.*` series were stored,
transformer irrep features when `features.*` series were, spectra and the census when snapshots of a
two-layer net on group composition exist, the phase diagram when a sweep varies the group and the
training fraction, final accuracy against the swept setting when one or two settings vary, grok-time
statistics when a sweep has runs to compare. The sweep page's sections are built in `sweep_page`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from groklab.errors import GroklabError
from groklab.outputs import make_folder
from groklab.report import data, plots, snapshots
from groklab.report.html import CodeItem, FigureItem, Page, Section, TableItem, save_figure, write_page
from groklab.report.sections import features_section, li2_section, run_anchor, weight_norm_items
from groklab.report.sweep_page import sweep_sections
from groklab.store import Store

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

    def add_figure(self, out: Path, fig, stem: str, caption: str) -> FigureItem:
        """Save `fig` beside the page (PNG and SVG) and list it among the report's figures."""
        item = save_figure(fig, out, stem, caption)
        self.figures.append(item)
        return item

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
    if tgt.kind == "run":
        sections, page_meta = _run_sections(store, runs, out, report)
    else:
        sections, page_meta = sweep_sections(store, runs, out, report, _recorded_sweeps(store).get(tgt.id))
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


def _run_sections(store: Store, runs: pd.DataFrame, out: Path, report: Report):
    keys = data.varying_keys(list(runs["config"]))
    members = data.members_of(runs, keys)  # one label and colour per run
    ids = list(runs["run_id"])
    metrics, series = store.metrics(ids), store.series(ids)
    data.fill_stages(members, series)
    first = runs["config"].iloc[0]
    sections = [Section("Runs", [TableItem(data.runs_table(runs, keys), "runs (the run id links to its config)",
                                           links=[f"#{run_anchor(r)}" for r in ids])])]
    lines, chosen = members, runs
    if len(members) > MAX_LINE_MEMBERS:
        # Many seeds: colour and label the curves by setting (e.g. weight decay), analyse one
        # snapshot per setting first.
        groups = data.run_groups(runs, data.grouping_keys(keys, phase=False))
        lines = data.members_of(runs, data.grouping_keys(keys, phase=False), group_of=groups)
        first = {}
        for i, run_id in enumerate(ids):
            first.setdefault(groups[run_id], i)
        rank = {label: r for r, label in enumerate(dict.fromkeys(groups.values()))}  # settings in numeric order
        order = sorted(range(len(runs)), key=lambda i: (first[groups[ids[i]]] != i, rank[groups[ids[i]]], i))
        chosen, members = runs.iloc[order], [members[i] for i in order]
        data.fill_stages(lines, series)

    curves = Section("Training curves")
    if not metrics.empty:
        fig = plots.curves_figure(metrics, lines, loss_label=data.loss_axis_label(first),
                                  title=f"Train and test curves ({len(lines)} member{'s' if len(lines) > 1 else ''})")
        staged = any(m.stages for m in lines)
        curves.items.append(report.add_figure(out, fig, "curves", "Train (dashed) and test (solid) accuracy and loss per "
                                    "member; ○ memorization epoch, ★ grok epoch" + ("; shaded: Li2 stages I–III."
                                                                                    if staged else ".")))
    curves.items.extend(weight_norm_items(report, out, runs, lines, store.folder))
    sections.append(curves)
    sections.append(li2_section(report, out, series, lines))
    sections.append(features_section(report, out, series, lines))

    spectra = Section("Irrep spectra of hidden nodes")
    panels, group_name, note = snapshots.spectra_panels(chosen, members, store.folder)
    if panels:
        fig = plots.spectra_figure(panels, group_name=group_name, order_note=note)
        spectra.items.append(report.add_figure(out, fig, "spectra", "Fraction of each hidden node's first-operand weight "
                                     "power per real irrep, at chosen snapshot epochs (after grokking Li2 expects one irrep per node)."))
    sections.append(spectra)

    census = Section("Energy census")
    for i, (row, member) in enumerate(zip(chosen.to_dict("records")[: snapshots.MAX_SNAPSHOT_MEMBERS], members)):
        result = snapshots.census_for(row, store)
        if result is None:
            continue
        fig = plots.census_figure(result["table"], group_name=result["group"], nodes=result["nodes"],
                                  activation=result["activation"], purity=result.get("purity"),
                                  title=f"Energy census of trained nodes — {member.label}"
                                  + (f" (epoch {result['epoch']})" if result.get("epoch") is not None else ""))
        census.items.append(report.add_figure(out, fig, f"census_{i}", f"{member.label}: active nodes by dominant irrep, and "
                                    "their energy against Thm 2's per-irrep maximum (definition as written, full data)."))
        census.items.append(TableItem(pd.DataFrame(result["table"]), f"census — {member.label}: nodes and energies per "
                                      "dominant irrep (E_thm2: Thm 2's maximum)"))
    sections.append(census)
    sections.append(Section("Configuration", [CodeItem(json.dumps(r["config"], indent=2), f"config of {r['run_id'][:12]}",
                                                       anchor=run_anchor(r["run_id"])) for r in runs.to_dict("records")]))
    return sections, [("ensemble", str(runs["ensemble_id"].iloc[0]))]
