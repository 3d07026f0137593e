"""The CLI as a user meets it: JSON output, one-line errors with exit status 2, nothing stored on bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli as run


@pytest.mark.parametrize("args, fragment", [
    (["groups", "info", "Z0"], "Z<n> needs n >= 1"),
    (["groups", "info", "D7"], "even order"),
    (["groups", "info", "S9"], "1..6"),
    (["groups", "info", "Z4xZ"], "malformed"),
    (["task", "info", "group=Z71", "train_fraction=0"], "(0, 1)"),
    (["task", "info", "group=Z71", "train_fraction=1.5"], "(0, 1)"),
    (["task", "info", "op=div", "modulus=96"], "prime modulus"),
    (["task", "info", "op=pow"], "task.op"),
])
def test_bad_input_is_one_line_exit_2(capsys, args, fragment):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.gap
def test_unknown_smallgroup_id(capsys):
    code, _, err = run(capsys, "groups", "info", "SmallGroup(8,99)")
    assert code == 2 and "ids 1..5" in err


def test_groups_info_json(capsys):
    code, out, _ = run(capsys, "groups", "info", "S4", "--json")
    info = json.loads(out)
    assert code == 0 and info["order"] == 24 and info["irrep_degrees"] == [1, 1, 2, 3, 3]
    assert info["num_classes"] == 5 and set(info["frobenius_schur"]) == {"real"}


def test_task_info_reference_split(capsys):
    code, out, _ = run(capsys, "task", "info", "group=Z71", "train_fraction=0.4", "--json")
    info = json.loads(out)
    assert (info["examples"], info["train"], info["test"], info["classes"]) == (5041, 2016, 3025, 71)


@pytest.mark.parametrize("override, fragment", [
    ("optim.kind=lion", "optim.kind"),
    ("model.activation=tanh", "model.activation"),
    ("loss.kind=hinge", "loss.kind"),
    ("optim.lr=-1", "optim.lr"),
    ("optim.weight_decay=-1", "optim.weight_decay"),
    ("model.width=0", "model.width"),
    ("train.epochs=0", "train.epochs"),
    ("optim.lrr=1", "did you mean 'optim.lr'"),
])
def test_bad_train_input_writes_nothing(capsys, tmp_path, override, fragment):
    store = tmp_path / "store" / "runs.sqlite"
    code, _, err = run(capsys, "train", "src/groklab/configs/li2_fig3.yaml", override, f"store.path={store}")
    assert code == 2 and fragment in err and err.count("\n") == 1
    assert not store.exists()


def test_malformed_yaml(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {width: [\n")
    code, _, err = run(capsys, "train", str(path))
    assert code == 2 and "malformed YAML" in err


def test_train_json_one_object_per_member(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "src/groklab/configs/li2_fig3.yaml", "task.group=Z7", "model.width=16", "train.epochs=20",
                       "train.seeds=[0,1]", "train.checkpoint_dense_until=0", f"store.path={tmp_path / 'r.sqlite'}", "--json")
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert code == 0 and [r["seed"] for r in rows] == [0, 1]
    for key in ("memorization_epoch", "grok_epoch", "sustained_grok_epoch", "censored", "diverged", "final_train_acc",
                "final_test_acc", "final_train_loss", "final_test_loss", "wall_seconds"):
        assert key in rows[0]


def test_console_script_exit_status(tmp_path):
    exe = Path(sys.executable).with_name("groklab")
    if not exe.exists():
        pytest.skip("console script not installed")
    proc = subprocess.run([str(exe), "groups", "info", "Z0"], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr


def test_verdict_text_is_one_line_when_short_and_a_tree_when_long():
    from groklab.commands.reproduce import ONE_LINE, verdict_text
    short = dict(claim="c", setting="s", expected="e", **{"pass": True}, measured={"a": 1})
    assert verdict_text(short) == "  [PASS] c: measured {'a': 1}, expected e  (s)"
    cells = {f"Z{m} K={k}": {"loss": f"{k / 1000:+.4f} ± 0.01 (tie)", "grok epoch": "+0 ± 0 (tie)"}
             for m in (23, 41, 71) for k in range(4)}
    long = dict(short, **{"pass": False}, measured={"cells": cells, "claim holds at": "nowhere"})
    assert len(str(long["measured"])) > ONE_LINE
    lines = verdict_text(long).splitlines()
    assert lines[0] == "  [FAIL] c" and "      measured:" in lines
    # one line per cell, each cell's short dict inline, and nothing lost
    assert sum(line.startswith("          Z") for line in lines) == len(cells)
    assert "          Z41 K=2: loss: +0.0020 ± 0.01 (tie), grok epoch: +0 ± 0 (tie)" in lines
    assert lines[-1] == "        claim holds at: nowhere"
    measurement = dict(short, **{"pass": None}, reason="no setting could make it fail")
    assert verdict_text(measurement).startswith("  [MEASURED] c (not judged: no setting could make it fail): measured")
