"""Which stores this groklab may open: the schema version (SQLite's `user_version`) and the columns.

A store records the version of the schema that wrote it. A newer one is refused (its rows may mean
something this groklab does not know), naming both versions. Version 0 is a store written before
versions were recorded: when its tables have every column this schema needs it is migrated in place
(missing tables created, the version set); otherwise it is refused. So is any SQLite file whose
tables do not match, such as another program's `runs` table. Every check only reads, so a refused
file is left byte for byte as it was (checked before the store is switched to WAL).
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from pathlib import Path

from groklab.errors import GroklabError

SCHEMA_VERSION = 1
MIGRATABLE = {0}  # versions `migrate` brings to SCHEMA_VERSION


@lru_cache(maxsize=4)
def expected_columns(schema: str) -> dict[str, dict[str, tuple[bool, bool]]]:
    """{table: {column: (not null, has default)}} of `schema`, read back from SQLite itself."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema)
        return _columns(conn)
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection) -> dict[str, dict[str, tuple[bool, bool]]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: {row[1]: (bool(row[3]), row[4] is not None or bool(row[5]))
                for row in conn.execute(f"PRAGMA table_info({_quote(t)})")} for t in tables}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check(conn: sqlite3.Connection, path: Path, schema: str) -> int:
    """The store's schema version after refusing, in one line, a store this groklab must not use."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise GroklabError(f"the store {str(path)!r} has schema version {version}, newer than this groklab's "
                           f"{SCHEMA_VERSION}; groklab did not modify it. Upgrade groklab (pip install -U groklab) "
                           "to use it, or set store.path or GROKLAB_STORE (or --store) to another file")
    if version < SCHEMA_VERSION and version not in MIGRATABLE:
        raise GroklabError(f"the store {str(path)!r} has schema version {version}, which this groklab (schema "
                           f"{SCHEMA_VERSION}) cannot migrate; groklab did not modify it")
    have = _columns(conn)
    for table, want in expected_columns(schema).items():
        if table not in have:
            continue  # a table added since: created on open for writing
        missing = [c for c in want if c not in have[table]]
        extra = [c for c, (not_null, default) in have[table].items() if c not in want and not_null and not default]
        if missing or extra:
            what = (f"its {table} table lacks column(s) {', '.join(missing)}" if missing else
                    f"its {table} table has required column(s) {', '.join(extra)} that groklab does not write")
            raise GroklabError(f"{str(path)!r} is not a store of this groklab (schema {SCHEMA_VERSION}): {what}; "
                               "groklab did not modify it. Set store.path or GROKLAB_STORE (or --store) to a groklab "
                               "store or a new file")
    return version


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a checked store of `version` to SCHEMA_VERSION (after the schema's CREATE ... IF NOT EXISTS ran)."""
    if version != SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
