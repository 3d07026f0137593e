"""Run ids are the store's keys: a change to the config schema or to `config_hash` that re-keys a stored run
makes a sweep or a reproduction train it again. These tests pin the ids of committed configs: every preset,
the cells of every reproduction's full mode (tests/data/run_ids.json) and the runs named in docs/results/*.json.

li2-scaling-search.json's probes were stored while `train.checkpoint_every` still entered the id; their
configs are pinned at their present ids in tests/data/run_ids.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groklab.config import load_config, preset_path
from groklab.config_schema import ID_RULES, RunConfig
from groklab.train.loop import member_configs, run_id_of

ROOT = Path(__file__).resolve().parents[1]
PINNED = json.loads((Path(__file__).parent / "data" / "run_ids.json").read_text(encoding="utf-8"))
RESULTS = ROOT / "docs" / "results"


def member_ids(cfg: RunConfig) -> list[str]:
    return [run_id_of(m) for m in member_configs(cfg)]


def test_pinned_cells_keep_their_ids():
    changed = []
    for label, cell in PINNED["cells"].items():
        ids = member_ids(load_config(cell.get("preset"), cell["overrides"]))
        if ids != cell["run_ids"]:
            changed.append(label)
    assert not changed, f"run ids changed for {len(changed)} pinned cells, e.g. {changed[:3]}"


@pytest.mark.parametrize("name", sorted(PINNED["sweeps"]))
def test_sweep_presets_keep_their_ids(name):
    from groklab.sweep.plan import expand
    from groklab.sweep.spec import load_spec

    assert [r.run_id for r in expand(load_spec(preset_path(name)))] == PINNED["sweeps"][name]


def test_every_preset_is_pinned():
    presets = {p.stem for p in (ROOT / "src" / "groklab" / "configs").glob("*.yaml")}
    pinned = set(PINNED["sweeps"]) | {c["preset"] for c in PINNED["cells"].values() if "preset" in c}
    assert presets <= pinned


@pytest.mark.parametrize("stem", ["muon-grokking-medium", "muon-grokking-medium-add-div"])
def test_muon_grokking_results_keep_their_ids(stem):
    from groklab.reproduce.muon_grokking import cell_config, make_grid

    rows = json.loads((RESULTS / f"{stem}.json").read_text(encoding="utf-8"))["runs"]
    grid = make_grid(medium=True, tasks=sorted({r["task"] for r in rows}, key=[r["task"] for r in rows].index))
    for row in rows:
        cfg = cell_config(grid, row["task"], row["output"], row["optimizer"], seeds=[row["seed"]])
        assert member_ids(cfg) == [row["run_id"]], row


def test_muon_features_results_keep_their_ids(tmp_path):
    from groklab.reproduce import Context
    from groklab.reproduce.muon_features import FULL, cell_config

    ctx = Context(name="muon-features", quick=False, out=tmp_path, store_path=str(tmp_path / "s.sqlite"))
    rows = json.loads((RESULTS / "muon-features-full.json").read_text(encoding="utf-8"))["runs"]
    for (task, optimizer) in {(r["task"], r["optimizer"]) for r in rows}:
        ids = member_ids(cell_config(ctx, FULL, task, optimizer))
        for row in rows:
            if (row["task"], row["optimizer"]) == (task, optimizer):
                assert ids[row["seed"]] == row["run_id"], row


def test_every_config_key_declares_how_it_enters_the_id():
    from groklab.config import CONFIG_KEYS

    assert sorted(ID_RULES) == sorted(CONFIG_KEYS)


def test_an_added_key_is_left_out_at_its_default():
    """`added` keys are left out at the value runs before them had; it is their default, or (should a default
    change) the id of every run stored before that change would move."""
    defaults = RunConfig()
    for key, rule in ID_RULES.items():
        if rule.has_omit_at:
            section, name = key.split(".")
            assert getattr(getattr(defaults, section), name) == rule.omit_at, key


def test_a_key_without_a_rule_fails_at_definition():
    from pydantic import BaseModel

    from groklab.config_fields import id_rules

    class Section(BaseModel):
        width: int = 3

    with pytest.raises(TypeError, match="width declares no run-id rule"):
        id_rules(Section)


def test_only_settings_that_change_numbers_change_the_id():
    base = load_config("li2_fig3")
    same = ["store.path=/elsewhere.sqlite", "train.progress=false", "train.tensorboard=true", "name=other",
            "train.checkpoint_every=7", "train.plateau_evals=3", "features.every=0", "model.complex_init=false"]
    for override in same:
        assert load_config("li2_fig3", [override]).config_hash() == base.config_hash(), override
    for override in ["train.stop=plateau", "features.every=5", "optim.ns_dtype=float32", "model.width=64"]:
        assert load_config("li2_fig3", [override]).config_hash() != base.config_hash(), override
