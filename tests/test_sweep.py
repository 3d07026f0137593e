"""Sweep specs and plans: grid expansion, packing by shape and memory, bad input, dry runs."""

import json

import pytest
import yaml

from helpers import cli
from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.sweep import load_spec, make_plan, plan_sweep, spec_from_dict
from groklab.sweep.memory import member_bytes, shapes_of
from groklab.sweep.plan import shape_key
from groklab.train.loop import plan_members

TINY = {"task.group": "Z7", "model.width": 24, "task.train_fraction": 0.5, "train.epochs": 30,
        "train.dtype": "float64", "train.progress": False, "train.checkpoint_dense_until": 0,
        "train.checkpoint_every": 1000}


def write_spec(tmp_path, name="spec", **parts):
    data = {"name": name, "base": dict(TINY), **parts}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_grid_expands_axes_zip_and_seeds(tmp_path):
    spec = load_spec(write_spec(tmp_path, axes={"optim.weight_decay": [0.0, 1e-3]},
                                zip={"optim.lr": [1e-3, 2e-3], "model.width": [24, 32]}, seeds=[0, 1, 2]))
    plan = make_plan(spec, workers=1, store_path=tmp_path / "runs.sqlite")
    assert len(plan.runs) == 2 * 2 * 3
    # zipped keys advance together: lr 1e-3 only ever with width 24
    assert {(r.point["optim.lr"], r.point["model.width"]) for r in plan.runs} == {(1e-3, 24), (2e-3, 32)}
    # a run's id is the id `groklab train` gives the same single run: re-running either finds the other's results
    r = plan.runs[5]
    alone = load_config(None, [f"{k}={json.dumps(v)}" for k, v in TINY.items()] + [
        f"optim.weight_decay={r.point['optim.weight_decay']}", f"optim.lr={r.point['optim.lr']}",
        f"model.width={r.point['model.width']}", f"train.seeds=[{r.point['seed']}]"])
    assert plan_members(alone)[1] == [r.run_id]
    # the sweep id is a hash of what decides the runs, not of execution settings
    same = load_spec(write_spec(tmp_path, name="spec", axes={"optim.weight_decay": [0.0, 1e-3]},
                                zip={"optim.lr": [1e-3, 2e-3], "model.width": [24, 32]}, seeds=[0, 1, 2], retries=3,
                                memory_budget="1GiB"))
    other = load_spec(write_spec(tmp_path, name="spec", axes={"optim.weight_decay": [0.0, 1e-3]},
                                 zip={"optim.lr": [1e-3, 2e-3], "model.width": [24, 32]}, seeds=[0, 1]))
    assert spec.sweep_id() == same.sweep_id() != other.sweep_id()


def test_base_from_a_preset_with_nested_and_dotted_overrides(tmp_path):
    spec = spec_from_dict({"base": {"from": "li2_fig3", "task": {"group": "Z23"}, "model.width": 64}, "seeds": 2})
    cfgs = [cfg for _, cfg in spec.run_configs()]
    assert len(cfgs) == 2 and {c.train.seeds[0] for c in cfgs} == {0, 1}
    assert all(c.task.group == "Z23" and c.model.width == 64 and c.optim.weight_decay == 2e-4 for c in cfgs)


def test_packing_members_differ_only_in_seed_lr_wd(tmp_path):
    spec = load_spec(write_spec(tmp_path, axes={"optim.weight_decay": [0.0, 1e-3], "model.width": [24, 32],
                                                "optim.lr": [1e-3, 3e-3]}, seeds=[0, 1]))
    plan = make_plan(spec, workers=1, memory_budget=2**30, store_path=tmp_path / "runs.sqlite")
    assert len(plan.ensembles) == 2  # one per width: seeds, lrs and weight decays share an ensemble
    for e in plan.ensembles:
        assert len({shape_key(r.cfg) for r in e.runs}) == 1
        cfg = e.config()  # checks that the members reproduce their run ids
        assert cfg.num_members == 8 and len({r.cfg.model.width for r in e.runs}) == 1
    # more workers than shape groups: groups split so that no worker idles
    assert len(make_plan(spec, workers=4, memory_budget=2**30, store_path=tmp_path / "r").ensembles) == 4
    # the memory budget caps members per ensemble
    per = plan.ensembles[1].member_bytes
    capped = make_plan(spec, workers=1, memory_budget=3 * per, store_path=tmp_path / "r")
    assert max(len(e.runs) for e in capped.ensembles) == 3 and sum(len(e.runs) for e in capped.ensembles) == 16
    assert all(len(e.runs) == 1 for e in make_plan(spec, workers=1, max_members=1, store_path=tmp_path / "r").ensembles)
    # Bernoulli splits give each seed its own train size, so seeds cannot share an ensemble
    bern = load_spec(write_spec(tmp_path, name="bern", axes={"optim.weight_decay": [0.0, 1e-3]}, seeds=[0, 1, 2],
                                base=dict(TINY, **{"task.split": "bernoulli"})))
    groups = make_plan(bern, workers=1, memory_budget=2**30, store_path=tmp_path / "r").ensembles
    assert len(groups) == 3 and all(len({r.point["seed"] for r in e.runs}) == 1 for e in groups)


def test_member_memory_estimate_follows_shapes():
    def estimate(*overrides):
        cfg = load_config(None, list(overrides))
        return member_bytes(cfg, **shapes_of(cfg))

    small = estimate("task.group=Z23", "model.width=512", "task.train_fraction=0.5")
    wide = estimate("task.group=Z23", "model.width=1024", "task.train_fraction=0.5")
    fig3 = estimate("task.group=Z71", "model.width=2048", "task.train_fraction=0.4")
    assert 1.8 < wide / small < 2.2  # everything but the data tensors is linear in K
    # Z71/K=2048, n=2016: activations 2016·(4K+3C) ≈ 17M floats dominate, ~71 MiB in fp32; measured peak
    # RSS grows by ~83 MiB per added member (S=1 -> 4: 513 -> 766 MiB)
    assert 50 * 2**20 < fig3 < 100 * 2**20
    assert estimate("task.group=Z71", "model.width=2048", "train.dtype=float64") > 1.9 * fig3


@pytest.mark.parametrize("parts, fragment", [
    ({"base": dict(TINY, **{"optim.lrr": 1e-3})}, "did you mean 'optim.lr'"),
    ({"axes": {"model.widht": [8, 16]}}, "did you mean 'model.width'"),
    ({"zip": {"optim.lr": [1e-3, 2e-3], "model.width": [8, 16, 32]}}, "same length"),
    ({"axes": {"optim.weight_decay": []}}, "has no values"),
    ({"axes": {"optim.lr": [1e-3, -1.0]}}, "optim.lr"),
    ({"axis": {"optim.lr": [1e-3]}}, "did you mean 'axes'"),
    ({"seeds": []}, "seeds"),
    ({"axes": {"train.seeds": [[0], [1]]}}, "seeds"),
])
def test_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, parts, fragment):
    store = tmp_path / "store" / "runs.sqlite"
    code, _, err = cli(capsys, "sweep", write_spec(tmp_path, **parts), "--store", store, "--workers", "0")
    assert code == 2 and err.startswith("error: ") and fragment in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not store.parent.exists()


def test_unknown_executor_is_one_line_exit_2(tmp_path, capsys):
    store = tmp_path / "store" / "runs.sqlite"
    code, _, err = cli(capsys, "sweep", write_spec(tmp_path), "--executor", "slurm", "--store", store)
    assert code == 2 and "unknown executor 'slurm'" in err and "local, ray" in err and err.count("\n") == 1
    assert not store.parent.exists()
    with pytest.raises(GroklabError, match="bad memory size"):
        spec_from_dict({"base": TINY, "memory_budget": "lots"})


@pytest.mark.parametrize("args, fragment", [
    (["--gpus-per-task", "0.5"], "use it with --executor ray"),
    (["--executor", "ray", "--gpus-per-task", "1.5"], "a fraction in [0, 1] or a whole number of GPUs"),
    (["--executor", "ray", "--gpus-per-task", "-1"], "a fraction in [0, 1]"),
    (["--executor", "ray", "--address", "ray://127.0.0.1:10001"], "Ray Client addresses are not supported"),
    (["--executor", "ray", "--address", "127.0.0.1:9"], "no Ray cluster answers at 127.0.0.1:9"),
    (["--executor", "ray", "--address", "nonsense"], "bad Ray address 'nonsense'"),
])
def test_bad_ray_options_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, args, fragment):
    if "--address" in args:
        pytest.importorskip("ray", reason="Ray is not installed")
    store = tmp_path / "store" / "runs.sqlite"
    code, _, err = cli(capsys, "sweep", write_spec(tmp_path), "--store", store, *args)
    assert code == 2 and err.startswith("error: ") and fragment in err and err.count("\n") == 1, err
    assert not store.parent.exists()


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "store" / "runs.sqlite"
    spec = write_spec(tmp_path, axes={"optim.weight_decay": [0.0, 1e-3], "model.width": [24, 32]}, seeds=[0, 1])
    code, out, _ = cli(capsys, "sweep", spec, "--dry-run", "--workers", "1", "--store", store)
    assert code == 0 and not store.parent.exists()
    assert "runs: 8 (0 complete, 8 to run); ensembles: 2 (2 to run)" in out
    assert "ensemble 0: 4 members, est." in out and "per member" in out and "memory budget" in out
    assert "estimated time: at most" in out
    plan = plan_sweep(load_spec(spec), workers=1, store_path=store)
    assert all(r.run_id[:8] in out for r in plan.runs)
    code, out, _ = cli(capsys, "sweep", spec, "--dry-run", "--json", "--workers", "1", "--max-members", "2",
                       "--store", store)
    data = json.loads(out)
    assert data["runs"] == 8 and data["complete"] == 0 and len(data["ensembles"]) == 4
    assert all(e["estimated_bytes"] == 2 * e["member_bytes"] for e in data["ensembles"])
    # the estimate times a few ensembles in a throw-away store: an upper bound over the budget's member-epochs
    assert data["estimate"]["seconds_upper"] > 0 and data["estimate"]["pending"] == 4
    assert data["estimate"]["member_epochs"] == 8 * load_spec(spec).base_config["train"]["epochs"]
    assert not store.parent.exists()
