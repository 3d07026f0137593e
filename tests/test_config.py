"""Config validation: every bad value is one GroklabError naming the key, value and allowed range."""

import pytest

from groklab.config import config_from_dict, load_config
from groklab.errors import GroklabError


@pytest.mark.parametrize("override, fragment", [
    ("optim.kind=lion", "optim.kind"),
    ("model.activation=tanh", "model.activation"),
    ("loss.kind=hinge", "loss.kind"),
    ("optim.lr=-1", "must be > 0"),
    ("optim.weight_decay=-0.1", "must be >= 0"),
    ("model.width=0", "model.width"),
    ("train.epochs=0", "train.epochs"),
    ("task.train_fraction=0", "(0, 1)"),
    ("task.train_fraction=1", "(0, 1)"),
    ("optim.lrr=0.1", "did you mean 'optim.lr'"),
])
def test_bad_values_are_one_line_errors(override, fragment):
    with pytest.raises(GroklabError) as err:
        load_config(None, [override])
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(GroklabError, match="malformed YAML"):
        load_config(bad)
    with pytest.raises(GroklabError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_unknown_nested_key_in_yaml_suggests_closest(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  widht: 12\n")
    with pytest.raises(GroklabError, match="did you mean 'model.width'"):
        load_config(path)


def test_per_member_lists_broadcast_and_hash_distinguishes_members():
    cfg = load_config(None, ["optim.lr=[1e-3,2e-3,3e-3]", "optim.weight_decay=1e-4", "train.seeds=[4]"])
    assert cfg.num_members == 3
    assert cfg.member_values("weight_decay") == [1e-4] * 3
    assert cfg.member_seeds() == [4, 4, 4]
    with pytest.raises(GroklabError, match="share one length"):
        load_config(None, ["optim.lr=[1e-3,2e-3]", "train.seeds=[1,2,3]"])


def test_hash_ignores_cosmetic_keys():
    a = config_from_dict({"train": {"progress": True}, "store": {"path": "/tmp/a.sqlite"}})
    b = config_from_dict({"train": {"progress": False}, "store": {"path": "/tmp/b.sqlite"}})
    c = config_from_dict({"optim": {"lr": 2e-3}})
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_hash_ignores_how_often_the_resume_state_is_written():
    base = load_config(None, [])
    assert load_config(None, ["train.checkpoint_every=7"]).config_hash() == base.config_hash()
    assert base.model_dump(mode="json")["train"]["checkpoint_every"] == 100  # the value hashed: default runs keep ids


def test_ridge_needs_mse():
    with pytest.raises(GroklabError, match="ridge"):
        load_config(None, ["model.ridge_lambda=0.1", "loss.kind=ce"])


def test_load_config_resolves_preset_names_as_the_cli_does():
    from groklab.config import load_config

    cfg = load_config("li2_fig3", ["train.epochs=5"])
    assert cfg.task.group == "Z71" and cfg.model.width == 2048 and cfg.train.epochs == 5
    import pytest

    from groklab.errors import GroklabError

    with pytest.raises(GroklabError, match="preset"):
        load_config("li2_fig33")
