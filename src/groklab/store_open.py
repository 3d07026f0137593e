"""Opening a results store safely, and running a user's `--where` filter on it.

For writing, a store is checked before anything is written: a file that is not an SQLite database,
a truncated one, or one whose pages fail SQLite's `quick_check` is refused with one line that says
how to recover, and is never modified. For reading, a store opens read-only (so a store on a
read-only disk or folder can be queried), falling back to SQLite's `immutable` mode where the
folder does not even allow the shared-memory file that WAL readers need.

A `--where` filter is SQL that the user writes. It runs on its own read-only connection that may
read only the `runs` table (and `sweep_runs`, for `--sweep`), with no PRAGMAs or recursive queries,
makes no value over `WHERE_MAX_VALUE_BYTES` (so no single step runs long or takes much memory), and is
stopped after `WHERE_TIME_LIMIT_S` seconds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

from groklab import store_schema
from groklab.errors import GroklabError

SQLITE_HEADER = b"SQLite format 3\x00"
WHERE_TIME_LIMIT_S = 10.0
LOCK_TIMEOUT_S = 60.0  # how long a write waits for another process's lock before giving up
WHERE_TABLES = frozenset({"runs", "sweep_runs"})
_PROGRESS_STEPS = 1_000  # SQLite VM instructions between two looks at the clock
WHERE_MAX_VALUE_BYTES = 16 << 20  # the largest string or blob a --where may make (stored configs are a few kB)


def damaged(path: Path, detail: str) -> GroklabError:
    detail = " ".join(detail.replace("*** in database main ***", "").split())  # one line
    return GroklabError(
        f"the store {str(path)!r} is damaged ({detail}); groklab did not modify it. Keep a copy, recover its rows "
        f"with `sqlite3 {path} .recover | sqlite3 recovered.sqlite`, and set store.path or GROKLAB_STORE (or --store) "
        "to the recovered file, or to a new file to start afresh")


# Stores this process has opened. POSIX drops every lock a process holds on a file when it closes any
# descriptor of that file, so reading the header of a store this process already has open would silently
# release its SQLite locks: another process closing the store would then believe it was the last, and
# checkpoint and delete the WAL under a running writer (its later commits lost). Such a store had its
# header checked when it was first opened here, so it is not read again.
_OPENED_HERE: set[str] = set()


def _check_header(path: Path) -> None:
    """A non-empty file must start like an SQLite database; anything else is refused, never overwritten."""
    key = str(path.resolve())
    if key in _OPENED_HERE:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as err:
        raise GroklabError(f"cannot read the store {str(path)!r}: {err.strerror or err}") from None
    if head and head != SQLITE_HEADER:
        raise GroklabError(f"{str(path)!r} is not an SQLite database, so it is not a groklab store; groklab did not "
                           "modify it. Set store.path or GROKLAB_STORE (or --store) to another file")


WRITE_FAULTS = ("locked", "busy", "full", "readonly", "read-only", "disk I/O error")


def write_error(path: Path, err: sqlite3.Error) -> GroklabError:
    """One line for a write the store refused: locked by another process, a full disk, a read-only file."""
    text = str(err)
    if "locked" in text or "busy" in text:
        return GroklabError(f"the store {str(path)!r} is locked by another process (waited {LOCK_TIMEOUT_S:g} s); let it "
                            "finish or stop it, then run the same command again")
    if "full" in text:
        return GroklabError(f"cannot write the store {str(path)!r}: the disk is full; free some space (or set store.path "
                            "or GROKLAB_STORE to a disk with room), then run the same command again")
    return _explain(path, err, writing=True)


def _explain(path: Path, err: sqlite3.Error, writing: bool) -> GroklabError:
    text = str(err)
    if writing and any(s in text for s in ("locked", "busy", "full")):
        return write_error(path, err)
    if any(s in text for s in ("malformed", "not a database", "disk I/O error", "corrupt")):
        return damaged(path, text)
    if writing and any(s in text for s in ("readonly", "read-only", "unable to open")):
        return GroklabError(f"cannot write the store {str(path)!r}: {text} (is its folder writable?); set store.path "
                            "or GROKLAB_STORE to a file in a writable folder")
    return GroklabError(f"cannot open the store {str(path)!r}: {text}; set store.path or GROKLAB_STORE (or --store)")


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """SQLite's `quick_check` (page and record structure, no index cross-check); refuse damage."""
    rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    if rows != [("ok",)]:
        raise damaged(path, f"quick_check: {rows[0][0] if rows else 'no answer'}")


def open_for_writing(path: Path, schema: str) -> sqlite3.Connection:
    """A read-write connection in WAL mode with `schema` applied; a GroklabError on any problem."""
    if path.exists() and not path.is_file():
        raise GroklabError(f"the store path {str(path)!r} is not a file; set store.path or GROKLAB_STORE to a file")
    existed = path.is_file() and path.stat().st_size > 0
    if existed:
        _check_header(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GroklabError(f"cannot create the store folder {str(path.parent)!r}: {err.strerror or err}; "
                           "set store.path or GROKLAB_STORE") from None
    conn = None
    try:
        conn = sqlite3.connect(str(path), timeout=LOCK_TIMEOUT_S, isolation_level=None)
        version = 0  # a new file: stamped below
        if existed:
            quick_check(conn, path)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "runs" not in tables:
                raise GroklabError(f"{str(path)!r} is an SQLite database of something else (no runs table); groklab "
                                   "did not modify it. Set store.path or GROKLAB_STORE (or --store) to another file")
            version = store_schema.check(conn, path, schema) if tables else 0
        # every check above only read: a refused file is as it was, not even switched to WAL
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(schema)
        store_schema.migrate(conn, version)
        _OPENED_HERE.add(str(path.resolve()))
    except sqlite3.Error as err:
        if conn is not None:
            conn.close()
        raise _explain(path, err, writing=True) from None
    except GroklabError:
        conn.close()
        raise
    return conn


def open_for_reading(path: Path, schema: str | None = None) -> sqlite3.Connection:
    """A read-only connection to an existing store; works in read-only folders. Given `schema`, a store of
    another schema version or with other columns is refused (see `groklab.store_schema`)."""
    if not path.is_file():
        raise GroklabError(f"no store at {str(path)!r}; run `groklab train` or `groklab sweep` first, or pass --store")
    _check_header(path)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    last: sqlite3.Error | None = None
    for suffix in ("", "&immutable=1"):  # immutable: the folder does not allow WAL's shared-memory file
        conn = sqlite3.connect(uri + suffix, uri=True, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as err:
            conn.close()
            last = err
            if "unable to open" in str(err) or "readonly" in str(err):
                continue
            raise _explain(path, err, writing=False) from None
        if "runs" not in tables:
            conn.close()
            raise GroklabError(f"{str(path)!r} is an SQLite database without a runs table, not a groklab store; "
                               "pass the store file with --store (or store.path)")
        try:
            if schema is not None:
                store_schema.check(conn, path, schema)
        except GroklabError:
            conn.close()
            raise
        _OPENED_HERE.add(str(path.resolve()))
        return conn
    raise _explain(path, last, writing=False)


def guarded_read(path: Path, sql: str, params: tuple, where: str):
    """Run `sql` (a SELECT over runs with the user's `where` in it) under the rules of the module docstring."""
    import pandas as pd

    conn = open_for_reading(path)
    deadline = time.monotonic() + WHERE_TIME_LIMIT_S
    conn.set_authorizer(_authorize)
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
    if hasattr(conn, "setlimit"):  # Python >= 3.11
        # One SQL step is not interrupted: a single randomblob(10**9) would run past any deadline and take
        # its size in memory. No string or blob may exceed WHERE_MAX_VALUE_BYTES, so no step is that long.
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, WHERE_MAX_VALUE_BYTES)
    timer = threading.Timer(WHERE_TIME_LIMIT_S + 0.5, _interrupt, (conn,))  # a wall-clock stop, as well as the steps'
    timer.daemon = True
    timer.start()
    try:
        return pd.read_sql_query(sql, conn, params=params)
    except (sqlite3.Error, pd.errors.DatabaseError) as err:
        text = str(err)
        if "too big" in text:
            raise GroklabError(f"--where {where!r} makes a value larger than {WHERE_MAX_VALUE_BYTES >> 20} MiB and was "
                               "stopped; filter with simpler conditions on the runs' columns, config.* and summary.*") from None
        if "interrupted" in text:
            raise GroklabError(f"--where {where!r} ran longer than {WHERE_TIME_LIMIT_S:g} s and was stopped; "
                               "filter with simpler conditions on the runs' columns, config.* and summary.*") from None
        if "not authorized" in text or "prohibited" in text:
            raise GroklabError(f"--where {where!r} may only read the runs table (its columns, config.* and summary.*), "
                               "without PRAGMAs or recursive queries") from None
        if any(s in text for s in ("malformed database", "disk image", "not a database")):
            raise damaged(path, text.split(": ")[-1]) from None
        raise GroklabError(f"bad query {where!r}: {text.split(': ')[-1]}") from None
    finally:
        timer.cancel()
        conn.close()


def _interrupt(conn: sqlite3.Connection) -> None:
    try:
        conn.interrupt()
    except sqlite3.Error:  # closed meanwhile: the query is over
        pass


def _authorize(action: int, arg1, arg2, db_name, source) -> int:
    if action == sqlite3.SQLITE_SELECT:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ:
        return sqlite3.SQLITE_OK if arg1 in WHERE_TABLES else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY  # PRAGMA, recursive CTEs, ATTACH, any write
