"""I/O faults are one line and leave no `running` row: a full disk, a read-only store file, an unwritable
checkpoint folder, a store locked by another process (after the wait it allows)."""

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from helpers import cli, cli_while_locked, one_line_error
from groklab import store_open
from groklab.store import Store

TRAIN = ["train", "li2_fig3", "task.group=Z7", "model.width=16", "train.epochs=3", "train.checkpoint_dense_until=0",
         "train.progress=false"]


def in_namespace(setup: str, args: list[str]):
    """Run groklab in a private mount namespace after the shell commands `setup` (mounts that need root)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare: cannot make a full disk or a read-only mount here")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("private mount namespaces are not allowed here")
    groklab = f"{sys.executable} -c 'from groklab.cli import main; main()'"
    env = f"PYTHONPATH={os.pathsep.join(sys.path)} OMP_NUM_THREADS=1"
    cmd = f"{setup} && {env} {groklab} {' '.join(map(str, args))}"
    return subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, timeout=300)


def no_running_rows(path):
    return "running" not in set(Store(path, readonly=True).runs()["status"])


def test_a_full_disk_is_one_line_and_leaves_no_running_row(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    # the store fits; the first weight snapshot (two 2000 x 14 float64 matrices, about 450 kB) does not
    script = (f"mount -t tmpfs -o size=400k tmpfs {disk} && {{ "
              f"PYTHONPATH={os.pathsep.join(sys.path)} OMP_NUM_THREADS=1 {sys.executable} -c "
              f"'from groklab.cli import main; main()' {' '.join(TRAIN)} model.width=2000 train.dtype=float64 "
              f"store.path={disk}/runs.sqlite; echo rc=$?; cp {disk}/runs.sqlite* {tmp_path}/; }}")
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("private mount namespaces are not allowed here")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert "rc=2" in done.stdout, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "cannot write the checkpoint" in done.stderr, done.stderr
    assert no_running_rows(tmp_path / "runs.sqlite")
    assert set(Store(tmp_path / "runs.sqlite", readonly=True).runs()["status"]) == {"failed"}


def test_an_unwritable_checkpoint_folder_is_one_line_and_leaves_no_running_row(tmp_path):
    (tmp_path / "runs").mkdir()
    done = in_namespace(f"mount --bind -o ro {tmp_path / 'runs'} {tmp_path / 'runs'}",
                        [*TRAIN, f"store.path={tmp_path / 'runs.sqlite'}"])
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot write the checkpoint" in done.stderr
    assert no_running_rows(tmp_path / "runs.sqlite")


def test_a_read_only_store_file_is_one_line(capsys, tmp_path):
    path = tmp_path / "runs.sqlite"
    assert cli(capsys, *TRAIN, f"store.path={path}")[0] == 0
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    done = in_namespace(f"mount --bind -o ro {path} {path}", [*TRAIN, "optim.lr=0.002", f"store.path={path}"])
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot write the store" in done.stderr, done.stderr
    assert no_running_rows(path)


def test_a_locked_store_waits_then_says_so_in_one_line(capsys, tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    assert cli(capsys, *TRAIN, f"store.path={path}")[0] == 0
    monkeypatch.setattr(store_open, "LOCK_TIMEOUT_S", 0.3)
    code, _, err = cli_while_locked(capsys, path, *TRAIN, "optim.lr=0.002", f"store.path={path}")
    one_line_error(code, err, "is locked by another process (waited 0.3 s)")
    assert no_running_rows(path)
