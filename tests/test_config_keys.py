"""Every config key refuses a bad value the same way: one line naming the key and what is allowed, exit 2.

The values are generated from the config's own schema (choices, bounds, types), so a key added to
`RunConfig` is covered without editing this file; the choice lists come from the registries that own them.
"""

import typing

import annotated_types
import pytest

from helpers import cli
from groklab.config import CONFIG_KEYS, RunConfig
from groklab.losses.kinds import LOSS_KINDS
from groklab.models.activations import MODEL_ACTIVATIONS
from groklab.config_schema import STOP_RULES
from groklab.models.kinds import MODEL_KINDS, ROPE_MODES
from groklab.optim.kinds import KINDS
from groklab.precisions import PRECISIONS
from groklab.tasks.datasets import OPS

TINY = ["task.group=Z7", "model.width=16", "train.epochs=2", "train.checkpoint_dense_until=0"]


def _field(key: str):
    model = RunConfig
    *sections, name = key.split(".")
    for section in sections:
        model = model.model_fields[section].annotation
    return model.model_fields[name]


def _choices(annotation) -> tuple:
    """The allowed strings of a Literal (possibly Optional) annotation, else ()."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return ()


def invalid_value(key: str) -> tuple[str, list[str]]:
    """(a value `key` must refuse, fragments its error must contain besides the key)."""
    special = {  # keys whose rule is not in their type: the validators' own messages
        "name": ("[1, 2]", ["valid string"]),
        "store.path": ("[1, 2]", ["valid string"]),
        "task.group": ("NotAGroup", ["NotAGroup"]),
        "task.train_fraction": ("1.5", ["(0, 1)"]),
        "task.critical_delta": ("lots", ["valid number"]),
        "optim.lr": ("0", ["> 0"]),
        "optim.weight_decay": ("-1", [">= 0"]),
        "optim.betas": ("[2, 0.5]", ["[0, 1)"]),
        "train.seeds": ("[-1]", ["0..4294967295"]),
    }
    if key in special:
        return special[key]
    field = _field(key)
    choices = _choices(field.annotation)
    if choices:
        return "not-a-choice", [repr(c) for c in choices]
    if field.annotation is bool or bool in typing.get_args(field.annotation):
        return "maybe", ["valid boolean"]
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            return str(rule.ge - 1), [f"greater than or equal to {rule.ge}"]
        if isinstance(rule, annotated_types.Gt):
            return str(rule.gt), [f"greater than {rule.gt}"]
        if isinstance(rule, annotated_types.Le):
            return str(rule.le + 1), [f"less than or equal to {rule.le}"]
        if isinstance(rule, annotated_types.Lt):
            return str(rule.lt), [f"less than {rule.lt}"]
    raise AssertionError(f"no invalid value known for {key}: give it a bound, a choice list or an entry in `special`")


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_config_key_refuses_a_bad_value_in_one_line(capsys, tmp_path, key):
    value, fragments = invalid_value(key)
    store = tmp_path / "runs.sqlite"
    # the key under test comes last, so that it wins over TINY and the store path
    code, _, err = cli(capsys, "train", "li2_fig3", *TINY, f"store.path={store}", f"{key}={value}", "--no-progress")
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert key in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not store.exists()


def test_choice_keys_follow_their_registries():
    """A registry entry is an allowed config value, and nothing else is."""
    assert _choices(_field("task.op").annotation) == tuple(OPS)
    assert _choices(_field("model.activation").annotation) == MODEL_ACTIVATIONS
    assert _choices(_field("loss.kind").annotation) == tuple(LOSS_KINDS)
    assert _choices(_field("optim.kind").annotation) == tuple(KINDS)
    assert _choices(_field("model.rope").annotation) == ROPE_MODES
    assert _choices(_field("model.kind").annotation) == tuple(MODEL_KINDS)
    assert _choices(_field("train.dtype").annotation) == _choices(_field("loss.dtype").annotation) == tuple(PRECISIONS)
    assert _choices(_field("train.stop").annotation) == tuple(STOP_RULES)
