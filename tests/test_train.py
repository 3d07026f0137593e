"""The training engine end to end: science, ensembles equal lone runs, divergence, resume, store."""

import numpy as np
import pytest
import torch

from groklab.config import load_config
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.loop import train


def make_cfg(tmp_path, *overrides):
    base = ["task.group=Z7", "model.width=24", "task.train_fraction=0.5", "train.epochs=100", "train.dtype=float64",
            "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=1000",
            f"store.path={tmp_path / 'runs.sqlite'}"]
    return load_config(None, base + list(overrides))


def losses_of(cfg, run_id):
    return Store(cfg.store.path).metrics([run_id])["train_loss"].to_numpy()


def test_weight_decay_makes_z23_grok_and_its_absence_does_not(tmp_path):
    """Li2 RC1 in miniature. Z23, K=512, x², class-centred MSE, full-batch Adam lr 5e-3, train fraction 0.5
    (above p* = 0.375), 300 epochs; members share seed 0 and differ only in weight decay (1e-3 vs 0).
    Measured: wd 1e-3 groks near epoch 106; wd 0 memorizes by epoch 5 and stays below chance on test."""
    cfg = load_config(None, ["task.group=Z23", "model.width=512", "task.train_fraction=0.5", "optim.lr=5e-3",
                             "optim.weight_decay=[1e-3,0]", "train.epochs=300", "train.eval_every=5",
                             "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=1000",
                             f"store.path={tmp_path / 'runs.sqlite'}"])
    with_wd, without_wd = train(cfg)
    assert with_wd["memorization_epoch"] is not None and without_wd["memorization_epoch"] is not None
    assert not with_wd["censored"] and with_wd["grok_epoch"] < 250 and with_wd["final_test_acc"] > 0.95
    assert without_wd["censored"] and without_wd["final_test_acc"] < 0.2


@pytest.mark.parametrize("optim", [
    ["optim.kind=sgd", "optim.lr=[0.05,0.1,0.02]"],
    ["optim.kind=adam"],
    ["optim.kind=adamw", "optim.weight_decay=[0.1,0.01,0.0]"],
    ["optim.kind=muon", "optim.muon_variant=li2"],
    ["optim.kind=muon", "optim.muon_variant=torch", "optim.lr=[0.02,0.01,0.005]"],
])
def test_every_member_equals_the_same_run_trained_alone(tmp_path, optim):
    members = ["train.seeds=[0,1,2]", "optim.lr=[1e-3,3e-3,2e-3]", "optim.weight_decay=[2e-4,0,1e-3]"]
    overrides = {o.split("=")[0]: o for o in members + optim}
    cfg = make_cfg(tmp_path, *overrides.values())
    together = train(cfg)
    for s, result in enumerate(together):
        alone_cfg = make_cfg(tmp_path, *overrides.values(), f"train.seeds=[{cfg.member_seeds()[s]}]",
                             f"optim.lr={cfg.member_values('lr')[s]}",
                             f"optim.weight_decay={cfg.member_values('weight_decay')[s]}")
        (alone,) = train(alone_cfg, force=True)
        assert alone["run_id"] == result["run_id"]  # same config and seed: same run
        ens = ckpt.load_snapshot(ckpt.list_snapshots(Store(cfg.store.path).folder / "runs" / _ensemble(cfg))[-1][1], member=s)
        solo = ckpt.load_snapshot(ckpt.list_snapshots(Store(cfg.store.path).folder / "runs" / _ensemble(alone_cfg))[-1][1], member=0)
        for name in ens:
            rel = (ens[name] - solo[name]).norm() / solo[name].norm().clamp_min(1e-30)
            assert rel <= 1e-6, (name, float(rel))
        assert abs(alone["final_train_loss"] - result["final_train_loss"]) <= 1e-6 * abs(alone["final_train_loss"])


def _ensemble(cfg):
    from groklab.train.loop import ensemble_id_of, member_configs, run_id_of

    return ensemble_id_of([run_id_of(m) for m in member_configs(cfg)])


def test_divergent_member_is_frozen_and_others_are_undisturbed(tmp_path):
    common = ["train.seeds=[0,1]", "optim.kind=sgd", "optim.momentum=0.0"]
    cfg = make_cfg(tmp_path, *common, "optim.lr=[1e6,0.05]", "optim.weight_decay=0")
    exploded, healthy = train(cfg)
    assert exploded["diverged"] and exploded["diverged_epoch"] is not None
    assert not healthy["diverged"]
    alone_cfg = make_cfg(tmp_path, "train.seeds=[1]", "optim.kind=sgd", "optim.momentum=0.0", "optim.lr=0.05",
                         "optim.weight_decay=0")
    (alone,) = train(alone_cfg)
    assert np.allclose(losses_of(cfg, healthy["run_id"]), losses_of(alone_cfg, alone["run_id"]), rtol=1e-9)


def test_interrupted_training_resumes_to_the_same_numbers(tmp_path):
    cfg = make_cfg(tmp_path, "train.seeds=[3,4]", "train.epochs=60", "train.checkpoint_every=20")
    (reference, _) = train(make_cfg(tmp_path / "ref", "train.seeds=[3,4]", "train.epochs=60", "train.checkpoint_every=20"))

    def crash(epoch):
        if epoch == 45:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, on_epoch=crash)
    store = Store(cfg.store.path)
    assert store.run_status(reference["run_id"]) == "interrupted"  # never left `running`
    assert (store.folder / "runs" / _ensemble(cfg) / "resume.pt").exists()
    resumed, _ = train(cfg)
    assert resumed["final_train_loss"] == pytest.approx(reference["final_train_loss"], rel=1e-12)
    assert len(store.metrics([resumed["run_id"]])) == 61  # epochs 0..60, each exactly once
    again, _ = train(cfg)
    assert again.get("skipped")


def test_same_config_and_seed_give_the_same_numbers(tmp_path):
    a = train(make_cfg(tmp_path / "a", "train.dtype=float32", "train.epochs=30"))
    b = train(make_cfg(tmp_path / "b", "train.dtype=float32", "train.epochs=30"))
    assert a[0]["final_train_loss"] == b[0]["final_train_loss"]
    assert a[0]["final_test_acc"] == b[0]["final_test_acc"]


def test_minibatch_training_records_every_epoch(tmp_path):
    cfg = make_cfg(tmp_path, "train.batch_size=8", "train.epochs=5", "train.eval_every=2")
    (result,) = train(cfg)
    metrics = Store(cfg.store.path).metrics([result["run_id"]])
    assert metrics["epoch"].tolist() == [0, 1, 2, 3, 4, 5]
    assert metrics["test_acc"].notna().tolist() == [True, False, True, False, True, True]


def test_cross_entropy_logs_softmax_collapse(tmp_path):
    cfg = make_cfg(tmp_path, "loss.kind=ce", "train.epochs=10")
    (result,) = train(cfg)
    collapse = Store(cfg.store.path).metrics([result["run_id"]])["collapse"]
    assert collapse.notna().all() and ((collapse >= 0) & (collapse <= 1)).all()
