"""`groklab runs list|show|export|clean`: what the store holds, as tables, JSON, CSV or Parquet.

Listings mark two states beyond the stored status: `diverged` (complete, but the member ran away;
see groklab.train.divergence) and `stale` (recorded as running by a process that is gone; `runs
clean` removes those rows).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from groklab.commands.common import existing_store, print_json
from groklab.commands.run_columns import COLUMNS, DEFAULT, parse_columns, table_lines
from groklab.config import STORE_HELP
from groklab.errors import GroklabError

runs_app = typer.Typer(no_args_is_help=True, help="List, show and export stored runs (SQL --where; config.<key> and "
                       "summary.<key> read the stored JSON, e.g. --where \"config.optim.weight_decay > 0\").")

WHERE_HELP = "SQL filter over runs, e.g. \"status = 'complete' AND config.task.group = 'Z23'\"."
FORMATS = ("csv", "parquet")
TABLES = ("runs", "metrics", "series")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


def _run_object(row: dict, stale: set[str] = frozenset()) -> dict:
    """The JSON form of one run: id, sweep, status, seed, config and summary (and error when failed)."""
    row = {k: _none_if_nan(v) for k, v in row.items()}
    return dict(id=row["run_id"], sweep=row["sweep_id"], status=row["status"], seed=row["seed"], name=row["name"],
                ensemble=row["ensemble_id"], diverged=bool((row["summary"] or {}).get("diverged")),
                stale=row["run_id"] in stale, config=row["config"], summary=row["summary"], error=row["error"])


def _shown_status(row: dict, stale: set[str]) -> str:
    """The status a listing shows: the stored one, or `diverged` / `stale` where that says more."""
    if row["status"] == "running" and row["run_id"] in stale:
        return "stale"
    if row["status"] == "complete" and (row["summary"] or {}).get("diverged"):
        return "diverged"
    return row["status"]


STALE_HINT = ("{n} stale run(s): recorded as running by a process that is gone; `groklab runs clean` removes them "
              "(their checkpoints stay, so training them again resumes)")


@runs_app.command("list")
def list_command(
    where: Optional[str] = typer.Option(None, "--where", help=WHERE_HELP),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Only the runs of this sweep (id or prefix)."),
    status: Optional[str] = typer.Option(None, "--status", help="running, complete or failed."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many runs (the newest)."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line per run."),
    columns: Optional[str] = typer.Option(None, "--columns", help=f"Comma-separated columns to show, from: "
                                          f"{', '.join(COLUMNS)} (default: {','.join(DEFAULT)})."),
):
    """List runs: id, sweep, status, task, model, optimizer, lr, weight decay, stop rule, seed, grok epoch, final
    test accuracy, name (`--columns` to choose).

    Status shows `diverged` for a complete run whose member ran away and `stale` for a running row whose
    process is gone (remove those with `groklab runs clean`)."""
    from groklab.sweep.query import runs_frame

    _check_status(status)
    names = parse_columns(columns)
    if limit is not None and limit < 1:
        raise GroklabError(f"--limit must be >= 1 (the newest runs to show), got {limit}")
    db = existing_store(store)
    df = runs_frame(db, where=where, sweep=sweep, status=status, flatten=False)
    if limit is not None:
        df = df.tail(limit)
    rows = df.to_dict("records")
    stale = set(db.stale_runs()) & {r["run_id"] for r in rows} if any(r["status"] == "running" for r in rows) else set()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(_run_object(row, stale), default=str))
        return
    if not rows:
        typer.echo("no runs")
        return
    shown = [dict({k: _none_if_nan(v) for k, v in r.items()}, shown_status=_shown_status(r, stale)) for r in rows]
    for line in table_lines(shown, names):
        typer.echo(line)
    typer.echo(f"{len(rows)} run(s)")
    if stale:
        typer.echo(STALE_HINT.format(n=len(stale)))


@runs_app.command("show")
def show_command(
    run_id: str = typer.Argument(..., help="Run id or a unique prefix."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="The run as one JSON object (with its metric rows)."),
):
    """One run: config, summary, error, metric and series counts, checkpoint folder."""
    db = existing_store(store)
    row = {k: _none_if_nan(v) for k, v in db.run(run_id).items()}
    metrics = db.metrics([row["run_id"]])
    series = db.series([row["run_id"]])
    stale = set(db.stale_runs()) if row["status"] == "running" else set()
    if as_json:
        obj = dict(_run_object(row, stale), folder=row["folder"], created=row["created"], updated=row["updated"],
                   metrics=json.loads(metrics.drop(columns=["run_id"]).to_json(orient="records")),
                   series_keys=sorted(series["key"].unique().tolist()))
        print_json(obj)
        return
    shown = _shown_status(row, stale)
    typer.echo(f"run {row['run_id']}  status {shown}  seed {row['seed']}  name {row['name']}")
    if shown == "diverged":
        typer.echo(f"diverged at epoch {row['summary'].get('diverged_epoch')}: training of this member stopped there")
    elif shown == "stale":
        typer.echo(STALE_HINT.format(n=1))
    typer.echo(f"sweep {row['sweep_id'] or '-'}  ensemble {row['ensemble_id'] or '-'} (member {row['member']})")
    typer.echo(f"folder {row['folder'] or '-'}")
    if row["error"]:
        typer.echo(f"error: {row['error'].splitlines()[0]}")
    typer.echo("config:")
    for key, value in _flatten(row["config"]).items():
        typer.echo(f"  {key} = {json.dumps(value)}")
    if row["summary"]:
        typer.echo("summary:")
        for key, value in row["summary"].items():
            typer.echo(f"  {key} = {json.dumps(value)}")
    typer.echo(f"metrics: {len(metrics)} epochs" + (f" ({int(metrics['epoch'].min())}..{int(metrics['epoch'].max())})"
                                                   if len(metrics) else ""))
    if len(series):
        typer.echo(f"series: {', '.join(sorted(series['key'].unique()))}")


@runs_app.command("export")
def export_command(
    out: Optional[str] = typer.Argument(None, help="Output file (default: CSV on stdout)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv or parquet (default: from OUT's suffix, else csv)."),
    table: str = typer.Option("runs", "--table", help="runs (config/summary flattened to columns), metrics or series."),
    where: Optional[str] = typer.Option(None, "--where", help=WHERE_HELP),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Only the runs of this sweep (id or prefix)."),
    status: Optional[str] = typer.Option(None, "--status", help="running, complete or failed."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
):
    """Export runs, metrics or series for pandas/R/spreadsheets."""
    from groklab.sweep.query import metrics_frame, runs_frame, series_frame

    if fmt is None:
        fmt = "parquet" if out and Path(out).suffix.lower() in (".parquet", ".pq") else "csv"
    if fmt not in FORMATS:
        raise GroklabError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if table not in TABLES:
        raise GroklabError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    if fmt == "parquet" and out is None:
        raise GroklabError("--format parquet needs an output file, e.g. groklab runs export runs.parquet")
    _check_status(status)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise GroklabError("--format parquet needs pyarrow: pip install 'groklab[export]'") from None
    if out is not None:
        _check_writable(Path(out))
    db = existing_store(store)
    frame = _json_cells({"runs": runs_frame, "metrics": metrics_frame, "series": series_frame}[table](
        db, where=where, sweep=sweep, status=status))
    if out is None:
        frame.to_csv(sys.stdout, index=False)
    else:
        _write_atomically(frame, Path(out), fmt)
    if out is not None:
        typer.echo(f"wrote {len(frame)} rows to {out}", err=True)


@runs_app.command("clean")
def clean_command(
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the stale runs; remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the stale run ids as JSON."),
):
    """Remove stale runs: rows recorded as running by a process that is gone (on this host).

    Their metric, series and artifact rows go too; checkpoints stay on disk, so training the same
    config again resumes. Runs recorded on another host are never touched.
    """
    from groklab.config import StoreConfig
    from groklab.store import Store

    path = store or StoreConfig().path
    if dry_run:
        ids = existing_store(path).stale_runs()
    else:
        existing_store(path)  # a one-line error when there is no store; never create one here
        ids = Store(path).clean_stale()
    if as_json:
        print_json(dict(stale=ids, removed=[] if dry_run else ids))
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {len(ids)} stale run(s)" + (": " + ", ".join(i[:8] for i in ids) if ids else ""))


def _check_writable(out) -> None:
    """Refuse, before any work, an output path whose folder is missing or not writable, or that is a folder."""
    import os

    folder = out.parent
    if out.is_dir():
        raise GroklabError(f"export target {str(out)!r} is a folder; give a file name, e.g. {out / 'runs.csv'}")
    if not folder.is_dir():
        raise GroklabError(f"cannot export to {str(out)!r}: the folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise GroklabError(f"cannot export to {str(out)!r}: not writable; choose another path")


def _write_atomically(frame, out, fmt: str) -> None:
    """Write beside `out` and rename over it, so that a failed export leaves any earlier file intact."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.chmod(tmp, out.stat().st_mode & 0o777 if out.exists() else 0o666 & ~umask)  # as a plain write would
        os.replace(tmp, out)
    except OSError as err:
        raise GroklabError(f"cannot export to {str(out)!r}: {err.strerror or err}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _json_cells(frame):
    """Lists/dicts (e.g. optim.betas) as JSON text, so every column has one scalar type."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object and frame[col].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            frame[col] = frame[col].map(lambda v: json.dumps(v) if isinstance(v, (list, tuple, dict)) else v)
    return frame


def _none_if_nan(value):
    """SQL NULLs in a column that also holds numbers or text read back as NaN."""
    return None if isinstance(value, float) and value != value else value


def _check_status(status: str | None) -> None:
    from groklab.store import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise GroklabError(f"unknown run status {status!r}; choose one of {', '.join(RUN_STATUSES)}")


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
