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
from groklab.config_schema import RunConfig
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
