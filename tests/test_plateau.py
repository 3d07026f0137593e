"""`train.stop=plateau`: members stop once their test accuracy has settled, and stopping changes no number."""

import typing

import numpy as np
import pytest
import torch

from groklab.config import TrainConfig, load_config
from groklab.store import Store
from groklab.train.loop import train
from groklab.train.grokking import GrokThresholds
from groklab.train.stopping import STOP_RULES, MemberStops, PlateauRule
from helpers import cli

# Z23, K=512, half the pairs: without weight decay Adam memorises and its test accuracy levels off
# without a grok; with weight decay 1e-3 it groks near epoch 110 and then sits at 1.0.
Z23 = ["task.group=Z23", "model.width=512", "task.train_fraction=0.5", "train.eval_every=5",
       "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=1000",
       "optim.lr=5e-3", "optim.weight_decay=[1e-3,0]", "train.epochs=600"]
PLATEAU = ["train.stop=plateau", "train.plateau_evals=20", "train.plateau_delta=0.01"]


def config(tmp_path, *overrides):
    return load_config(None, [*Z23, *overrides, f"store.path={tmp_path / 'runs.sqlite'}"])


def watch_over(test_acc, train_acc=None, rule=PlateauRule(evals=10, delta=0.01)):
    """The epoch at which `MemberStops` under `plateau` stops a member with these evaluations (one per epoch)."""
    stops = MemberStops(1, GrokThresholds(), "plateau", rule)
    train_acc = np.ones(len(test_acc)) if train_acc is None else train_acc
    for i, (a, b) in enumerate(zip(train_acc, test_acc)):
        if stops.decide(i, [0], torch.tensor([False]), torch.tensor([a]), torch.tensor([b]), True, False, 0.0):
            assert stops.reason[0] == "plateau"
            return stops.stopped_epoch[0]
    return None


def test_a_flat_curve_settles_once_two_windows_have_been_seen():
    noise = np.random.default_rng(0).normal(0, 0.01, 100)
    assert watch_over(0.6 + noise) == 19  # the 20th evaluation completes the second window


def test_a_rising_or_falling_curve_has_not_settled():
    ramp = np.linspace(0, 1, 100)  # the window means differ by 0.1
    assert watch_over(0.3 + 0.5 * ramp) is None
    assert watch_over(0.8 - 0.5 * ramp) is None
    # rises, then holds: settles within two windows of the hold, once the rise has left the earlier window
    curve = np.concatenate([np.linspace(0.2, 0.7, 50), np.full(50, 0.7)])
    assert 50 + 10 <= watch_over(curve) <= 50 + 19


def test_windows_start_at_memorization():
    """The flat test accuracy of the lazy phase, before the net fits its training set, is not a plateau."""
    train_acc = np.concatenate([np.full(40, 0.5), np.ones(60)])
    assert watch_over(np.full(100, 0.01), train_acc) == 40 + 19


def test_plateau_stop_keeps_the_trajectory_and_ends_the_series_at_the_stop(tmp_path):
    never = train(config(tmp_path, "train.plateau_evals=20"))
    stopped = train(config(tmp_path, *PLATEAU))
    assert [r["stop_reason"] for r in stopped] == ["plateau", "plateau"]
    assert [r["stop_reason"] for r in never] == ["budget", "budget"]
    store = Store(tmp_path / "runs.sqlite")
    for a, b in zip(never, stopped):
        assert b["stopped_epoch"] < 600
        for key in ("memorization_epoch", "grok_epoch"):
            assert a[key] == b[key], key
        full, cut = store.metrics([a["run_id"]]), store.metrics([b["run_id"]])
        assert cut["epoch"].max() == b["stopped_epoch"]
        head = full[full["epoch"] <= b["stopped_epoch"]]
        np.testing.assert_array_equal(head["train_loss"].to_numpy(), cut["train_loss"].to_numpy())
        # the rule's own check, on the stored curve: the two windows before the stop agree within delta
        acc = cut.dropna(subset=["test_acc"])["test_acc"].to_numpy()[-40:]
        assert abs(acc[20:].mean() - acc[:20].mean()) < 0.01 + 1e-9  # summed in another order
    grokker, memoriser = stopped
    assert grokker["final_test_acc"] > 0.95 > memoriser["final_test_acc"]


def test_resume_inside_a_plateau_window_stops_at_the_same_epoch(tmp_path):
    reference = train(config(tmp_path / "ref", *PLATEAU))
    cfg = config(tmp_path, *PLATEAU, "train.checkpoint_every=50")

    def crash(epoch):
        if epoch == reference[0]["stopped_epoch"] - 7:  # windows half full, after a resume checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, on_epoch=crash)
    resumed = train(cfg)
    for a, b in zip(reference, resumed):
        assert (a["stopped_epoch"], a["stop_reason"]) == (b["stopped_epoch"], b["stop_reason"])
        assert b["final_train_loss"] == pytest.approx(a["final_train_loss"], rel=1e-12)


def test_plateau_settings_change_run_ids_only_under_the_plateau_rule(tmp_path):
    base = config(tmp_path).config_hash()
    assert config(tmp_path, "train.plateau_evals=7").config_hash() == base
    assert config(tmp_path, "train.stop=plateau").config_hash() != base
    assert (config(tmp_path, "train.stop=plateau", "train.plateau_evals=7").config_hash()
            != config(tmp_path, "train.stop=plateau").config_hash())


def test_the_config_allows_exactly_the_stop_rules_the_loop_knows():
    assert typing.get_args(TrainConfig.model_fields["stop"].annotation) == STOP_RULES


@pytest.mark.parametrize("override", ["train.plateau_delta=0", "train.plateau_evals=0", "train.plateau_delta=1.5"])
def test_bad_plateau_settings_are_one_line_and_write_nothing(tmp_path, capsys, override):
    store = tmp_path / "runs.sqlite"
    code, out, err = cli(capsys, "train", "li2_fig3", "train.stop=plateau", override, f"store.path={store}")
    assert code == 2 and err.count("\n") == 1 and override.split("=")[0] in err
    assert not store.exists()
