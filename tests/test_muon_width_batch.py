"""groklab reproduce muon-width-batch: the design, the lr chosen on seed 0 alone, the per-cell statistics and
their negative controls, bad input, and the quick mode end to end."""

import json
import math

import pandas as pd
import pytest

from groklab import reproduce as registry
from groklab.cli import main
from groklab.reproduce import muon_width_batch as wb
from groklab.reproduce import muon_width_batch_stats as wbs
from groklab.train.loop import plan_members


def test_full_design_is_the_one_written_down():
    d = wb.make_design(quick=False)
    assert (d.widths, d.batches, d.seeds, d.epochs) == ((64, 128, 256), (256, None), (0, 1, 2, 3, 4), 1000)
    assert d.lrs == {"adamw": (3e-4, 1e-3, 3e-3), "muon": (0.01, 0.02, 0.05)} and d.judged_seeds == (1, 2, 3, 4)
    adamw = wb.run_config(d, 64, None, "adamw", 3e-3, 2)
    muon = wb.run_config(d, 256, 256, "muon", 0.05, 2)
    assert (adamw.task.op, adamw.task.modulus, adamw.task.train_fraction, adamw.loss.kind) == ("div", 97, 0.5, "ce")
    assert adamw.train.batch_size is None and adamw.optim.lr == 3e-3 and adamw.optim.kind == "adamw"
    assert (muon.model.width, muon.train.batch_size, muon.optim.muon_lr, muon.optim.lr) == (256, 256, 0.05, 1e-3)
    assert muon.model.dropout == 0.2 and muon.train.stop == "sustained" and muon.optim.weight_decay == 1.0


def test_sweep_runs_have_the_ids_of_the_runs_trained_alone():
    d = wb.make_design(quick=True)
    ids = wb.run_ids(d)
    runs = wb.sweep_spec(d).run_configs()
    assert len(ids) == len(d.widths) * len(d.batches) * 4 * len(d.seeds) and len(set(ids.values())) == len(ids)
    assert {plan_members(cfg)[1][0] for _, cfg in runs} == set(ids.values())  # the sweep trains exactly these


def _runs(cells, budget=1000):
    """cells: {(width, batch): {(optimizer, lr): [grok epoch per seed, None = never]}}"""
    rows = []
    for (w, b), arms in cells.items():
        for (opt, lr), epochs in arms.items():
            for seed, g in enumerate(epochs):
                rows.append(dict(width=w, batch=b, optimizer=opt, lr=lr, seed=seed, grok_epoch=g,
                                 observed_until=g if g is not None else budget,
                                 best_test_acc=0.99 if g is not None else 0.3))
    return pd.DataFrame(rows)


def test_the_lr_is_chosen_on_seed_zero_alone():
    # seed 0 prefers lr 1e-3; every judged seed would prefer 3e-3: the choice must follow seed 0
    runs = _runs({(64, "256"): {("adamw", 1e-3): [100, 900, 900, 900], ("adamw", 3e-3): [200, 50, 50, 50]}})
    assert wbs.choose_lr(runs, select_seed=0) == 1e-3
    never = _runs({(64, "256"): {("adamw", 1e-3): [None, 1], ("adamw", 3e-3): [None, 1]}})
    never.loc[never.lr == 3e-3, "best_test_acc"] = 0.6  # no seed-0 run groks: the best test accuracy decides
    assert wbs.choose_lr(never, select_seed=0) == 3e-3


def _grid(muon, adamw):
    cells = {}
    for w in (64, 128):
        for b in ("256", "full"):
            cells[(w, b)] = {("adamw", 1e-3): adamw, ("adamw", 3e-3): [None] * len(adamw),
                             ("muon", 0.02): muon, ("muon", 0.05): [None] * len(muon)}
    return _runs(cells)


def _verdicts(runs):
    return [v.passed for v in wbs.verdicts(wbs.analyse(runs, select_seed=0, budget=1000), "test")]


def test_both_verdicts_can_pass():
    assert all(_verdicts(_grid(muon=[30, 40, 42, 44, 46, 48, 50, 52],
                               adamw=[300, 400, 420, 440, 460, None, None, None])))


def test_negative_controls_identical_and_swapped_arms_fail():
    same = [30, 80, 120, 160, None, 200, 240, 260]
    assert _verdicts(_grid(muon=same, adamw=same)) == [False, False]
    assert _verdicts(_grid(muon=[300, 400, 420, 440, 460, None, None, None],
                           adamw=[30, 40, 42, 44, 46, 48, 50, 52])) == [False, False]


def test_median_difference_is_censoring_aware_and_holm_corrected():
    runs = _grid(muon=[30, 40, 42, 44, 46], adamw=[30, None, None, None, 500])
    result = wbs.analyse(runs, select_seed=0, budget=1000)
    cell = result["cells"][0]
    assert cell["median"]["adamw"] is None and cell["diff_bounded"]  # AdamW's median lies beyond the budget
    assert cell["median"]["muon"] == 42 and cell["diff"] == 42 - 1000 and cell["diff_label"].startswith("≤")
    ps = [c["logrank_p"] for c in result["cells"]]
    assert [c["holm_p"] for c in result["cells"]] == pytest.approx([min(1.0, p * len(ps)) for p in ps])
    assert cell["diff_ci"][0] <= cell["diff"] <= cell["diff_ci"][1]


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "1"], "--seeds must be >= 2"),
    (["--tasks", "add"], "--tasks applies to"),
    (["--medium"], "--medium applies to"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    store = tmp_path / "runs.sqlite"
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "muon-width-batch", *argv, "--store", str(store), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and message in err and "\n" not in err
    assert not store.exists() and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("wb")
    store = str(root / "runs.sqlite")
    report = registry.reproduce("muon-width-batch", quick=True, out=root / "out", store_path=store, seeds=2,
                                progress=False, echo=lambda s: None)
    return report, store, root


def test_quick_mode_end_to_end(quick, tmp_path, capsys):
    report, store, root = quick
    assert len(report["runs"]) == 2 * 2 * 4 * 2 and len(report["cells"]) == 4 and len(report["verdicts"]) == 2
    assert sorted(p.split("/")[-1] for p in report["figures"]) == ["width_batch_heatmap.png",
                                                                   "width_batch_kaplan_meier.png"]
    for cell in report["cells"]:  # the comparison reads the judged seed only, at the lrs seed 0 chose
        assert cell["n"] == {"adamw": 1, "muon": 1}
        assert cell["lr"]["adamw"] in (3e-3, 1e-2) and cell["lr"]["muon"] in (0.02, 0.05)
    saved = json.loads((root / "out" / "verdict.json").read_text())
    assert saved["settings"]["select_seed"] == 0 and saved["cells"][0]["holm_p"] <= 1
    assert all(r["grok_epoch"] is None or not math.isnan(r["grok_epoch"]) for r in saved["runs"])
    # the full design refuses this store (quick runs) in one line and writes nothing
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "muon-width-batch", "--store", store, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "another design" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_estimate_projects_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    main(["reproduce", "muon-width-batch", "--quick", "--seeds", "2", "--estimate", "--store", str(store)])
    out = capsys.readouterr().out
    assert "32 runs, 0 already complete" in out and "estimated time: at most" in out and "member-epochs" in out
    assert not store.exists() and not any(tmp_path.iterdir())
    main(["reproduce", "li2-energy", "--quick", "--estimate", "--store", str(store)])
    assert "trains no network" in capsys.readouterr().out and not any(tmp_path.iterdir())


def test_heatmap_colours_muon_sooner_blue_as_its_colour_bar_says():
    result = wbs.analyse(_grid(muon=[30, 40, 42, 44, 46, 48, 50, 52], adamw=[300, 400, 420, 440, 460, None, None, None]),
                         select_seed=0, budget=1000)
    fig = wbs.heatmap_figure(result, title="t")
    image = fig.axes[0].images[0]
    r, _, b, _ = image.cmap(image.norm(result["cells"][0]["diff"]))  # a Muon-sooner (negative) difference
    assert result["cells"][0]["diff"] < 0 and b > r
