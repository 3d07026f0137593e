"""Bad input as a new user types it: one line on stderr, exit status 2, and nothing written or lost.

Covers configs that used to leave a `running` row behind, CLI usage errors, and inputs that must be
bounded before any work starts (seeds, binary files, memory, sweep size, export paths, limits).
"""

import json
import time

import pytest
import yaml

from helpers import cli, one_line_error
from groklab.config import SEED_LIMIT, load_config
from groklab.errors import GroklabError
from groklab.train.loop import train

TINY = ["task.group=Z7", "model.width=16", "train.epochs=2", "train.checkpoint_dense_until=0"]


# -- 1. a rejected config writes nothing --------------------------------------------------------

@pytest.mark.parametrize("overrides, fragment", [
    (["task.group=S7"], "S7"),
    (["task.group=Z100000"], "order <= 4096"),
    (["optim.lr=nan"], "finite"),
    (["optim.lr=.inf"], "finite"),
    (["optim.lr=1e400"], "finite"),
    (["optim.lr=[1e-3,nan]"], "optim.lr[1]"),
    (["optim.weight_decay=nan"], "finite"),
    (["optim.betas=[2,3]"], "beta1 must be in [0, 1)"),
    (["train.seeds=[-1]"], "0..4294967295"),
    (["task.train_fraction=null", "task.train_size=1000000"], "task.train_size"),
    (["train.device=cuda"], "cuda"),
    (["task.op=div", "task.modulus=4"], "prime modulus"),
    (["model.width=10000000000"], "more than the"),
    (["optim.kind=muon", "optim.muon_variant=li2", "optim.nesterov=true"], "Nesterov"),
    (["task.split=bernoulli", "train.seeds=[0,1]"], "different train sizes"),
    (["model.complex_init=true"], "needs model.complex_weights=true"),
    (["model.complex_weights=true", "model.complex_init=true", "optim.kind=muon"], "real matrices"),
])
def test_rejected_config_writes_nothing(capsys, tmp_path, monkeypatch, overrides, fragment):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # `train.device=cuda` must fail everywhere
    store = tmp_path / "store" / "runs.sqlite"
    code, _, err = cli(capsys, "train", "li2_fig3", *TINY, *overrides, f"store.path={store}", "--no-progress")
    one_line_error(code, err, fragment)
    assert not store.parent.exists()  # no store, no folder, no `running` row


def test_train_api_validates_before_the_store_is_touched(tmp_path):
    cfg = load_config(None, [*TINY, "model.width=10000000000", f"store.path={tmp_path / 'runs.sqlite'}"])
    with pytest.raises(GroklabError, match="model.width=10000000000"):
        train(cfg)
    assert not (tmp_path / "runs.sqlite").exists()


def test_a_big_task_is_refused_before_its_table_is_built():
    from groklab.tasks.datasets import MAX_EXAMPLES, make_task

    start = time.perf_counter()
    with pytest.raises(GroklabError, match=f"more than the {MAX_EXAMPLES} allowed"):
        make_task(op="add", modulus=100_003)
    assert time.perf_counter() - start < 1.0  # refused from the size, not after building 10^10 rows


# -- 2. usage errors: one line, exit 2 ----------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["frobnicate"], "No such command 'frobnicate'"),
    (["train"], "Missing argument"),
    (["train", "li2_fig3", "--bogus"], "No such option: --bogus"),
    (["runs", "list", "--limit", "abc"], "--limit"),
    (["runs", "show"], "Missing argument"),
])
def test_usage_errors_are_one_line_exit_2(capsys, args, fragment):
    code, _, err = cli(capsys, *args)
    one_line_error(code, err, fragment)
    assert "--help" in err


def test_usage_errors_of_plain_click_are_caught_too(capsys, monkeypatch):
    """Typers before 0.22 raise click's own exceptions; both kinds must end as one line."""
    click = pytest.importorskip("click")
    import groklab.cli

    def raise_click(**kwargs):
        raise click.exceptions.UsageError("No such command 'x'.")

    monkeypatch.setattr(groklab.cli, "app", raise_click)
    code, _, err = cli(capsys, "x")
    one_line_error(code, err, "No such command 'x'")


# -- 4. inputs bounded before work starts -------------------------------------------------------

def test_seeds_beyond_the_split_range_are_config_errors():
    with pytest.raises(GroklabError, match="0..4294967295"):
        load_config(None, [f"train.seeds=[{SEED_LIMIT}]"])
    with pytest.raises(GroklabError, match="0..4294967295"):
        load_config(None, ["train.seeds=[99999999999999999999999]"])  # beyond SQLite's 64-bit integers
    assert load_config(None, [f"train.seeds=[{SEED_LIMIT - 1}]"]).train.seeds == [SEED_LIMIT - 1]


def test_binary_config_file_is_one_line(capsys, tmp_path):
    blob = tmp_path / "model.yaml"
    blob.write_bytes(bytes(range(256)) * 4)
    code, _, err = cli(capsys, "train", blob)
    one_line_error(code, err, "not UTF-8 text")
    ctrl = tmp_path / "ctrl.yaml"
    ctrl.write_bytes(b"train:\n  epochs: 2\n\x00\x01")
    code, _, err = cli(capsys, "train", ctrl)
    one_line_error(code, err, "characters YAML does not allow")


def test_a_huge_sweep_is_refused_at_once(capsys, tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text(yaml.safe_dump({"base": {"from": "li2_fig3", "task.group": "Z7"},
                                    "axes": {"optim.weight_decay": [i * 1e-6 for i in range(1000)],
                                             "model.width": list(range(8, 1008))}, "seeds": 1}))
    start = time.perf_counter()
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "runs.sqlite")
    one_line_error(code, err, "1000000 runs")
    assert "split it into several specs" in err and time.perf_counter() - start < 5
    spec.write_text(yaml.safe_dump({"base": {"from": "li2_fig3"}, "seeds": 10**9}))
    one_line_error(*cli(capsys, "sweep", spec, "--dry-run")[::2], "count in 1..")


def test_sweep_too_wide_for_memory_is_refused_at_planning(capsys, tmp_path):
    spec = tmp_path / "wide.yaml"
    spec.write_text(yaml.safe_dump({"base": {"from": "li2_fig3", "task.group": "Z7"},
                                    "axes": {"model.width": [16, 10**10]}}))
    code, _, err = cli(capsys, "sweep", spec, "--dry-run")
    one_line_error(code, err, "more than the")


@pytest.mark.parametrize("args, fragment", [
    (["sweep", "sweep_li2_wd", "--dry-run", "--retries", "-1"], "--retries must be >= 0"),
    (["sweep", "sweep_li2_wd", "--dry-run", "--workers", "-2"], "--workers must be >= 0"),
    (["runs", "list", "--limit", "-1"], "--limit must be >= 1"),
    (["runs", "list", "--limit", "0"], "--limit must be >= 1"),
])
def test_negative_counts_are_refused(capsys, tmp_path, args, fragment):
    code, _, err = cli(capsys, *args, "--store", tmp_path / "runs.sqlite")
    one_line_error(code, err, fragment)


@pytest.fixture
def two_runs(capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    code, out, _ = cli(capsys, "train", "li2_fig3", *TINY, "train.seeds=[0,1]", f"store.path={store}", "--json")
    assert code == 0
    return store, [json.loads(line)["run_id"] for line in out.splitlines()]


def test_export_to_an_unwritable_path_is_refused_and_keeps_old_files(capsys, tmp_path, two_runs):
    store, _ = two_runs
    code, _, err = cli(capsys, "runs", "export", tmp_path / "missing" / "runs.csv", "--store", store)
    one_line_error(code, err, "does not exist")
    code, _, err = cli(capsys, "runs", "export", tmp_path, "--store", store)
    one_line_error(code, err, "is a folder")
    old = tmp_path / "old.csv"
    old.write_text("precious\n")
    code, _, err = cli(capsys, "runs", "export", old, "--where", "nonsense ===", "--store", store)
    one_line_error(code, err, "bad query")
    assert old.read_text() == "precious\n"  # a failed export leaves the earlier file as it was
    code, _, _ = cli(capsys, "runs", "export", old, "--store", store)
    assert code == 0 and old.read_text().count("\n") == 3 and old.stat().st_mode & 0o777 != 0o600


@pytest.mark.parametrize("pattern", ["%", "_", "%%", "____"])
def test_run_id_prefixes_are_literal(capsys, two_runs, pattern):
    store, _ = two_runs
    code, _, err = cli(capsys, "runs", "show", pattern, "--store", store)
    one_line_error(code, err, f"no run {pattern!r}")
    code, out, _ = cli(capsys, "runs", "list", "--sweep", pattern, "--store", store)
    assert code == 0 and out.strip() == "no runs"


def test_a_real_prefix_still_finds_its_run(capsys, two_runs):
    store, run_ids = two_runs
    code, out, _ = cli(capsys, "runs", "show", run_ids[1][:6], "--store", store, "--json")
    assert code == 0 and json.loads(out)["id"] == run_ids[1]
