"""`groklab runs list` shows what distinguishes runs (task, model, optimizer, lr, wd, stop rule, ...); `--columns`."""

import pytest
from helpers import cli

from groklab.config import load_config
from groklab.store import Store

RUNS = {  # run id -> (name, overrides): three runs that all came from one preset name would look alike by name
    "aaaa0000": ("li2-fig3", ["task.group=Z23", "model.width=512", "optim.weight_decay=1e-3"]),
    "bbbb0000": ("li2-fig3", ["optim.kind=muon", "train.stop=grok", "task.train_fraction=0.3"]),
    "cccc0000": ("muon-grokking", ["model.kind=transformer", "task.op=div", "task.modulus=97", "model.width=128", "optim.kind=adamw",
                                   "optim.lr=1e-3", "optim.weight_decay=1", "loss.kind=ce", "train.stop=plateau"]),
}


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "runs.sqlite"
    db = Store(path)
    for i, (run_id, (name, overrides)) in enumerate(RUNS.items()):
        config = load_config(None, overrides).model_dump(mode="json")
        db.start_run(run_id, config=config, seed=i, config_hash=run_id, name=name)
        db.write_results(run_id, [], summary={"grok_epoch": 100 + i, "final_test_acc": 0.5}, status="complete")
    return path


def test_default_columns_tell_runs_apart(store, capsys):
    code, out, _ = cli(capsys, "runs", "list", "--store", store)
    header, *lines, count = out.splitlines()
    assert code == 0 and count == "3 run(s)"
    assert header.split() == ["run", "sweep", "status", "task", "model", "optim", "lr", "wd", "stop", "seed", "grok",
                              "test_acc", "name"]
    rows = {line.split()[0]: line.split() for line in lines}
    assert rows["aaaa0000"][2:10] == ["complete", "Z23", "2layer-512", "adam", "0.001", "0.001", "never", "0"]
    assert rows["bbbb0000"][3:9] == ["Z71", "2layer-2048", "muon", "0.001", "0.0002", "grok"]
    assert rows["cccc0000"][3:9] == ["div%97", "tf-2x128", "adamw", "0.001", "1", "plateau"]
    assert rows["cccc0000"][-3:] == ["102", "0.500", "muon-grokking"]


def test_columns_chooses_and_orders_and_refuses_unknown_names(store, capsys):
    code, out, _ = cli(capsys, "runs", "list", "--store", store, "--columns", "task,data,grok,run")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["task", "data", "grok", "run"]
    assert lines[2].split() == ["Z71", "p=0.3", "101", "bbbb0000"]
    code, out, err = cli(capsys, "runs", "list", "--store", store, "--columns", "run,optimiser")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown column 'optimiser'" in err and "run, sweep, ensemble, status, task, data, model" in err
