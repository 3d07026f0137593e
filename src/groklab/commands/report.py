"""`groklab report`: one self-contained HTML page (plus PNG/SVG figures) for a run or a sweep."""

from __future__ import annotations

from typing import Optional

import typer

from groklab.commands.common import print_json
from groklab.config import STORE_HELP, default_store_path
from groklab.errors import GroklabError


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    target: Optional[str] = typer.Argument(None, metavar="RUN_ID|SWEEP_ID",
                                           help="Run, ensemble or sweep id (a unique prefix is enough), or a sweep name."),
    latest: bool = typer.Option(False, "--latest", help="Report the most recent run (its sweep, if it has one)."),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for index.html and the figures "
                                      "(default: <store folder>/reports/<kind>-<id>)."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the page path, sections and figure files as JSON."),
):
    """Write a report page: curves with grok markers, Li2 diagnostics, spectra, census, phase diagram, statistics."""
    from groklab.report.build import assemble

    if target is None and not latest:
        raise GroklabError("give a RUN_ID or SWEEP_ID (a unique prefix is enough), or --latest")
    if target is not None and latest:
        raise GroklabError(f"give either an id ({target!r}) or --latest, not both")
    path = store or default_store_path()
    report = assemble(path, None if latest else target, out)
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(f"{report.target.kind} {report.target.id[:12]}: {len(report.target.run_ids)} run(s), "
               f"{len(report.figures)} figure(s); sections: {', '.join(report.sections)}")
    typer.echo(f"report: {report.page}")
