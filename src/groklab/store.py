"""The results database (SQLite): runs, per-epoch metrics, analysis series.

One source of truth: plots and reports read from here. A run is one ensemble member: its id is the
hash of its single-member config (seed, lr and weight decay as scalars), so re-running the same
config finds what is already done. Every write is one transaction: a run's metrics are replaced
whole, never half-written. JSON columns never hold NaN or infinity (written as null), so SQLite's
JSON functions read every row.

A store opened for writing is checked first and a damaged one is refused, untouched; a store opened
with `readonly=True` is never written and works in read-only folders (see `groklab.store_open`).
A `running` row whose recording process is gone is stale (`stale_runs`, `clean_stale`; see
`groklab.owners`).
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import pandas as pd

from groklab.errors import GroklabError
from groklab.owners import current_owner, owner_alive
from groklab.store_open import WRITE_FAULTS, damaged, guarded_read, open_for_reading, open_for_writing, write_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    sweep_id TEXT,
    ensemble_id TEXT,
    member INTEGER,
    name TEXT,
    config_hash TEXT,
    seed INTEGER,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    summary TEXT,
    error TEXT,
    folder TEXT,
    created REAL,
    updated REAL
);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    train_loss REAL, train_acc REAL, test_loss REAL, test_acc REAL, collapse REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS series (
    run_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, epoch, key)
);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id TEXT PRIMARY KEY,
    spec TEXT,
    created REAL
);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (sweep_id, run_id)
);
CREATE TABLE IF NOT EXISTS run_owners (
    run_id TEXT PRIMARY KEY,
    host TEXT,
    pid INTEGER,
    started TEXT
);
"""

METRIC_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc", "collapse")
RUN_STATUSES = ("running", "complete", "failed", "interrupted")


def warn(message: str) -> None:
    """One line on stderr about a stored row that is read around (the CLI's warnings go the same way)."""
    print(message, file=sys.stderr)


def to_json(obj) -> str:
    """JSON text with every non-finite float (NaN, ±inf) written as null."""
    return json.dumps(_finite(obj), allow_nan=False)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


class Store:
    """A handle on one SQLite results file (created on first use unless `readonly`)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._warned: set[tuple[str, str]] = set()  # damaged rows already reported (once per handle)
        self._conn = open_for_reading(self.path, SCHEMA) if readonly else open_for_writing(self.path, SCHEMA)

    @property
    def folder(self) -> Path:
        """Where run artefacts (checkpoints, figures) live: beside the database."""
        return self.path.parent

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self):
        """All-or-nothing: either every statement inside lands, or none does. A write the store refuses (locked
        by another process past the wait, a full disk, a read-only file) is a one-line GroklabError."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise write_error(self.path, err) from None
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as err:
            if self._conn.in_transaction:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled back already (e.g. after a full disk)
            if isinstance(err, sqlite3.OperationalError) and any(f in str(err) for f in WRITE_FAULTS):
                raise write_error(self.path, err) from None
            raise

    # -- writes ------------------------------------------------------------------------------
    def start_run(self, run_id: str, *, config: dict, seed: int, config_hash: str, name: str = "run",
                  ensemble_id: str | None = None, member: int = 0, sweep_id: str | None = None,
                  folder: str | None = None) -> None:
        """Record a run as running. A run already stored complete is left as it is (status, ensemble, folder),
        even when it is retrained on purpose (`--force`): until new results replace its rows in one
        transaction, it stays complete, so an interrupt or a kill can never leave it stale or cleanable."""
        now = time.time()
        with self.transaction() as c:
            c.execute(
                """INSERT INTO runs(run_id, sweep_id, ensemble_id, member, name, config_hash, seed, status, config,
                                    folder, created, updated)
                   VALUES (?,?,?,?,?,?,?,'running',?,?,?,?)
                   ON CONFLICT(run_id) DO UPDATE SET status='running', error=NULL, updated=excluded.updated,
                       ensemble_id=excluded.ensemble_id, member=excluded.member, folder=excluded.folder,
                       sweep_id=COALESCE(runs.sweep_id, excluded.sweep_id)
                   WHERE runs.status != 'complete'""",
                (run_id, sweep_id, ensemble_id, member, name, config_hash, seed, to_json(config), folder, now, now),
            )
            if c.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()[0] == "running":
                c.execute("INSERT OR REPLACE INTO run_owners VALUES (?,?,?,?)", (run_id, *current_owner()))

    def write_results(self, run_id: str, metrics: Iterable[tuple], series: Iterable[tuple] = (),
                      summary: dict | None = None, status: str | None = None) -> None:
        """Replace a run's metrics/series and optionally set its summary and status, in one transaction.

        metrics rows: (epoch, train_loss, train_acc, test_loss, test_acc, collapse);
        series rows: (epoch, key, value).
        """
        if status is not None and status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.transaction() as c:
            c.execute("DELETE FROM metrics WHERE run_id=?", (run_id,))
            c.executemany("INSERT INTO metrics VALUES (?,?,?,?,?,?,?)", [(run_id, *row) for row in metrics])
            c.execute("DELETE FROM series WHERE run_id=?", (run_id,))
            c.executemany("INSERT INTO series VALUES (?,?,?,?)", [(run_id, *row) for row in series])
            if summary is not None:
                c.execute("UPDATE runs SET summary=?, updated=? WHERE run_id=?", (to_json(summary), time.time(), run_id))
            if status is not None:
                c.execute("UPDATE runs SET status=?, updated=? WHERE run_id=?", (status, time.time(), run_id))

    def update_summary(self, run_id: str, fields: dict) -> dict:
        """Merge `fields` into a run's stored summary (one transaction); returns the new summary."""
        with self.transaction() as c:
            row = c.execute("SELECT summary FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                raise GroklabError(f"no run {run_id!r} in {self.path}")
            summary = dict(json.loads(row[0]) if row[0] else {}, **fields)
            c.execute("UPDATE runs SET summary=?, updated=? WHERE run_id=?", (to_json(summary), time.time(), run_id))
        return summary

    def fail_run(self, run_id: str, error: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET status='failed', error=?, updated=? WHERE run_id=?", (error, time.time(), run_id))

    def end_runs(self, run_ids: Iterable[str], status: str, error: str | None = None) -> None:
        """Mark the runs among `run_ids` still `running` as `status` (interrupted or failed); others stay."""
        with self.transaction() as c:
            c.executemany("UPDATE runs SET status=?, error=?, updated=? WHERE run_id=? AND status='running'",
                          [(status, error, time.time(), r) for r in run_ids])

    def record_sweep(self, sweep_id: str, spec: dict) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO sweeps VALUES (?,?,?)", (sweep_id, to_json(spec), time.time()))

    def link_sweep_runs(self, sweep_id: str, run_ids: Iterable[str]) -> None:
        """Record which runs belong to a sweep (a run shared by two sweeps belongs to both)."""
        with self.transaction() as c:
            c.executemany("INSERT OR IGNORE INTO sweep_runs VALUES (?,?)", [(sweep_id, r) for r in run_ids])

    def sweep_run_ids(self, sweep_id: str) -> list[str]:
        return [r[0] for r in self._rows("SELECT run_id FROM sweep_runs WHERE sweep_id=? ORDER BY run_id", (sweep_id,))]

    def sweeps(self) -> pd.DataFrame:
        """Recorded sweeps with their spec decoded and their number of runs."""
        df = self._frame("""SELECT s.sweep_id, s.spec, s.created, COUNT(r.run_id) AS runs FROM sweeps s
                            LEFT JOIN sweep_runs r ON r.sweep_id = s.sweep_id
                            GROUP BY s.sweep_id ORDER BY s.created""")
        df["spec"] = df["spec"].map(lambda s: json.loads(s) if s else {})
        return df

    # -- stale rows --------------------------------------------------------------------------
    def stale_runs(self) -> list[str]:
        """Runs recorded as running by a process that is gone (see `groklab.owners`)."""
        has_owners = bool(self._rows("SELECT 1 FROM sqlite_master WHERE type='table' AND name='run_owners'"))
        q = ("SELECT r.run_id, o.host, o.pid, o.started FROM runs r LEFT JOIN run_owners o ON o.run_id = r.run_id "
             "WHERE r.status = 'running'" if has_owners else
             "SELECT run_id, NULL, NULL, NULL FROM runs WHERE status = 'running'")
        return [run_id for run_id, host, pid, started in self._rows(q) if not owner_alive(host, pid, started)]

    def clean_stale(self) -> list[str]:
        """Delete the stale running runs with their rows (checkpoints on disk stay); return their ids."""
        removed = []
        with self.transaction() as c:
            for run_id in self.stale_runs():
                if c.execute("DELETE FROM runs WHERE run_id=? AND status='running'", (run_id,)).rowcount:
                    for table in ("metrics", "series", "run_owners"):
                        c.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
                    removed.append(run_id)
        return removed

    # -- reads -------------------------------------------------------------------------------
    def run_status(self, run_id: str) -> str | None:
        rows = self._rows("SELECT status FROM runs WHERE run_id=?", (run_id,))
        return rows[0][0] if rows else None

    def completed(self, run_ids: Iterable[str]) -> set[str]:
        ids = list(run_ids)
        done: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT run_id FROM runs WHERE status='complete' AND run_id IN ({','.join('?' * len(chunk))})"
            done |= {r[0] for r in self._rows(q, chunk)}
        return done

    def runs(self, where: str | None = None, params: tuple = (), *, user_where: str | None = None) -> pd.DataFrame:
        """Runs as a DataFrame, with `config` and `summary` decoded to dicts.

        Given `user_where` (the filter as the user wrote it, translated into `where`), the query runs
        under `store_open.guarded_read`'s rules: read-only, the runs table only, time-limited.
        """
        q = "SELECT * FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY created, run_id"
        if user_where is not None:
            df = guarded_read(self.path, q, tuple(params), user_where)
        else:
            try:
                df = self._frame(q, params)
            except (sqlite3.Error, pd.errors.DatabaseError) as err:
                raise GroklabError(f"bad query {where!r}: {err}") from None
        for col in ("config", "summary"):
            df[col] = [self._decode(text, run_id, col) for text, run_id in zip(df[col], df["run_id"])]
        return df

    def _decode(self, text, run_id: str, column: str) -> dict:
        """A JSON column as a dict ({} for NULL, which may read as NaN). A row damaged by hand or by another
        program is reported in one line and read as {}, so that the other runs still list."""
        if not isinstance(text, str) or not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        if (run_id, column) in self._warned:
            return {}
        self._warned.add((run_id, column))
        warn(f"warning: run {run_id} in {str(self.path)!r} has a damaged {column} (not a JSON object); shown without it")
        return {}

    def run(self, run_id: str) -> dict:
        """The run with this id or id prefix (matched literally: no SQL wildcards)."""
        if not run_id:
            raise GroklabError("give a run id or a prefix of one; list runs with `groklab runs list`")
        df = self.runs("substr(run_id, 1, ?) = ?", (len(run_id), run_id))
        if df.empty:
            raise GroklabError(f"no run {run_id!r} in {self.path}; list runs with `groklab runs list`")
        if len(df) > 1:
            raise GroklabError(f"run id prefix {run_id!r} is ambiguous ({len(df)} runs); give more characters")
        return df.iloc[0].to_dict()

    def metrics(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        return self._select("metrics", run_ids, "epoch")

    def series(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        return self._select("series", run_ids, "epoch, key")

    def _select(self, table: str, run_ids, order: str) -> pd.DataFrame:
        if run_ids is None:
            return self._frame(f"SELECT * FROM {table} ORDER BY run_id, {order}")
        ids = list(run_ids)
        frames = []
        for i in range(0, max(len(ids), 1), 500):
            chunk = ids[i : i + 500]
            if not chunk:
                break
            q = f"SELECT * FROM {table} WHERE run_id IN ({','.join('?' * len(chunk))}) ORDER BY run_id, {order}"
            frames.append(self._frame(q, chunk))
        return pd.concat(frames, ignore_index=True) if frames else self._frame(f"SELECT * FROM {table} LIMIT 0")

    def _rows(self, q: str, params=()) -> list[tuple]:
        try:
            return self._conn.execute(q, tuple(params)).fetchall()
        except sqlite3.DatabaseError as err:
            raise self._damage_or(err) from None

    def _frame(self, q: str, params=()) -> pd.DataFrame:
        try:
            return pd.read_sql_query(q, self._conn, params=tuple(params))
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as err:
            raise self._damage_or(err) from None

    def _damage_or(self, err: Exception) -> Exception:
        """A damaged-store GroklabError for corruption met while reading; the error itself otherwise."""
        text = str(err)
        if any(s in text for s in ("malformed", "not a database", "disk I/O error")):
            return damaged(self.path, text.split(": ")[-1])
        return err
