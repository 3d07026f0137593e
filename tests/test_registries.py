"""A choice is one entry: every optimizer kind (`groklab.optim.kinds.KINDS`) and model kind
(`groklab.models.kinds.MODEL_KINDS`) is reachable from the CLI and refused in one line when misspelt, and an
optimizer entry agrees with its class (options, state per parameter, elementwise)."""

import pytest
import torch

from helpers import cli
from groklab.config import OptimConfig
from groklab.optim.build import build_optimizer, optimizer_class
from groklab.models.kinds import MODEL_KINDS
from groklab.optim.kinds import KINDS
from groklab.train.memory import OPTIM_STATE

TINY = ["task.group=Z7", "model.width=16", "train.epochs=2", "train.checkpoint_dense_until=0"]
TINY_MODEL = {"two_layer": ["li2_fig3", *TINY],
              "transformer": ["muon_grokking", "task.op=add", "task.modulus=7", "model.width=8", "model.depth=1",
                              "train.batch_size=null", "train.epochs=2", "train.checkpoint_dense_until=0"]}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_trains_from_the_cli(capsys, tmp_path, kind):
    code, out, err = cli(capsys, "train", "li2_fig3", *TINY, f"store.path={tmp_path / 'runs.sqlite'}",
                         f"optim.kind={kind}", "--no-progress")
    assert code == 0, err


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_misspelt_kind_is_refused_in_one_line_naming_every_kind(capsys, tmp_path, kind):
    store = tmp_path / "runs.sqlite"
    code, _, err = cli(capsys, "train", "li2_fig3", *TINY, f"store.path={store}", f"optim.kind={kind}_",
                       "--no-progress")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "optim.kind" in err and all(repr(k) in err for k in KINDS), err
    assert not store.exists()


@pytest.mark.parametrize("kind", list(KINDS))
def test_entry_names_real_config_keys_and_options(kind):
    entry = KINDS[kind]
    for option, key in entry.config.items():
        assert option in entry.options, (kind, option)
        assert key in OptimConfig.model_fields, (kind, key)
    for key in entry.fields:
        assert key in OptimConfig.model_fields


@pytest.mark.parametrize("kind", [k for k, v in KINDS.items() if not v.routed])
def test_entry_state_and_elementwise_match_the_class(kind):
    params = {"w": torch.zeros(2, 3, 4), "b": torch.zeros(2, 4)}
    opt = build_optimizer(params, kind=kind, lr=0.1, weight_decay=0.0).optimizers["main"]
    assert isinstance(opt, optimizer_class(kind))
    assert all(len(st) == KINDS[kind].state == OPTIM_STATE[kind] for st in opt.state.values())
    assert opt.elementwise == KINDS[kind].elementwise


@pytest.mark.parametrize("kind", list(MODEL_KINDS))
def test_every_model_kind_trains_from_the_cli(capsys, tmp_path, kind):
    code, _, err = cli(capsys, "train", *TINY_MODEL[kind], f"store.path={tmp_path / 'runs.sqlite'}",
                       f"model.kind={kind}", "--no-progress")
    assert code == 0, err


def test_a_misspelt_model_kind_is_refused_in_one_line_naming_every_kind(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "li2_fig3", *TINY, f"store.path={tmp_path / 'runs.sqlite'}",
                       "model.kind=transformr", "--no-progress")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "model.kind" in err and all(repr(k) in err for k in MODEL_KINDS), err
