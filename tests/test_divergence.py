"""Runaway members: a loss that explodes by orders of magnitude counts as divergence, even while finite,
and every listing says so."""

import json

import numpy as np
import torch

from helpers import cli
from groklab.config import load_config
from groklab.train.divergence import EXPLOSION_FACTOR, REFERENCE_FLOOR, diverging
from groklab.train.loop import train

BASE = ["task.group=Z7", "model.width=16", "task.train_fraction=0.5", "train.epochs=30", "train.progress=false",
        "train.checkpoint_dense_until=0", "train.checkpoint_every=1000"]


def test_the_rule():
    initial = np.array([2.0, 2.0, 2.0, 1e-9, 1e-9, np.nan])
    loss = torch.tensor([float("nan"), 2.0 * EXPLOSION_FACTOR * 1.01, 50.0, 0.5, 2 * EXPLOSION_FACTOR * REFERENCE_FLOOR,
                         3.0], dtype=torch.float64)
    assert diverging(loss, initial).tolist() == [True, True, False, False, True, False]
    assert diverging(torch.tensor([float("inf"), 1e30])).tolist() == [True, False]  # epoch 0: only non-finite


def test_adam_at_a_huge_lr_is_flagged_while_its_loss_is_still_finite(tmp_path):
    cfg = load_config(None, BASE + ["optim.kind=adam", "optim.lr=[1e3,1e-3]", "optim.weight_decay=0",
                                    f"store.path={tmp_path / 'runs.sqlite'}"])
    runaway, healthy = train(cfg)
    assert runaway["diverged"] and runaway["diverged_epoch"] is not None and runaway["diverged_epoch"] > 0
    assert np.isfinite(runaway["final_train_loss"]) and runaway["final_train_loss"] > EXPLOSION_FACTOR
    # the runaway stopped there and left the stack; the healthy member kept the ensemble going
    assert runaway["stopped_epoch"] == runaway["diverged_epoch"] and runaway["stop_reason"] == "diverged"
    assert healthy["stopped_epoch"] == 30 and healthy["stop_reason"] == "budget"
    assert not healthy["diverged"] and healthy["final_train_loss"] < 2


def test_every_listing_shows_divergence(capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    code, out, _ = cli(capsys, "train", "li2_fig3", *BASE, "optim.kind=sgd", "optim.momentum=0", "optim.lr=[1e6,0.05]",
                       "optim.weight_decay=0", f"store.path={store}", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["diverged"] for r in rows] == [True, False]
    runaway, healthy = rows[0]["run_id"], rows[1]["run_id"]

    code, out, _ = cli(capsys, "runs", "list", "--store", store)
    status = {line.split()[0]: line.split()[2] for line in out.splitlines()[1:-1]}
    assert status == {runaway[:8]: "diverged", healthy[:8]: "complete"}
    code, out, _ = cli(capsys, "runs", "list", "--store", store, "--json")
    assert {o["id"]: o["diverged"] for o in map(json.loads, out.splitlines())} == {runaway: True, healthy: False}
    code, out, _ = cli(capsys, "runs", "show", runaway[:8], "--store", store)
    assert "status diverged" in out and "diverged at epoch" in out
    code, out, _ = cli(capsys, "runs", "list", "--where", "summary.diverged = 1", "--store", store)
    assert runaway[:8] in out and healthy[:8] not in out
