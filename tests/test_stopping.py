"""Per-member early stopping and compaction: members stop when their answer is in, survivors equal lone runs."""

from importlib import resources

import numpy as np
import pytest
import torch

from groklab.config import load_config
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.grokking import GrokThresholds, GrokWatch, detect_grokking
from groklab.train.loop import train
from helpers import cli

# Z23, K=512, train fraction 0.5: with weight decay 1e-3 Adam groks near epoch 110; without, never.
Z23 = ["task.group=Z23", "model.width=512", "task.train_fraction=0.5", "train.eval_every=5",
       "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=1000"]
ADAM = ["optim.lr=5e-3", "optim.weight_decay=[1e-3,0]", "train.epochs=300"]
# Muon on W (li2 variant) groks more slowly here; a 0.3 test-accuracy threshold makes one member stop early.
MUON = ["optim.kind=muon", "optim.lr=5e-2", "optim.weight_decay=[1e-3,0]", "train.epochs=250", "train.grok_acc=0.3"]


def config(tmp_path, *overrides):
    return load_config(None, [*Z23, *overrides, f"store.path={tmp_path / 'runs.sqlite'}"])


def test_incremental_watch_agrees_with_detect_grokking_on_random_histories():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(1, 50))
        t = GrokThresholds(stable_evals=int(rng.integers(1, 6)), sustain_evals=int(rng.integers(0, 6)))
        train_acc = (rng.random(n) < 0.8).astype(float)
        test_acc = (rng.random(n) < 0.7).astype(float)
        epochs = np.arange(n) * 5
        watch = GrokWatch(t)
        for e, a, b in zip(epochs, train_acc, test_acc):
            watch.update(e, a, b)
        expected = detect_grokking(epochs, train_acc, test_acc, t)
        assert ((watch.memorization_epoch, watch.grok_epoch, watch.sustained_epoch)
                == (expected.memorization_epoch, expected.grok_epoch, expected.sustained_grok_epoch))


def test_sustained_stop_keeps_the_grok_epochs_and_ends_the_series_there(tmp_path):
    never = train(config(tmp_path, *ADAM))
    stopped = train(config(tmp_path, *ADAM, "train.stop=sustained"))
    grokker, memoriser = stopped
    for a, b in zip(never, stopped):
        for key in ("memorization_epoch", "grok_epoch", "sustained_grok_epoch", "censored"):
            assert a[key] == b[key], key
    assert never[0]["stop_reason"] == never[1]["stop_reason"] == "budget"
    assert grokker["stop_reason"] == "sustained"
    # the window: 10 more evaluations (every 5 epochs) at or above 0.95 after the sustained grok epoch
    assert grokker["stopped_epoch"] == grokker["sustained_grok_epoch"] + 10 * 5 < 300
    assert memoriser["stop_reason"] == "budget" and memoriser["stopped_epoch"] == 300 and memoriser["censored"]
    store = Store(tmp_path / "runs.sqlite")
    assert store.metrics([grokker["run_id"]])["epoch"].max() == grokker["stopped_epoch"]
    assert store.metrics([memoriser["run_id"]])["epoch"].max() == 300
    # the stopped member's last snapshot is at its stop, and analysis finds it there
    from groklab.train.cells import member_weights

    W = member_weights(store, grokker["run_id"])["W"]
    last = ckpt.run_snapshots(store.run(grokker["run_id"]), store.folder)[-1]
    assert last[0] == grokker["stopped_epoch"] and W.shape == (512, 46)


def test_an_ensemble_whose_members_all_stop_ends(tmp_path):
    results = train(config(tmp_path, "optim.lr=5e-3", "optim.weight_decay=1e-3", "train.seeds=[0,1]",
                           "train.epochs=1000", "train.stop=grok"))
    assert all(r["stop_reason"] == "grok" and r["stopped_epoch"] == r["grok_epoch"] < 300 for r in results)
    assert all(r["sustained_censored"] for r in results)  # not observed under stop=grok, by construction


@pytest.mark.parametrize("optim", [ADAM, MUON], ids=["adam", "muon"])
def test_survivor_and_stopped_member_equal_their_runs_alone(tmp_path, optim):
    """Members ≡ lone runs across compaction: the member that stops early and the one that trains on."""
    cfg = config(tmp_path, *optim, "train.dtype=float64", "train.stop=grok", "train.checkpoint_every=40")
    early, late = train(cfg)
    assert early["stop_reason"] == "grok" and late["stop_reason"] == "budget"
    assert early["stopped_epoch"] < late["stopped_epoch"]
    store = Store(cfg.store.path)
    for s, result in enumerate((early, late)):
        alone_cfg = config(tmp_path / f"alone{s}", *optim, "train.dtype=float64", "train.stop=grok", "train.checkpoint_every=40",
                           f"optim.weight_decay={cfg.member_values('weight_decay')[s]}")
        (alone,) = train(alone_cfg)
        assert alone["run_id"] == result["run_id"] and alone["stopped_epoch"] == result["stopped_epoch"]
        ours = store.metrics([result["run_id"]])
        theirs = Store(alone_cfg.store.path).metrics([alone["run_id"]])
        assert ours["epoch"].tolist() == theirs["epoch"].tolist()
        np.testing.assert_allclose(ours["train_loss"], theirs["train_loss"], rtol=1e-9)
        ens = _final_weights(store, result["run_id"])
        solo = _final_weights(Store(alone_cfg.store.path), alone["run_id"])
        for name in ens:
            assert torch.allclose(ens[name], solo[name], rtol=1e-9, atol=1e-12), name


def _final_weights(store, run_id):
    row = store.run(run_id)
    epoch, path = ckpt.run_snapshots(row, store.folder)[-1]
    assert epoch == row["summary"]["stopped_epoch"]
    return ckpt.load_snapshot(path, member=int(row["member"]))


def test_resume_after_a_member_left_the_stack_gives_the_same_numbers(tmp_path):
    overrides = [*ADAM, "train.seeds=[0,1]", "optim.weight_decay=[1e-3,0]", "train.stop=grok", "train.checkpoint_every=20"]
    reference = train(config(tmp_path / "ref", *overrides))
    assert reference[0]["stopped_epoch"] < 200 < reference[1]["stopped_epoch"]
    cfg = config(tmp_path, *overrides)

    def crash(epoch):
        if epoch == 230:  # after member 0 stopped, between resume checkpoints
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, on_epoch=crash)
    resumed = train(cfg)
    for a, b in zip(reference, resumed):
        assert a["stopped_epoch"] == b["stopped_epoch"] and a["grok_epoch"] == b["grok_epoch"]
        assert b["final_train_loss"] == pytest.approx(a["final_train_loss"], rel=1e-12)
    assert len(Store(cfg.store.path).metrics([resumed[1]["run_id"]])) == 301


def test_unknown_stop_rule_is_one_line_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    code, out, err = cli(capsys, "train", "li2_fig3", "train.stop=early", f"store.path={store}")
    assert code == 2 and err.count("\n") == 1 and "train.stop" in err and "sustained" in err
    assert not store.exists()


def test_default_stop_leaves_run_ids_unchanged(tmp_path):
    """`train.stop=never` (the default) must not change the id of any run stored before it existed."""
    cfg = config(tmp_path, *ADAM)
    assert cfg.config_hash() == config(tmp_path, *ADAM, "train.stop=never").config_hash()
    assert cfg.config_hash() != config(tmp_path, *ADAM, "train.stop=grok").config_hash()


def test_transformer_survivor_is_unchanged_when_its_mates_stop(tmp_path):
    """Minibatches, dropout and Muon on the hidden matrices: the member that trains on ends with the same
    loss whether or not the other members stopped and left the stack (low thresholds make them stop)."""
    base = ["task.op=add", "task.modulus=23", "model.width=32", "train.epochs=40", "train.batch_size=64",
            "train.progress=false", "train.seeds=[0,1,2]", "optim.lr=[1e-2,1e-3,1e-2]", "optim.kind=muon",
            "optim.muon_routing=hidden", "train.memorize_acc=0.3", "train.grok_acc=0.1", "train.stable_evals=1",
            "train.checkpoint_dense_until=0", f"store.path={tmp_path / 'runs.sqlite'}"]
    preset = str(resources.files("groklab") / "configs" / "muon_grokking.yaml")
    kept = train(load_config(preset, base))
    stopped = train(load_config(preset, [*base, "train.stop=grok"]))
    assert [r["stop_reason"] for r in stopped] == ["grok", "budget", "grok"]
    assert stopped[1]["final_train_loss"] == kept[1]["final_train_loss"]
    assert stopped[0]["grok_epoch"] == kept[0]["grok_epoch"] and stopped[2]["grok_epoch"] == kept[2]["grok_epoch"]
