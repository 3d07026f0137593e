"""Shared test helpers (imported as `from helpers import ...`; pytest puts tests/ on sys.path)."""

import json

from groklab.cli import main
from groklab.reproduce import reproduce


def cli(capsys, *args):
    """Run the CLI in-process as a user would: (exit status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, fragment=""):
    """Bad input's contract: exit status 2 and one line on stderr, no traceback (and, given, the fragment)."""
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err, err


SMALL_TRAIN = ["train", "li2_fig3", "task.group=Z7", "model.width=16", "train.epochs=2",
               "train.checkpoint_dense_until=0"]


def small_store(capsys, tmp_path):
    """A store with three complete 2-epoch Z7 runs, everything in its main file (as when the writer exits)."""
    import sqlite3

    path = tmp_path / "runs.sqlite"
    code, _, _ = cli(capsys, *SMALL_TRAIN, "train.seeds=[0,1,2]", f"store.path={path}", "--json")
    assert code == 0
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def cli_while_locked(capsys, path, *args):
    """Run the CLI while another connection holds the store's write lock; (code, out, err)."""
    import sqlite3

    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write in progress
    try:
        return cli(capsys, *args)
    finally:
        other.execute("ROLLBACK")
        other.close()


def quick_reproduction(name, tmp_path):
    """Run a reproduction in quick mode into tmp_path; check its figures and saved verdicts; (report, store path)."""
    store_path = str(tmp_path / "runs.sqlite")
    report = reproduce(name, quick=True, out=tmp_path / "out", store_path=store_path, progress=False,
                       echo=lambda s: None)
    assert report["figures"], name
    for path in report["figures"]:
        assert (tmp_path / "out" / path.split("/")[-1]).stat().st_size > 20_000
    saved = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert saved["verdicts"] == json.loads(json.dumps(report["verdicts"], default=str))
    return report, store_path
