"""One case per kind of mistake or hostile input, across subcommands, configs, stores, numbers, outputs and
security: each must be one line on stderr with exit status 2 (or work), never a traceback, and change
nothing stored. The deeper tests of each family live beside it (test_bad_input, test_store_versions,
test_untrusted_files, test_io_faults, test_interrupts, test_complete_runs); this module keeps one
representative of every kind, so the next mistake of a kind is caught here."""

import sqlite3
import textwrap
import time

import numpy as np
import pytest

from helpers import cli, cli_while_locked, one_line_error
from groklab.report.build import resolve_target
from groklab.store import Store

TRAIN = ["train", "li2_fig3", "task.group=Z7", "model.width=16", "train.epochs=2", "train.checkpoint_dense_until=0",
         "train.progress=false"]


@pytest.fixture
def store(capsys, tmp_path):
    path = tmp_path / "runs.sqlite"
    assert cli(capsys, *TRAIN, "train.seeds=[0,1]", f"store.path={path}")[0] == 0
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


# -- config files -----------------------------------------------------------------------------------

BOMB = "\n".join([f"k{0}: &a0 [x, x, x, x, x, x, x, x, x, x]"] +
                 [f"k{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)])


@pytest.mark.parametrize("text, fragment", [
    ("bogus_section:\n" + textwrap.indent(BOMB, "  "), "expands to more than"),  # alias bomb under an unknown key
    ("a: " + "[" * 5000 + "]" * 5000, "nesting depth"),
    ("a:\n" + "".join("  " * i + f"b{i}:\n" for i in range(1, 80)) + "  " * 80 + "c: 1", "nests deeper than 64"),
    ("name: !!binary aGVsbG8=", "binary"),
    ("name: 2020-01-01", "date"),
    ("name: !!set {a, b}", "set"),
    ("name: !!python/object:os.system ls", "could not determine a constructor"),
    ("model: {width: 16, 3: x}", "is not a string"),
])
def test_hostile_config_files_are_one_line(capsys, tmp_path, text, fragment):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    code, _, err = cli(capsys, "train", path, f"store.path={tmp_path / 'runs.sqlite'}")
    one_line_error(code, err, fragment)
    assert not (tmp_path / "runs.sqlite").exists()


def test_a_config_file_over_the_size_limit_is_refused_before_reading(capsys, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "# padding\n" * 200_000)
    code, _, err = cli(capsys, "train", path)
    one_line_error(code, err, "more than the 1,048,576 a config may have")


def test_a_huge_ensemble_is_refused_at_once(capsys, tmp_path):
    seeds = "[" + ",".join(map(str, range(20_000))) + "]"
    t0 = time.process_time()  # this process's CPU time, whatever else loads the machine
    code, _, err = cli(capsys, *TRAIN, f"train.seeds={seeds}", f"store.path={tmp_path / 'runs.sqlite'}")
    one_line_error(code, err, "at most 4096 members")
    assert time.process_time() - t0 < 2.0


def test_an_ensemble_too_big_for_memory_is_refused_at_once(capsys, tmp_path):
    seeds = "[" + ",".join(map(str, range(4096))) + "]"
    t0 = time.process_time()  # this process's CPU time: what the refusal costs, whatever else loads the machine
    code, _, err = cli(capsys, "train", "li2_fig3", f"train.seeds={seeds}", "model.width=1000000",
                       f"store.path={tmp_path / 'runs.sqlite'}")
    one_line_error(code, err, "4096 member(s)")
    assert time.process_time() - t0 < 2.0  # members are planned and checked before any per-member work


def test_an_override_that_reads_as_a_yaml_date_stays_text(capsys, tmp_path):
    code, out, err = cli(capsys, *TRAIN, "name=2020-01-01", f"store.path={tmp_path / 'runs.sqlite'}")
    assert code == 0, err
    assert Store(tmp_path / "runs.sqlite").runs()["name"].tolist() == ["2020-01-01"]


# -- numbers given to subcommands --------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["li2", "theory", "Z7", "--c", "nan"], "--c must be a finite number > 0"),
    (["li2", "theory", "Z7", "--c", "-1"], "--c must be a finite number > 0"),
    (["li2", "energy", "Z7", "--seed", "-1"], "--seed must be an integer in 0..4294967295"),
    (["li2", "energy", "S4", "--starts", "1000000000000"], "use --starts"),
    (["task", "info", "group=Z7", "--seed", "-1"], "0..4294967295"),
])
def test_out_of_range_numbers_are_one_line(capsys, args, fragment):
    code, _, err = cli(capsys, *args)
    one_line_error(code, err, fragment)


# -- output paths --------------------------------------------------------------------------------------

def test_groups_catalog_out_a_folder_is_one_line(capsys, tmp_path):
    code, _, err = cli(capsys, "groups", "catalog", "--max-order", "8", "--out", tmp_path)
    one_line_error(code, err, "is a folder; give a file name")


def test_report_out_a_file_is_one_line(capsys, tmp_path, store):
    target = tmp_path / "afile"
    target.write_text("keep me")
    code, _, err = cli(capsys, "report", "--latest", "--out", target, "--store", store)
    one_line_error(code, err, "is a file, not a folder")
    assert target.read_text() == "keep me"


def test_report_latest_reads_a_null_sweep_as_no_sweep(tmp_path):
    s = Store(tmp_path / "runs.sqlite")
    for run_id, sweep, t in (("sw000000", "sweep1", 1.0), ("lone0000", None, 2.0)):
        s.start_run(run_id, config={}, seed=0, config_hash=run_id, ensemble_id=f"e-{run_id}", sweep_id=sweep)
        s.write_results(run_id, [], summary={}, status="complete")
        with s.transaction() as c:
            c.execute("UPDATE runs SET updated=?, created=? WHERE run_id=?", (t, t, run_id))
    target = resolve_target(s, None)
    assert target.kind != "sweep" and target.run_ids == ["lone0000"]
    reads = s.runs  # pandas gives a NULL back as NaN where the column also holds text in some reads

    def runs_with_nan(*args, **kwargs):
        frame = reads(*args, **kwargs)
        frame["sweep_id"] = frame["sweep_id"].map(lambda v: np.nan if v is None else v)
        return frame

    s.runs = runs_with_nan
    target = resolve_target(s, None)
    assert target.kind != "sweep" and target.run_ids == ["lone0000"]


# -- stores ----------------------------------------------------------------------------------------------

def test_kinds_of_foreign_store_are_each_one_line_and_untouched(capsys, tmp_path):
    cases = {"text": b"hello, not a database\n", "foreign": None, "newer": None}
    for name in cases:
        path = tmp_path / f"{name}.sqlite"
        if cases[name] is not None:
            path.write_bytes(cases[name])
        else:
            with sqlite3.connect(path) as c:
                if name == "foreign":
                    c.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, distance REAL NOT NULL)")
                else:
                    c.execute("CREATE TABLE runs (run_id TEXT)")
                    c.execute("PRAGMA user_version=99")
        before = path.read_bytes()
        for args in (["runs", "list", "--store", path], [*TRAIN, f"store.path={path}"]):
            code, _, err = cli(capsys, *args)
            one_line_error(code, err)
        assert path.read_bytes() == before, name


def test_a_damaged_row_does_not_hide_the_others(capsys, store):
    with sqlite3.connect(store) as c:
        c.execute("UPDATE runs SET config = 'not json' WHERE rowid = 1")
    code, out, err = cli(capsys, "runs", "list", "--store", store)
    assert code == 0 and "2 run(s)" in out and err.count("\n") == 1 and "damaged config" in err
    code, out, err = cli(capsys, "report", "--latest", "--store", store, "--out", store.parent / "report")
    assert code == 0 and "report: " in out and "Traceback" not in err, err


# -- security -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("where, fragment", [
    ("run_id IN (SELECT run_id FROM metrics)", "may only read the runs table"),
    ("length(randomblob(900000000)) > 0", "larger than 16 MiB"),
    ("1; DROP TABLE runs", "bad query"),
])
def test_where_is_bounded_and_read_only(capsys, store, where, fragment):
    t0 = time.perf_counter()
    code, _, err = cli(capsys, "runs", "list", "--where", where, "--store", store)
    one_line_error(code, err, fragment)
    assert time.perf_counter() - t0 < 5
    assert len(Store(store).runs()) == 2


# -- faults, interrupts, data that must not be lost (one each; the full cases have their own modules) --

def test_a_locked_store_is_one_line(capsys, store, monkeypatch):
    from groklab import store_open

    monkeypatch.setattr(store_open, "LOCK_TIMEOUT_S", 0.2)
    code, _, err = cli_while_locked(capsys, store, *TRAIN, "optim.lr=0.002", f"store.path={store}")
    one_line_error(code, err, "locked by another process")


def test_an_interrupt_marks_runs_interrupted_not_running(tmp_path):
    from groklab.config import load_config
    from groklab.train.loop import train

    cfg = load_config(None, [*TRAIN[2:], "train.epochs=20", f"store.path={tmp_path / 'runs.sqlite'}"])

    def stop(epoch):
        if epoch == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="interrupted at epoch 6"):
        train(cfg, on_epoch=stop)
    assert Store(tmp_path / "runs.sqlite").runs()["status"].tolist() == ["interrupted"]


def test_a_complete_member_is_not_retrained_in_a_larger_ensemble(capsys, store):
    before = Store(store).runs().set_index("run_id")
    code, out, err = cli(capsys, *TRAIN, "train.seeds=[0,1,2]", f"store.path={store}", "--json")
    assert code == 0, err
    after = Store(store).runs().set_index("run_id")
    for run_id in before.index:
        assert after.loc[run_id, "updated"] == before.loc[run_id, "updated"]
        assert after.loc[run_id, "folder"] == before.loc[run_id, "folder"]
    assert len(after) == 3


def test_a_planted_pickle_is_refused(tmp_path):
    import os

    import torch

    from groklab.errors import GroklabError
    from groklab.train import checkpoint as ckpt

    class Planted:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'pwned'}",)

    torch.save({"run_ids": [], "x": Planted()}, tmp_path / "resume.pt")
    with pytest.raises(GroklabError, match="runs no code"):
        ckpt.load_resume(tmp_path)
    assert not (tmp_path / "pwned").exists()
