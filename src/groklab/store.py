"""The results database (SQLite): runs, per-epoch metrics, analysis series, artifacts.

One source of truth: plots and reports read from here. A run is one ensemble member: its id is the
hash of its single-member config (seed, lr and weight decay as scalars), so re-running the same
config finds what is already done. Every write is one transaction: a run's metrics are replaced
whole, never half-written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import pandas as pd

from groklab.errors import GroklabError

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
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    epoch INTEGER,
    PRIMARY KEY (run_id, kind, path)
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
"""

METRIC_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc", "collapse")
RUN_STATUSES = ("running", "complete", "failed")


class Store:
    """A handle on one SQLite results file (created on first use)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise GroklabError(f"cannot open the store at {str(self.path)!r}: {err}; set store.path or GROKLAB_STORE") from None
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    @property
    def folder(self) -> Path:
        """Where run artefacts (checkpoints, figures) live: beside the database."""
        return self.path.parent

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self):
        """All-or-nothing: either every statement inside lands, or none does."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    # -- writes ------------------------------------------------------------------------------
    def start_run(self, run_id: str, *, config: dict, seed: int, config_hash: str, name: str = "run",
                  ensemble_id: str | None = None, member: int = 0, sweep_id: str | None = None,
                  folder: str | None = None) -> None:
        now = time.time()
        with self.transaction() as c:
            c.execute(
                """INSERT INTO runs(run_id, sweep_id, ensemble_id, member, name, config_hash, seed, status, config,
                                    folder, created, updated)
                   VALUES (?,?,?,?,?,?,?,'running',?,?,?,?)
                   ON CONFLICT(run_id) DO UPDATE SET status='running', error=NULL, updated=excluded.updated,
                       ensemble_id=excluded.ensemble_id, member=excluded.member, folder=excluded.folder,
                       sweep_id=COALESCE(runs.sweep_id, excluded.sweep_id)""",
                (run_id, sweep_id, ensemble_id, member, name, config_hash, seed, json.dumps(config), folder, now, now),
            )

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
                c.execute("UPDATE runs SET summary=?, updated=? WHERE run_id=?", (json.dumps(summary), time.time(), run_id))
            if status is not None:
                c.execute("UPDATE runs SET status=?, updated=? WHERE run_id=?", (status, time.time(), run_id))

    def update_summary(self, run_id: str, fields: dict) -> dict:
        """Merge `fields` into a run's stored summary (one transaction); returns the new summary."""
        with self.transaction() as c:
            row = c.execute("SELECT summary FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                raise GroklabError(f"no run {run_id!r} in {self.path}")
            summary = dict(json.loads(row[0]) if row[0] else {}, **fields)
            c.execute("UPDATE runs SET summary=?, updated=? WHERE run_id=?", (json.dumps(summary), time.time(), run_id))
        return summary

    def fail_run(self, run_id: str, error: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET status='failed', error=?, updated=? WHERE run_id=?", (error, time.time(), run_id))

    def add_artifact(self, run_id: str, kind: str, path: str, epoch: int | None = None) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO artifacts VALUES (?,?,?,?)", (run_id, kind, path, epoch))

    def record_sweep(self, sweep_id: str, spec: dict) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO sweeps VALUES (?,?,?)", (sweep_id, json.dumps(spec), time.time()))

    def link_sweep_runs(self, sweep_id: str, run_ids: Iterable[str]) -> None:
        """Record which runs belong to a sweep (a run shared by two sweeps belongs to both)."""
        with self.transaction() as c:
            c.executemany("INSERT OR IGNORE INTO sweep_runs VALUES (?,?)", [(sweep_id, r) for r in run_ids])

    def sweep_run_ids(self, sweep_id: str) -> list[str]:
        rows = self._conn.execute("SELECT run_id FROM sweep_runs WHERE sweep_id=? ORDER BY run_id", (sweep_id,))
        return [r[0] for r in rows]

    def sweeps(self) -> pd.DataFrame:
        """Recorded sweeps with their spec decoded and their number of runs."""
        df = pd.read_sql_query("""SELECT s.sweep_id, s.spec, s.created, COUNT(r.run_id) AS runs FROM sweeps s
                                  LEFT JOIN sweep_runs r ON r.sweep_id = s.sweep_id
                                  GROUP BY s.sweep_id ORDER BY s.created""", self._conn)
        df["spec"] = df["spec"].map(lambda s: json.loads(s) if s else {})
        return df

    # -- reads -------------------------------------------------------------------------------
    def run_status(self, run_id: str) -> str | None:
        row = self._conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return row[0] if row else None

    def completed(self, run_ids: Iterable[str]) -> set[str]:
        ids = list(run_ids)
        done: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT run_id FROM runs WHERE status='complete' AND run_id IN ({','.join('?' * len(chunk))})"
            done |= {r[0] for r in self._conn.execute(q, chunk)}
        return done

    def runs(self, where: str | None = None, params: tuple = ()) -> pd.DataFrame:
        """Runs as a DataFrame, with `config` and `summary` decoded to dicts."""
        q = "SELECT * FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY created, run_id"
        try:
            df = pd.read_sql_query(q, self._conn, params=params)
        except (sqlite3.Error, pd.errors.DatabaseError) as err:
            raise GroklabError(f"bad query {where!r}: {err}") from None
        for col in ("config", "summary"):
            df[col] = df[col].map(lambda s: json.loads(s) if isinstance(s, str) and s else {})  # NULL may read as NaN
        return df

    def run(self, run_id: str) -> dict:
        df = self.runs("run_id = ? OR run_id LIKE ?", (run_id, f"{run_id}%"))
        if df.empty:
            raise GroklabError(f"no run {run_id!r} in {self.path}; list runs with `groklab runs list`")
        if len(df) > 1:
            raise GroklabError(f"run id prefix {run_id!r} is ambiguous ({len(df)} runs); give more characters")
        return df.iloc[0].to_dict()

    def metrics(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        return self._select("metrics", run_ids, "epoch")

    def series(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        return self._select("series", run_ids, "epoch, key")

    def artifacts(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        return self._select("artifacts", run_ids, "epoch")

    def _select(self, table: str, run_ids, order: str) -> pd.DataFrame:
        if run_ids is None:
            return pd.read_sql_query(f"SELECT * FROM {table} ORDER BY run_id, {order}", self._conn)
        ids = list(run_ids)
        frames = []
        for i in range(0, max(len(ids), 1), 500):
            chunk = ids[i : i + 500]
            if not chunk:
                break
            q = f"SELECT * FROM {table} WHERE run_id IN ({','.join('?' * len(chunk))}) ORDER BY run_id, {order}"
            frames.append(pd.read_sql_query(q, self._conn, params=chunk))
        return pd.concat(frames, ignore_index=True) if frames else pd.read_sql_query(f"SELECT * FROM {table} LIMIT 0", self._conn)
