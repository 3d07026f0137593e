"""Nothing loaded from a store folder runs code, and a damaged resume state falls back or says what to do."""

import os

import pytest
import torch

from helpers import cli, one_line_error
from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.loop import ensemble_id_of, member_configs, run_id_of, train

BASE = ["task.group=Z7", "model.width=16", "task.train_fraction=0.5", "train.dtype=float64", "train.progress=false",
        "train.checkpoint_dense_until=0", "train.seeds=[3,4]"]


class Planted:
    """A pickle that would run a shell command when unpickled by a loader that allows any object."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def cfg_of(tmp_path, *overrides):
    return load_config(None, [*BASE, f"store.path={tmp_path / 'runs.sqlite'}", *overrides])


def folder_of(cfg):
    return ckpt.runs_folder(cfg.store.path.rsplit("/", 1)[0], ensemble_id_of([run_id_of(m) for m in member_configs(cfg)]))


def test_a_planted_pickle_in_resume_pt_is_refused_and_never_runs(capsys, tmp_path):
    cfg = cfg_of(tmp_path, "train.epochs=30")
    folder = folder_of(cfg)
    folder.mkdir(parents=True)
    marker = tmp_path / "pwned"
    torch.save({"run_ids": [run_id_of(m) for m in member_configs(cfg)], "x": Planted(marker)}, folder / "resume.pt")
    code, _, err = cli(capsys, "train", "li2_fig3", *BASE, "train.epochs=30", f"store.path={tmp_path / 'runs.sqlite'}")
    one_line_error(code, err, "groklab runs no code from a store folder")
    assert not marker.exists()


def test_a_planted_pickle_in_a_snapshot_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "epoch_000001.pt"
    torch.save({"epoch": 1, "params": Planted(marker)}, path)
    with pytest.raises(GroklabError, match="runs no code"):
        ckpt.load_snapshot(path)
    assert not marker.exists()


def test_resume_state_holds_only_tensors_and_plain_values(tmp_path):
    for kind in ("adam", "sgd", "adamw", "muon"):
        cfg = cfg_of(tmp_path / kind, "train.epochs=20", "train.checkpoint_every=10", f"optim.kind={kind}")
        _train_until(cfg, 15)
        state = torch.load(folder_of(cfg) / "resume.pt", weights_only=True)
        assert state["next_epoch"] == 10


def _train_until(cfg, epoch):
    class Stop(Exception):
        pass

    def stop(e):
        if e == epoch:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, on_epoch=stop)


def test_a_damaged_resume_state_falls_back_to_the_previous_one(capsys, tmp_path):
    reference = train(cfg_of(tmp_path / "ref", "train.epochs=40", "train.checkpoint_every=10"))
    cfg = cfg_of(tmp_path, "train.epochs=40", "train.checkpoint_every=10")
    _train_until(cfg, 35)
    folder = folder_of(cfg)
    assert (folder / "resume.prev.pt").exists()
    with open(folder / "resume.pt", "r+b") as f:
        f.truncate(100)
    resumed = train(cfg)
    assert "resuming from the previous one" in capsys.readouterr().err
    assert [r["final_train_loss"] for r in resumed] == [r["final_train_loss"] for r in reference]
    assert len(Store(cfg.store.path).metrics([resumed[0]["run_id"]])) == 41
    assert not (folder / "resume.pt").exists() and not (folder / "resume.prev.pt").exists()


def test_no_loadable_resume_state_is_one_line_saying_what_to_do(capsys, tmp_path):
    cfg = cfg_of(tmp_path, "train.epochs=40", "train.checkpoint_every=10")
    _train_until(cfg, 35)
    folder = folder_of(cfg)
    for name in ("resume.pt", "resume.prev.pt"):
        with open(folder / name, "r+b") as f:
            f.truncate(50)
    code, _, err = cli(capsys, "train", "li2_fig3", *BASE, "train.epochs=40", "train.checkpoint_every=10",
                       f"store.path={tmp_path / 'runs.sqlite'}")
    one_line_error(code, err, "to train from the start")
