"""`groklab reproduce muon-grokking --quick`: the whole pipeline on the reduced grid, then a resumed CLI run."""

import json
import shutil

import numpy as np
import pytest
import scipy.stats as ss

from groklab import reproduce as registry
from groklab.cli import main
from groklab.reproduce import muon_grokking as mg
from groklab.reproduce import muon_grokking_stats as mgs
from groklab.store import Store

SEEDS = 2


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("muon")
    store_path = str(root / "runs.sqlite")
    lines = []
    report = registry.reproduce("muon-grokking", quick=True, out=root / "out", store_path=store_path, seeds=SEEDS,
                                progress=False, echo=lines.append)
    return report, store_path, root, lines


def test_report_structure_and_grid(quick):
    report, _, _, lines = quick
    for key in ("verdicts", "runs", "tests", "tests_sustained", "cells", "pooled", "kaplan_meier", "paper", "notes",
                "figures"):
        assert key in report
    assert len(report["verdicts"]) == 5 and all(isinstance(v["pass"], bool) for v in report["verdicts"])
    assert [v["claim"].split(":")[0] for v in report["verdicts"][:2]] == ["primary", "primary"]
    assert report["control"]["permutations"] == 200 and 0 <= report["control"]["either_pass_rate"] <= 1
    runs = report["runs"]
    tasks, outputs = {"add", "mul"}, {"ce", "stablemax", "sparsemax"}
    assert {r["task"] for r in runs} == tasks and {r["output"] for r in runs} == outputs
    assert {r["optimizer"] for r in runs} == {"adamw", "muon"}
    assert len(runs) == len(tasks) * len(outputs) * 2 * SEEDS
    assert len(report["cells"]) == 12 and all(c["grok"]["n"] == SEEDS for c in report["cells"])
    for r in runs:
        assert set(r) >= {"task", "output", "optimizer", "seed", "grok_epoch", "sustained_grok_epoch", "censored",
                          "collapsed"}
    # both optimizers see the same seeds (hence the same splits) in every (task, output)
    seeds = lambda opt: {(r["task"], r["output"], r["seed"]) for r in runs if r["optimizer"] == opt}  # noqa: E731
    assert seeds("adamw") == seeds("muon")
    assert any("seven" in n for n in report["notes"])
    assert any(line.startswith("[12/12]") for line in lines)


def test_censored_runs_are_never_counted_as_the_budget(quick):
    report = quick[0]
    runs = report["runs"]
    for r in runs:
        assert (r["grok_epoch"] is None) == r["censored"]
        assert (r["sustained_grok_epoch"] is None) or (r["grok_epoch"] is not None and r["sustained_grok_epoch"] >= r["grok_epoch"])
    for cell in report["cells"]:
        mine = [r for r in runs if (r["task"], r["output"], r["optimizer"]) == (cell["task"], cell["output"], cell["optimizer"])]
        epochs = [r["grok_epoch"] for r in mine if not r["censored"]]
        assert cell["grok"]["censored"] == sum(r["censored"] for r in mine)
        assert cell["grok"]["mean"] == (pytest.approx(np.mean(epochs)) if epochs else None)
    for opt in ("adamw", "muon"):
        pooled = report["pooled"][opt]["grok"]
        epochs = [r["grok_epoch"] for r in runs if r["optimizer"] == opt and not r["censored"]]
        assert pooled["grokked"] == len(epochs) and pooled["censored"] == SEEDS * 6 - len(epochs)
        if epochs:
            assert pooled["max"] == max(epochs) and pooled["mean"] == pytest.approx(np.mean(epochs))
    # the quick grid has censored runs (mul rarely groks in 200 epochs): they enter the log-rank test
    # with their censoring time, so its observed events are the grokked runs only
    assert sum(r["censored"] for r in runs) > 0
    lr = report["tests"]["logrank"]
    assert sum(lr["observed"]) == sum(not r["censored"] for r in runs)
    assert sum(lr["expected"]) == pytest.approx(sum(lr["observed"]))
    for opt in ("adamw", "muon"):  # every run starts at risk; censored ones leave at the budget, not as groks
        km = report["kaplan_meier"]["grok_epoch"][opt]
        censored = sum(r["censored"] for r in runs if r["optimizer"] == opt)
        if km:
            assert km[0]["at_risk"] == 6 * SEEDS and sum(row["censored"] for row in km) == censored


def test_statistics_keys_and_values(quick):
    report = quick[0]
    tests = report["tests"]
    for name in ("student", "welch"):
        assert set(tests[name]) >= {"t", "p", "df"}
    assert set(tests["mann_whitney"]) >= {"U", "p"} and set(tests["logrank"]) >= {"chi2", "p", "df"}
    assert tests["logrank"]["df"] == 1
    assert set(tests["bootstrap_mean_diff"]) >= {"diff", "low", "high"}
    runs = report["runs"]
    a = [r["grok_epoch"] for r in runs if r["optimizer"] == "adamw" and not r["censored"]]
    m = [r["grok_epoch"] for r in runs if r["optimizer"] == "muon" and not r["censored"]]
    if len(a) >= 2 and len(m) >= 2 and np.var(a) + np.var(m) > 0:
        ref = ss.ttest_ind(a, m, equal_var=False)
        assert tests["welch"]["t"] == pytest.approx(ref.statistic) and tests["welch"]["p"] == pytest.approx(ref.pvalue)
        assert tests["mann_whitney"]["p"] == pytest.approx(ss.mannwhitneyu(a, m).pvalue)
    assert report["paper"]["p_check"]["consistent"] is False
    assert report["paper"]["p_check"]["p_two_sided_min"] > 5.2e-7


def test_figures_exist(quick):
    report, _, root, _ = quick
    names = sorted(p.split("/")[-1] for p in report["figures"])
    assert names == ["fig4_boxplot.png", "kaplan_meier.png", "kaplan_meier_tasks.png"]
    for p in report["figures"]:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((root / "out" / "verdict.json").read_text())
    assert saved["tests"]["logrank"] == report["tests"]["logrank"]


def test_cli_json_resumes_from_the_store(quick, capsys):
    report, store_path, root, _ = quick
    before = Store(store_path).runs()
    try:
        main(["reproduce", "muon-grokking", "--quick", "--seeds", str(SEEDS), "--json", "--store", store_path,
              "--out", str(root / "again")])
    except SystemExit as exc:
        assert not exc.code
    out = capsys.readouterr().out

    def strict(const):
        raise ValueError(f"non-standard JSON constant {const}")

    data = json.loads(out, parse_constant=strict)
    assert {"runs", "tests", "verdicts"} <= set(data)
    assert {"student", "welch", "mann_whitney", "logrank"} <= set(data["tests"])
    assert data["runs"] == report["runs"]  # nothing retrained: the same stored results
    after = Store(store_path).runs()
    assert len(after) == len(before) == 24
    assert list(after["updated"]) == list(before["updated"])


def test_grid_settings():
    full = mg.make_grid(quick=False)
    assert full.tasks == ("gcd", "add", "div", "exp", "mul", "parity") and full.seeds == (0, 1, 2)
    assert full.epochs == 500 and mg.make_grid(quick=False, seeds=10).seeds == tuple(range(10))
    cfg = mg.cell_config(full, "div", "sparsemax", "muon")
    assert (cfg.task.modulus, cfg.model.width, cfg.model.depth, cfg.train.batch_size) == (97, 128, 2, 512)
    assert (cfg.optim.kind, cfg.optim.muon_routing, cfg.optim.muon_lr, cfg.optim.weight_decay) == ("muon", "hidden", 0.02, 1.0)
    adamw = mg.cell_config(full, "gcd", "ce", "adamw")
    assert adamw.optim.betas == (0.9, 0.98) and adamw.optim.lr == 1e-3 and adamw.task.train_fraction is None
    assert mg.make_grid(quick=True, seeds=4).seeds == (0, 1, 2, 3)


def test_medium_runs_are_full_design_runs():
    """The medium mode is the six-task design on fewer tasks: its run ids are full-mode run ids."""
    from groklab.train.loop import plan_members

    full, medium = mg.make_grid(quick=False), mg.make_grid(medium=True)
    for cell in (("add", "ce", "muon"), ("mul", "sparsemax", "adamw")):
        assert plan_members(mg.cell_config(full, *cell))[1] == plan_members(mg.cell_config(medium, *cell))[1]


def test_medium_grid_settings():
    medium = mg.make_grid(medium=True)
    assert medium.mode == "medium" and medium.tasks == ("add", "mul") and len(medium.seeds) == 3
    assert medium.epochs == 500
    cfg = mg.cell_config(medium, "div", "stablemax", "adamw")
    assert (cfg.task.modulus, cfg.model.width, cfg.model.depth, cfg.model.dropout, cfg.train.batch_size) == (97, 128, 2, 0.2, 512)
    assert cfg.train.stop == "sustained" and cfg.train.train_eval_every == 10
    assert mg.make_grid(medium=True, tasks=["mul"], seeds=4).tasks == ("mul",)


@pytest.mark.parametrize("argv, message", [
    (["--quick", "--medium"], "--quick and --medium"),
    (["--tasks", "add,mull"], "unknown task 'mull' in --tasks (did you mean 'mul'?)"),
    (["--tasks", ","], "--tasks is empty"),
    (["--workers", "-1"], "--workers must be >= 0"),
    (["--seeds", "0"], "--seeds"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    store = tmp_path / "runs.sqlite"
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "muon-grokking", *argv, "--store", str(store), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not store.exists() and not (tmp_path / "out").exists()


def test_medium_and_tasks_are_refused_where_they_do_not_apply(tmp_path, capsys):
    for argv, message in ((["--medium"], "--medium applies to muon-grokking only"),
                          (["--tasks", "add"], "--tasks applies to muon-grokking only")):
        with pytest.raises(SystemExit) as exc:
            main(["reproduce", "li2-fig3", *argv, "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "o")])
        assert exc.value.code == 2 and message in capsys.readouterr().err


def test_stopping_changes_no_statistic(quick, tmp_path):
    """A small grid trained to its budget and the same grid stopped at each confirmed grok give the same grok
    epochs, censoring and test statistics (the stopped runs are different runs: `train.stop` is in the id).
    The stopped grid is part of the quick reproduction's, so a copy of its store holds those runs already."""
    _, _, root, _ = quick
    shutil.copytree(root, tmp_path / "store", ignore=shutil.ignore_patterns("out"))
    store_path = str(tmp_path / "store" / "runs.sqlite")
    grid = mg.make_grid(quick=True, seeds=SEEDS, tasks=["add"])
    never = mg.Grid(grid.mode, grid.tasks, grid.seeds, tuple(o for o in grid.overrides if o != "train.stop=sustained"))
    frames = {}
    for label, g in (("stopped", grid), ("never", never)):
        ctx = registry.Context("muon-grokking", True, tmp_path / label, store_path, progress=False,
                               echo=lambda s: None)
        frames[label] = mg.run_grid(ctx, g, Store(ctx.store_path))
    cols = ["task", "output", "optimizer", "seed", "grok_epoch", "sustained_grok_epoch", "censored", "sustained_censored"]
    stopped, never_ = frames["stopped"], frames["never"]
    assert set(stopped.run_id).isdisjoint(never_.run_id)
    assert set(stopped.run_id) <= set(Store(quick[1]).runs()["run_id"])  # read back, not retrained
    assert stopped[cols].fillna(-1).to_dict("records") == never_[cols].fillna(-1).to_dict("records")
    confirmed = stopped.sustained_grok_epoch.notna()  # these stopped there; the others trained to the budget
    assert confirmed.sum() >= 2 and (stopped.observed_until[confirmed] < grid.epochs).all()
    assert (stopped.observed_until[~confirmed] == grid.epochs).all() and (never_.observed_until == grid.epochs).all()
    a, b = mgs.analyse(stopped), mgs.analyse(never_)
    for key in ("student", "welch", "mann_whitney", "logrank"):
        assert mgs.jsonable(a["tests"][key]) == mgs.jsonable(b["tests"][key]), key
    # `collapsed` (test accuracy fell below 0.9 after the grok) is the one count stopping can change: a
    # collapse after the confirmed grok is not observed; the verdicts do not read it
    drop = lambda pooled: {o: {k: v for k, v in p.items() if k != "collapsed"} for o, p in pooled.items()}  # noqa: E731
    assert mgs.jsonable(drop(a["pooled"])) == mgs.jsonable(drop(b["pooled"]))


def test_stored_only_analyses_complete_pairs_and_trains_nothing(quick, tmp_path, capsys):
    """--stored-only on the quick fixture's store: every pair is complete, nothing is trained, the same runs
    come back; on a store holding one cell of a pair, that pair is left out and named."""
    report, store_path, root, _ = quick
    before = list(Store(store_path).runs()["updated"])
    lines = []
    again = registry.reproduce("muon-grokking", quick=True, out=tmp_path / "again", store_path=store_path, seeds=SEEDS,
                               progress=False, echo=lines.append, stored_only=True)
    assert again["runs"] == report["runs"] and list(Store(store_path).runs()["updated"]) == before
    assert not any(line.startswith("left out") for line in lines)
    grid = mg.make_grid(quick=True, seeds=SEEDS, tasks=["add"])
    lonely = str(tmp_path / "lonely.sqlite")
    from groklab.train.loop import train
    train(mg.cell_config(grid, "add", "ce", "adamw", store_path=lonely), progress=False)
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "muon-grokking", "--quick", "--tasks", "add", "--seeds", str(SEEDS), "--stored-only",
              "--store", lonely, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "no (task, output) pair has all its runs complete" in capsys.readouterr().err


def test_default_workers_share_one_gpu():
    """On CUDA the grid's small launch-bound cells share the device: 12 workers, at most the cores less 2."""
    from groklab.reproduce.muon_grokking import GPU_WORKERS, default_workers

    assert default_workers("cuda", cores=16) == GPU_WORKERS == 12
    assert default_workers("cuda", cores=8) == 6 and default_workers("cuda", cores=2) == 1
    assert default_workers("cpu", cores=16) is None  # the sweep's own default: one per core


def _runs(rows):
    import pandas as pd
    return pd.DataFrame([dict(task="add", output="ce", optimizer=opt, seed=i, grok_epoch=g, sustained_grok_epoch=g,
                              observed_until=g if g is not None else 500, censored=g is None,
                              sustained_censored=g is None, collapsed=False, diverged=False)
                         for i, (opt, g) in enumerate(rows)])


def test_first_verdict_says_when_censoring_reverses_the_mean():
    """Muon's grokked runs are faster, but most of its runs never grok: the paper's metric (grokked runs only)
    says Muon, the censoring-aware comparison says AdamW, and the first verdict must say so."""
    grid = mg.make_grid(medium=True)
    reversed_ = _runs([("muon", 20), ("muon", None), ("muon", None), ("muon", None),
                       ("adamw", 40), ("adamw", 42), ("adamw", 44), ("adamw", 46)])
    first = mgs.verdicts(mgs.analyse(reversed_, permutations=0), grid.describe())[2]
    assert first.passed and "censoring reverses this" in first.measured and "Muon is behind" in first.measured
    agreeing = _runs([("muon", 20), ("muon", 22), ("muon", 24), ("muon", 26),
                      ("adamw", 40), ("adamw", 42), ("adamw", 44), ("adamw", None)])
    first = mgs.verdicts(mgs.analyse(agreeing, permutations=0), grid.describe())[2]
    assert first.passed and "censoring" not in first.measured


def _paired_grid(muon_epochs, adamw_epochs, tasks=("add", "mul", "div"), outputs=("ce", "stablemax")):
    """Seed-matched runs over tasks × outputs; None = never grokked within the 500-epoch budget."""
    import pandas as pd
    rows = []
    for t in tasks:
        for o in outputs:
            for seed, (m, a) in enumerate(zip(muon_epochs, adamw_epochs)):
                for opt, g in (("muon", m), ("adamw", a)):
                    rows.append(dict(task=t, output=o, optimizer=opt, seed=seed, grok_epoch=g, sustained_grok_epoch=g,
                                     observed_until=g if g is not None else 500, censored=g is None,
                                     sustained_censored=g is None, collapsed=False, diverged=False))
    return pd.DataFrame(rows)


def _verdicts(runs):
    return {v.claim.split(" (")[0]: v.passed for v in mgs.verdicts(mgs.analyse(runs, permutations=0), "test")}


def test_every_verdict_passes_where_muon_is_clearly_faster():
    """The positive case: each of the five verdicts can come out true."""
    runs = _paired_grid([40, 45, 50, 55, 60], [120, 150, 170, None, 200])
    assert all(mgs.verdicts(mgs.analyse(runs, permutations=0), "test")[i].passed for i in range(5))


def test_negative_controls_every_verdict_fails_with_identical_or_swapped_arms():
    """Negative controls: with both arms identical no verdict may pass; with the arms swapped (AdamW
    clearly faster) none may pass either."""
    same = _paired_grid([40, 80, 120, None, 200], [40, 80, 120, None, 200])
    assert all(v.passed is False for v in mgs.verdicts(mgs.analyse(same, permutations=0), "test"))
    swapped = _paired_grid([120, 150, 170, None, 200], [40, 45, 50, 55, 60])
    assert all(v.passed is False for v in mgs.verdicts(mgs.analyse(swapped, permutations=0), "test"))


def test_tighter_distribution_counts_never_grokked_runs_as_late():
    """Muon's grokked runs are tight but a third never grok: the KM interquartile range is unbounded, so the
    'tighter' verdict fails where the grokked-only IQR would have said Muon."""
    runs = _paired_grid([50, 51, 52, None, None, 53], [60, 90, 120, 150, 180, 210])
    verdicts = mgs.verdicts(mgs.analyse(runs, permutations=0), "test")
    result = mgs.analyse(runs, permutations=0)
    assert result["pooled"]["muon"]["grok"]["iqr"] < result["pooled"]["adamw"]["grok"]["iqr"]  # grokked only
    assert result["pooled"]["muon"]["km_quartiles"]["iqr"] == float("inf") and not verdicts[4].passed


def test_permutation_control_rarely_passes_without_an_optimizer_effect():
    """Labels permuted within pairs carry no information: the primary verdicts pass in about 5 % or less of
    the permutations, while on the real labels of a clear effect they pass."""
    rng = np.random.default_rng(0)
    epochs = [int(x) for x in rng.integers(40, 300, 8)]
    runs = _paired_grid(epochs, [e + int(d) for e, d in zip(epochs, rng.integers(-30, 31, 8))])
    control = mgs.permutation_control(runs, n=300)
    assert control["logrank_pass_rate"] <= 0.1 and control["sign_pass_rate"] <= 0.1
    clear = _paired_grid([40, 45, 50, 55, 60], [120, 150, 170, None, 200])
    assert all(mgs.primary_passes(clear))
    assert mgs.permutation_control(clear, n=200)["either_pass_rate"] <= 0.1


def test_a_store_of_another_design_is_refused_unwritten(quick, tmp_path, capsys):
    """The quick fixture's store holds quick-design runs: the full design refuses it in one line, writes nothing."""
    _, store_path, _, _ = quick
    before = open(store_path, "rb").read()
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "muon-grokking", "--store", store_path, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "another design" in err
    assert open(store_path, "rb").read() == before and not (tmp_path / "o").exists()
