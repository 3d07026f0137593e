"""Two handles on one store in one process must keep the process's SQLite locks: another process that opens
and closes the store must not take the WAL (with the first handle's later commits) away from under it."""

import subprocess
import sys

from groklab.store import Store

OTHER = """
import sys
from groklab.store import Store
store = Store(sys.argv[1])
print(sorted(store.runs()["run_id"]))
store.close()
"""


def _other_process(path) -> str:
    return subprocess.run([sys.executable, "-c", OTHER, str(path)], capture_output=True, text=True, check=True).stdout


def test_a_second_handle_does_not_release_the_first_ones_locks(tmp_path):
    path = tmp_path / "runs.sqlite"
    first = Store(path)
    first.start_run("a", config={}, seed=0, config_hash="a", name="t", ensemble_id="e", member=0, folder="f")
    second = Store(path)  # what a sweep driver inside a reproduction does
    _other_process(path)  # a reader elsewhere opens and closes the store while both are open here
    assert (tmp_path / "runs.sqlite-wal").exists()  # the WAL the writers here use is still on disk
    first.start_run("b", config={}, seed=0, config_hash="b", name="t", ensemble_id="e", member=1, folder="f")
    assert "'b'" in _other_process(path)  # a later commit is visible to other processes
    first.close()
    second.close()
    assert "'b'" in _other_process(path)
