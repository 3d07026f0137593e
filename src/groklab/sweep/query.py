"""Querying results: runs, metrics and series as pandas DataFrames (what `groklab runs` prints).

Filters are SQL over the `runs` table, with one convenience: `config.<dotted key>` and
`summary.<key>` read inside the stored JSON, e.g.

    runs_frame(store, where="status = 'complete' AND config.optim.weight_decay > 0 AND summary.censored = 0")

A filter only reads: it runs on a read-only connection that may read nothing but the runs table, with
a time limit (`groklab.store_open.guarded_read`). Stores are opened read-only here.

`sweep` selects the runs of a sweep (by id or id prefix), including runs the sweep skipped because
an earlier train or sweep had completed them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from groklab.errors import GroklabError
from groklab.store import Store

_JSON_FIELD = re.compile(r"(?<![\w.])(config|summary)\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_STRING = re.compile(r"('(?:[^']|'')*')")


def open_store(store: Store | str | Path) -> Store:
    """A Store, or an existing one at a path, opened read-only (a query never creates or changes a database)."""
    if isinstance(store, Store):
        return store
    if not Path(store).is_file():
        raise GroklabError(f"no store at {str(store)!r}; run `groklab train` or `groklab sweep` first, or pass --store")
    return Store(store, readonly=True)


def where_sql(expr: str | None) -> str | None:
    """Translate `config.a.b` / `summary.k` outside string literals to SQLite json_extract calls."""
    if not expr:
        return None
    parts = _STRING.split(expr)
    for i in range(0, len(parts), 2):  # odd parts are quoted strings: leave them alone
        # json_valid: a row whose JSON SQLite cannot read (NaN written by an older groklab) reads as NULL
        parts[i] = _JSON_FIELD.sub(lambda m: f"json_extract(CASE WHEN json_valid({m.group(1)}) THEN {m.group(1)} END, "
                                              f"'$.{m.group(2)}')", parts[i])
    return "".join(parts)


def _filter(where: str | None, sweep: str | None, status: str | None) -> tuple[str | None, tuple]:
    clauses, params = [], []
    if where:
        clauses.append(f"({where_sql(where)})")
    if sweep:
        clauses.append("run_id IN (SELECT run_id FROM sweep_runs WHERE substr(sweep_id, 1, ?) = ?)")
        params += [len(sweep), sweep]
    if status:
        clauses.append("status = ?")
        params.append(status)
    return (" AND ".join(clauses) or None), tuple(params)


def runs_frame(store: Store | str | Path, *, where: str | None = None, sweep: str | None = None,
               status: str | None = None, flatten: bool = True) -> pd.DataFrame:
    """One row per run. With `flatten`, config and summary become `config.<key>` / `summary.<key>` columns."""
    store = open_store(store)
    clause, params = _filter(where, sweep, status)
    df = store.runs(clause, params, user_where=where or None)
    if not flatten or df.empty:
        return df
    parts = [df.drop(columns=["config", "summary"])]
    for col in ("config", "summary"):
        flat = pd.json_normalize(df[col].tolist(), sep=".")
        flat.columns = [f"{col}.{c}" for c in flat.columns]
        parts.append(flat.set_index(df.index))
    return pd.concat(parts, axis=1)


def _run_ids(store: Store, run_ids, where, sweep, status) -> list[str] | None:
    if run_ids is not None:
        return list(run_ids)
    if where is None and sweep is None and status is None:
        return None
    return runs_frame(store, where=where, sweep=sweep, status=status, flatten=False)["run_id"].tolist()


def metrics_frame(store: Store | str | Path, *, run_ids=None, where: str | None = None, sweep: str | None = None,
                  status: str | None = None, config_keys: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Per-epoch metrics (long format: run_id, epoch, train_loss, ...), with `seed` and the requested
    `config.<key>` columns joined from the runs, ready for groupby/pivot."""
    store = open_store(store)
    ids = _run_ids(store, run_ids, where, sweep, status)
    metrics = store.metrics(ids)
    return _join_runs(store, metrics, ids, config_keys)


def series_frame(store: Store | str | Path, *, run_ids=None, where: str | None = None, sweep: str | None = None,
                 status: str | None = None, config_keys: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Analysis series from hooks (run_id, epoch, key, value), joined like `metrics_frame`."""
    store = open_store(store)
    ids = _run_ids(store, run_ids, where, sweep, status)
    return _join_runs(store, store.series(ids), ids, config_keys)


def _join_runs(store: Store, frame: pd.DataFrame, ids, config_keys) -> pd.DataFrame:
    runs = runs_frame(store, flatten=True)
    if ids is not None:
        runs = runs[runs["run_id"].isin(ids)]
    wanted = ["run_id", "seed"] + [f"config.{k}" for k in config_keys]
    missing = [c for c in wanted if c not in runs.columns and not runs.empty]
    if missing:
        raise GroklabError(f"unknown config key(s) {', '.join(m.removeprefix('config.') for m in missing)} in the stored runs")
    if runs.empty:
        return frame.assign(**{c: pd.Series(dtype=object) for c in wanted[1:]})
    return frame.merge(runs[wanted], on="run_id", how="left")


def sweep_spec(store: Store | str | Path, sweep_id: str) -> dict:
    """The spec a sweep was run with (by id or id prefix)."""
    store = open_store(store)
    sweeps = store.sweeps()
    match = sweeps[sweeps["sweep_id"].str.startswith(sweep_id)]
    if match.empty:
        raise GroklabError(f"no sweep {sweep_id!r} in {store.path}")
    if len(match) > 1:
        raise GroklabError(f"sweep id prefix {sweep_id!r} is ambiguous ({len(match)} sweeps); give more characters")
    return match.iloc[0]["spec"]
