"""Stores are versioned: a newer one is refused naming both versions, one written before versions were
recorded is migrated, other SQLite files (even with a `runs` table) are refused byte for byte untouched,
and a damaged row is reported in one line while the other runs still list."""

import sqlite3

import pytest

from helpers import cli, one_line_error, small_store
from groklab.errors import GroklabError
from groklab.store import SCHEMA, Store
from groklab.store_schema import SCHEMA_VERSION

TRAIN = ["train", "li2_fig3", "task.group=Z7", "model.width=16", "train.epochs=2", "train.checkpoint_dense_until=0"]


@pytest.fixture
def store(capsys, tmp_path):
    return small_store(capsys, tmp_path)


def checkpoint(path):
    with sqlite3.connect(path) as c:  # every change into the main file, so that its bytes say it all
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_a_new_store_records_the_schema_version(store):
    with sqlite3.connect(store) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_store_is_refused_naming_both_versions(capsys, store):
    with sqlite3.connect(store) as c:
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    checkpoint(store)
    before = store.read_bytes()
    for args in (["runs", "list", "--store", store], [*TRAIN, "optim.lr=0.002", f"store.path={store}"]):
        code, _, err = cli(capsys, *args)
        one_line_error(code, err, f"schema version {SCHEMA_VERSION + 1}, newer than this groklab's {SCHEMA_VERSION}")
    assert store.read_bytes() == before


def previous_release_store(path, schema):
    """A store as a release before schema versions wrote it (user_version 0)."""
    with sqlite3.connect(path) as c:
        c.executescript(schema)
        c.execute("""INSERT INTO runs(run_id, status, config, summary, seed, created) VALUES
                     ('old0000000000000', 'complete', '{"optim": {"lr": 0.001}}', '{"grok_epoch": 5}', 0, 1.0)""")
    return path


@pytest.mark.parametrize("schema", [
    SCHEMA,  # the previous release: the same tables, no version recorded
    SCHEMA.split("CREATE TABLE IF NOT EXISTS run_owners")[0],  # earlier: before run owners were recorded
])
def test_a_store_of_an_earlier_release_is_migrated(capsys, tmp_path, schema):
    path = previous_release_store(tmp_path / "old.sqlite", schema)
    code, out, _ = cli(capsys, "runs", "list", "--store", path)  # reading: works, changes nothing
    assert code == 0 and "old00000" in out
    code, _, err = cli(capsys, *TRAIN, f"store.path={path}")
    assert code == 0, err
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert c.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
        assert c.execute("SELECT count(*) FROM run_owners").fetchone()[0] == 1  # the table was created


@pytest.mark.parametrize("change, fragment", [
    ("ALTER TABLE runs RENAME COLUMN seed TO seed_value", "lacks column(s) seed"),
    ("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT 'x'", None),  # has a default: groklab can write
])
def test_a_store_with_other_columns_is_refused_untouched(capsys, store, change, fragment):
    with sqlite3.connect(store) as c:
        c.execute(change)
    checkpoint(store)
    before = store.read_bytes()
    code, _, err = cli(capsys, *TRAIN, "optim.lr=0.002", f"store.path={store}")
    if fragment is None:
        assert code == 0, err
        return
    one_line_error(code, err, fragment)
    assert store.read_bytes() == before
    code, _, err = cli(capsys, "runs", "list", "--store", store)
    one_line_error(code, err, fragment)


def test_a_foreign_database_with_a_runs_table_is_refused_byte_for_byte(tmp_path):
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, distance REAL NOT NULL)")
        c.execute("INSERT INTO runs VALUES (1, 5.0)")
    before = other.read_bytes()
    with pytest.raises(GroklabError, match="not a store of this groklab"):
        Store(other)
    assert other.read_bytes() == before
    assert not (tmp_path / "app.sqlite-wal").exists()


def test_a_damaged_row_is_reported_in_one_line_and_the_others_still_list(capsys, store):
    with sqlite3.connect(store) as c:
        (bad,) = c.execute("SELECT run_id FROM runs ORDER BY run_id LIMIT 1").fetchone()
        c.execute("UPDATE runs SET summary = '{not json' WHERE run_id = ?", (bad,))
    code, out, err = cli(capsys, "runs", "list", "--store", store)
    assert code == 0 and "3 run(s)" in out
    assert err.count("\n") == 1 and f"run {bad} " in err and "damaged summary" in err
    code, out, err = cli(capsys, "runs", "list", "--store", store, "--json")
    assert code == 0 and len(out.splitlines()) == 3
