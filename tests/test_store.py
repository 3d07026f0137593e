"""The store replaces a run's rows atomically and never leaves partial results."""

import pytest

from groklab.errors import GroklabError
from groklab.store import Store


def test_write_replace_and_query(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.start_run("abc123", config={"x": 1}, seed=3, config_hash="h", name="t")
    assert store.run_status("abc123") == "running"
    store.write_results("abc123", [(0, 1.0, 0.1, 1.2, 0.0, None), (1, 0.5, 0.9, 1.1, 0.2, None)],
                        [(0, "gf_norm", 2.0)], summary={"grok_epoch": None}, status="complete")
    store.write_results("abc123", [(0, 1.0, 0.1, 1.2, 0.0, None)])
    assert len(store.metrics(["abc123"])) == 1
    assert store.completed(["abc123", "zzz"]) == {"abc123"}
    run = store.run("abc")
    assert run["seed"] == 3 and run["config"] == {"x": 1}


def test_failed_transaction_leaves_no_partial_rows(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.start_run("r1", config={}, seed=0, config_hash="h")
    store.write_results("r1", [(0, 1.0, 0.0, 1.0, 0.0, None)])
    with pytest.raises(Exception):
        store.write_results("r1", [(1, 1.0, 0.0, 1.0, 0.0, None), ("bad",)])
    assert store.metrics(["r1"])["epoch"].tolist() == [0]


def test_unknown_run_and_bad_query_are_user_errors(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    with pytest.raises(GroklabError, match="no run"):
        store.run("nope")
    with pytest.raises(GroklabError, match="bad query"):
        store.runs("nonsense ===")
