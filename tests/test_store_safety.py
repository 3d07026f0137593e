"""Stores fail loudly and safely: damaged files are refused untouched, read-only places can be read,
stale `running` rows are shown and cleaned, JSON stays finite, and `--where` only reads runs."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from helpers import cli, one_line_error, small_store
from groklab.errors import GroklabError
from groklab.store import Store

TRAIN = ["train", "li2_fig3", "task.group=Z7", "model.width=16", "train.epochs=2", "train.checkpoint_dense_until=0"]


@pytest.fixture
def store(capsys, tmp_path):
    return small_store(capsys, tmp_path)


def damage(path, offset, size):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes((i * 89 + 7) % 256 for i in range(size)))


# -- 3. damaged stores ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["truncated", "not a database", "damaged in the middle"])
def test_damaged_store_is_refused_for_reading_and_writing_and_left_untouched(capsys, tmp_path, store, kind):
    bad = tmp_path / "bad.sqlite"
    if kind == "truncated":
        bad.write_bytes(store.read_bytes()[:5000])
    elif kind == "not a database":
        bad.write_text("these are my notes\n")
    else:
        shutil.copy(store, bad)
        damage(bad, 20_000, 2000)  # pages in the middle of the file
    before = bad.read_bytes()
    fragment = "not an SQLite database" if kind == "not a database" else "is damaged"
    for table in ("runs", "metrics"):  # reads are not integrity-checked up front, but damage they meet is one line
        code, _, err = cli(capsys, "runs", "export", "--table", table, "--store", bad)
        if kind != "damaged in the middle" or code != 0:
            one_line_error(code, err, fragment)
    code, _, err = cli(capsys, *TRAIN, "optim.lr=0.002", f"store.path={bad}")  # a new run: it would write
    one_line_error(code, err, fragment)
    if kind != "not a database":
        assert ".recover" in err  # says how to recover
    assert bad.read_bytes() == before
    wal = tmp_path / "bad.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # nothing was written beside it either


def test_a_foreign_sqlite_database_is_not_written(tmp_path):
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE notes (t TEXT)")
    before = other.read_bytes()
    with pytest.raises(GroklabError, match="something else"):
        Store(other)
    assert other.read_bytes() == before


def _read_only_folder(folder):
    """Run a shell command with `folder` read-only: chmod for ordinary users, a read-only bind mount for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda cmd: subprocess.run(["sh", "-c", cmd], capture_output=True, text=True)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: no way to make a folder read-only")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount --bind -o ro {folder} {folder}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root and read-only bind mounts are not allowed here")
    return lambda cmd: subprocess.run(["unshare", "-rm", "sh", "-c", f"mount --bind -o ro {folder} {folder} && {cmd}"],
                                      capture_output=True, text=True)


def test_a_store_in_a_read_only_folder_can_be_read_but_not_written(tmp_path, store):
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(store, folder / "runs.sqlite")
    run = _read_only_folder(folder)
    groklab = f"{sys.executable} -c 'from groklab.cli import main; main()'"
    env = f"PYTHONPATH={os.pathsep.join(sys.path)} OMP_NUM_THREADS=1"
    try:
        listed = run(f"{env} {groklab} runs list --store {folder / 'runs.sqlite'} --where 'seed >= 1'")
        assert listed.returncode == 0 and "2 run(s)" in listed.stdout, listed.stderr
        written = run(f"{env} {groklab} {' '.join(TRAIN)} optim.lr=0.002 store.path={folder / 'runs.sqlite'}")
        assert written.returncode == 2 and written.stderr.count("\n") == 1 and "is its folder writable" in written.stderr
        fresh = run(f"{env} {groklab} {' '.join(TRAIN)} store.path={folder / 'new.sqlite'}")
        assert fresh.returncode == 2 and "cannot write the store" in fresh.stderr
    finally:
        folder.chmod(0o755)
    assert sorted(p.name for p in folder.iterdir()) == ["runs.sqlite"]


# -- 1. finite JSON, stale running rows ----------------------------------------------------------

def test_non_finite_numbers_are_stored_as_null(tmp_path):
    s = Store(tmp_path / "runs.sqlite")
    s.start_run("r1", config={"optim": {"lr": float("nan")}, "b": [float("inf"), 1.0]}, seed=0, config_hash="h")
    s.write_results("r1", [], summary={"final_test_loss": float("-inf")}, status="complete")
    row = s.run("r1")
    assert row["config"] == {"optim": {"lr": None}, "b": [None, 1.0]} and row["summary"] == {"final_test_loss": None}
    from groklab.sweep.query import runs_frame

    assert len(runs_frame(s, where="config.b IS NOT NULL AND summary.final_test_loss IS NULL")) == 1


def test_where_survives_rows_with_nan_written_by_older_versions(tmp_path):
    s = Store(tmp_path / "runs.sqlite")
    s.start_run("good", config={"x": 1}, seed=0, config_hash="h")
    s.start_run("old", config={"x": 2}, seed=0, config_hash="h")
    with s.transaction() as c:
        c.execute("UPDATE runs SET config = '{\"x\": NaN}' WHERE run_id = 'old'")
    from groklab.sweep.query import runs_frame

    assert runs_frame(s, where="config.x = 1")["run_id"].tolist() == ["good"]


def test_stale_running_rows_are_listed_and_cleaned(capsys, tmp_path, store):
    killed = textwrap.dedent(f"""
        from groklab.store import Store
        Store({str(store)!r}).start_run("deadbeef00000000", config={{}}, seed=9, config_hash="h", name="killed")
    """)
    subprocess.run([sys.executable, "-c", killed], check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    Store(store).start_run("a11ve000000000000", config={}, seed=8, config_hash="h", name="alive")  # this process
    code, out, _ = cli(capsys, "runs", "list", "--store", store)
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert code == 0 and " stale " in lines["deadbeef"] and " running " in lines["a11ve000"]
    assert "1 stale run(s)" in out and "groklab runs clean" in out
    code, out, _ = cli(capsys, "runs", "list", "--store", store, "--json")
    objs = {o["id"]: o for o in map(json.loads, out.splitlines())}
    assert objs["deadbeef00000000"]["stale"] and not objs["a11ve000000000000"]["stale"]
    code, out, _ = cli(capsys, "runs", "clean", "--dry-run", "--store", store)
    assert code == 0 and "would remove 1 stale run(s): deadbeef" in out and Store(store).run_status("deadbeef00000000")
    code, out, _ = cli(capsys, "runs", "clean", "--store", store, "--json")
    assert code == 0 and json.loads(out)["removed"] == ["deadbeef00000000"]
    assert Store(store).run_status("deadbeef00000000") is None
    assert Store(store).run_status("a11ve000000000000") == "running"  # a live process's row stays
    assert len(Store(store).runs()) == 4


# -- 5. --where is a read-only filter over runs ----------------------------------------------------

@pytest.mark.parametrize("where", [
    "run_id IN (SELECT run_id FROM metrics)",
    "(SELECT count(*) FROM sqlite_master) > 0",
    "run_id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)",
    "EXISTS (SELECT 1 FROM pragma_table_info('runs'))",
])
def test_where_may_only_read_the_runs_table(capsys, store, where):
    code, _, err = cli(capsys, "runs", "list", "--where", where, "--store", store)
    one_line_error(code, err, "may only read the runs table")


def test_where_is_stopped_after_its_time_limit(capsys, store, monkeypatch):
    import groklab.store_open

    monkeypatch.setattr(groklab.store_open, "WHERE_TIME_LIMIT_S", 0.0)
    heavy = "(SELECT count(*) FROM runs a, runs b, runs c, runs d, runs e, runs f, runs g, runs h) > 0"
    code, _, err = cli(capsys, "runs", "list", "--where", heavy, "--store", store)
    one_line_error(code, err, "was stopped")


def test_where_still_filters_with_subqueries_on_runs(capsys, store):
    code, out, _ = cli(capsys, "runs", "list", "--where", "seed = (SELECT max(seed) FROM runs) AND config.task.group = 'Z7'",
                       "--store", store)
    assert code == 0 and "1 run(s)" in out
