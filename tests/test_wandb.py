"""`train.wandb=true`: the TensorBoard option's scalars, one W&B run per member with its config, offline."""

import math
import sys

import pytest

from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.store import Store
from groklab.train import wandb_log
from groklab.train.loop import train

TINY = ["task.group=Z5", "model.width=8", "train.epochs=6", "train.eval_every=2", "optim.weight_decay=[0,1e-3]",
        "train.progress=false", "train.wandb=true"]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """W&B offline in a temporary folder, whatever the machine's W&B settings; nothing leaves the machine."""
    for key in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, no user settings
    return tmp_path


def test_each_member_logs_the_stored_scalars_with_its_config(offline, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="needs wandb (pip install 'groklab[wandb]')")
    started, logged = [], {}
    original_init, original_log = wandb.init, wandb.sdk.wandb_run.Run.log

    def init(*args, **kwargs):
        started.append(dict(kwargs))
        return original_init(*args, **kwargs)

    def log(self, data, step=None, **kwargs):
        logged.setdefault(self.name, {})[step] = dict(data)
        return original_log(self, data, step=step, **kwargs)

    monkeypatch.setattr(wandb, "init", init)
    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", log)
    cfg = load_config(None, [*TINY, f"store.path={offline / 'runs.sqlite'}"])
    results = train(cfg)

    assert [s["mode"] for s in started] == ["offline", "offline"] and started[0]["project"] == "groklab"
    store = Store(offline / "runs.sqlite")
    for result, kwargs in zip(results, started):
        run_id = result["run_id"]
        assert kwargs["name"] == run_id[:8] and kwargs["config"]["run_id"] == run_id
        assert kwargs["config"]["optim"]["weight_decay"] == result["weight_decay"]
        assert kwargs["group"] == store.run(run_id)["ensemble_id"]
        steps = logged[run_id[:8]]
        metrics = store.metrics([run_id]).set_index("epoch")
        assert sorted(steps) == list(metrics.index)
        for epoch, row in metrics.iterrows():
            assert steps[epoch]["train/loss"] == pytest.approx(row["train_loss"])
            assert ("test/accuracy" in steps[epoch]) == (not math.isnan(row["test_acc"]))
            if not math.isnan(row["test_acc"]):
                assert steps[epoch]["test/accuracy"] == pytest.approx(row["test_acc"])
    runs = sorted((offline / "wandb-dir" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 2 and all(b"test/accuracy" in path.read_bytes() for path in runs)


def test_mode_is_offline_unless_the_user_configured_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_log.wandb_mode() == "offline"
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password 0123456789abcdef\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert wandb_log.wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_log.wandb_mode() == "disabled"


def test_wandb_missing_is_a_one_line_error_before_anything_is_stored(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    cfg = load_config(None, [*TINY, f"store.path={tmp_path / 'runs.sqlite'}"])
    with pytest.raises(GroklabError, match=r"pip install 'groklab\[wandb\]'"):
        train(cfg)
    assert not (tmp_path / "runs.sqlite").exists()
