"""Querying the store: `groklab runs list|show|export`, the sweep summary line, and the DataFrame API."""

import io
import json

import pandas as pd
import pytest
import torch
import yaml

from groklab.cli import main
from helpers import cli
from groklab.sweep import metrics_frame, runs_frame, sweep_spec, where_sql

TINY = {"task.group": "Z7", "model.width": 24, "task.train_fraction": 0.5, "train.epochs": 20,
        "train.dtype": "float64", "train.progress": False, "train.checkpoint_dense_until": 0,
        "train.checkpoint_every": 1000}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 4-run sweep (weight decay x seeds) trained in this process through the CLI."""
    tmp = tmp_path_factory.mktemp("runs")
    spec = tmp / "wd.yaml"
    spec.write_text(yaml.safe_dump({"name": "wd", "base": TINY, "axes": {"optim.weight_decay": [0.0, 1e-3]},
                                    "seeds": [0, 1]}))
    store = tmp / "runs.sqlite"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        main(["sweep", str(spec), "--workers", "0", "--store", str(store), "--json"])
    except SystemExit as exc:
        assert not exc.code
    finally:
        torch.set_num_threads(threads)
    return spec, store


def test_rerun_prints_the_summary_line(swept, capsys):
    spec, store = swept
    code, out, _ = cli(capsys, "sweep", spec, "--workers", "0", "--store", store)
    assert code == 0 and "4 runs: 0 done, 4 skipped (already complete), 0 failed in" in out


def test_runs_list_json_is_one_object_per_run(swept, capsys):
    _, store = swept
    code, out, _ = cli(capsys, "runs", "list", "--store", store, "--json")
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(objects) == 4
    for obj in objects:
        assert {"id", "sweep", "status", "seed", "config", "summary"} <= set(obj)
        assert obj["status"] == "complete" and obj["config"]["train"]["seeds"] == [obj["seed"]]
        assert obj["summary"]["run_id"] == obj["id"] and obj["sweep"] == objects[0]["sweep"]
    code, out, _ = cli(capsys, "runs", "list", "--store", store, "--where", "config.optim.weight_decay > 0", "--json")
    assert sorted(json.loads(line)["config"]["optim"]["weight_decay"] for line in out.splitlines()) == [1e-3, 1e-3]
    code, out, _ = cli(capsys, "runs", "list", "--store", store)
    assert code == 0 and "4 run(s)" in out and "complete" in out


def test_runs_show_and_bad_queries(swept, capsys):
    _, store = swept
    run_id = runs_frame(store)["run_id"].iloc[0]
    code, out, _ = cli(capsys, "runs", "show", run_id[:6], "--store", store)
    assert code == 0 and f"run {run_id}" in out and "optim.weight_decay = " in out and "metrics: 21 epochs (0..20)" in out
    code, out, _ = cli(capsys, "runs", "show", run_id, "--store", store, "--json")
    shown = json.loads(out)
    assert [m["epoch"] for m in shown["metrics"]] == list(range(21)) and shown["id"] == run_id
    for args, fragment in [(["runs", "list", "--where", "nonsense ===="], "bad query"),
                           (["runs", "show", "zzzz"], "no run 'zzzz'"),
                           (["runs", "export", "--format", "xlsx"], "unknown export format 'xlsx'"),
                           (["runs", "list", "--status", "done"], "unknown run status 'done'")]:
        code, _, err = cli(capsys, *args, "--store", store)
        assert code == 2 and fragment in err and err.count("\n") == 1, err
    code, _, err = cli(capsys, "runs", "list", "--store", store.parent / "absent.sqlite")
    assert code == 2 and "no store" in err and not (store.parent / "absent.sqlite").exists()


def test_runs_export_csv_and_parquet(swept, capsys, tmp_path):
    _, store = swept
    code, out, _ = cli(capsys, "runs", "export", "--store", store)
    runs = pd.read_csv(io.StringIO(out))
    assert code == 0 and len(runs) == 4 and {"config.optim.weight_decay", "summary.final_test_acc"} <= set(runs.columns)
    pytest.importorskip("pyarrow")
    code, _, _ = cli(capsys, "runs", "export", tmp_path / "m.parquet", "--table", "metrics", "--store", store,
                     "--where", "config.optim.weight_decay = 0")
    metrics = pd.read_parquet(tmp_path / "m.parquet")
    assert code == 0 and len(metrics) == 2 * 21 and metrics["run_id"].nunique() == 2


def test_python_api_returns_dataframes(swept):
    spec, store = swept
    runs = runs_frame(store, where="summary.final_train_acc >= 0")
    assert len(runs) == 4 and runs["config.optim.weight_decay"].tolist().count(0.0) == 2
    sweep = runs["sweep_id"].iloc[0]
    metrics = metrics_frame(store, sweep=sweep[:6], config_keys=["optim.weight_decay"])
    curves = metrics.pivot_table(index="epoch", columns=["config.optim.weight_decay", "seed"], values="train_loss")
    assert curves.shape == (21, 4) and (curves.iloc[-1] < curves.iloc[0]).all()  # training lowered every loss
    assert sweep_spec(store, sweep)["axes"] == {"optim.weight_decay": [0.0, 1e-3]}
    assert where_sql("config.a.b > 1 AND name = 'config.x'") == (
        "json_extract(CASE WHEN json_valid(config) THEN config END, '$.a.b') > 1 AND name = 'config.x'")
