"""Reports that answer a reader's questions: the grok panel shows the grokked net, settings read in
numeric order under the name "setting", legends name settings, the census headline tells how pure
the nodes are, weight norms and final accuracy against the swept value are drawn, runs are linked
and long tables folded, and Kaplan–Meier arms never hide one another.

Synthetic stores (no training), as in test_report.py, so each answer is known by construction.
"""

import re

import numpy as np
import pytest
import torch

from groklab.report import data, plots, plots_settings, plots_sweep, snapshots, stats
from groklab.report.build import assemble
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from test_report import add_run, html_tables, sigmoid_metrics, summary_for

WD_ORDER_MADE = ("0.001", "0", "0.0001", "0.0003")  # the order a sweep spec listed them


def add_wd_sweep(store, seeds=2, sweep_id="wd-sweep"):
    """Weight decay x seeds, made in the spec's order; only wd = 0.001 groks."""
    for wd in WD_ORDER_MADE:
        for seed in range(seeds):
            grok = 50 if wd == "0.001" else None
            s = summary_for(grok, 100)
            s["final_test_acc"] = {"0.001": 1.0, "0": 0.02, "0.0001": 0.05, "0.0003": 0.5}[wd]
            add_run(store, f"wd{wd}s{seed}", [f"optim.weight_decay={wd}", f"train.seeds=[{seed}]"], s,
                    sigmoid_metrics(30, 20 if grok else None), sweep_id=sweep_id)


# -- 1. the grok panel ------------------------------------------------------------------------------

def test_grok_panel_shows_the_snapshot_at_or_after_the_grok():
    # the nearest snapshot to 131 is 100, before the grok: it must not stand for the grokked net
    chosen = snapshots.chosen_epochs([0, 100, 200, 300], {"grok_epoch": 131})
    assert (200, "first snapshot after the grok at 131") in chosen and all(e != 100 for e, _ in chosen)
    assert (100, "grokked") in snapshots.chosen_epochs([0, 100, 200], {"grok_epoch": 100})
    # memorization and grok on one snapshot: the title names the grok
    both = snapshots.chosen_epochs([0, 100, 200], {"memorization_epoch": 120, "grok_epoch": 150})
    assert both == [(0, "init"), (200, "first snapshot after the grok at 150")]


def test_spectrum_title_names_the_snapshot_epoch():
    panel = plots.SpectrumPanel("wd=0.001", 200, np.eye(3), ["a", "b", "c"], "first snapshot after the grok at 131")
    title = plots.spectra_figure([panel], group_name="Z3").axes[0].get_title()
    assert "epoch 200" in title and "first snapshot after the grok at 131" in title and "epoch 131" not in title


# -- 2, 3. numeric order, and "setting" -------------------------------------------------------------

def test_settings_sort_numerically(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_wd_sweep(store)
    runs = store.runs()
    groups = data.run_groups(runs, ["optim.weight_decay"])
    assert list(dict.fromkeys(groups.values())) == ["wd=0", "wd=0.0001", "wd=0.0003", "wd=0.001"]
    assert sorted([("b",), 2, None, 1e-4, (1, 0)], key=data.sort_value) == [None, 1e-4, 2, (1, 0), ("b",)]
    tables = html_tables(assemble(store, "wd-sweep", tmp_path / "out").page.read_text())
    assert tables[0]["wd"].tolist() == [0, 0, 0.0001, 0.0001, 0.0003, 0.0003, 0.001, 0.001]
    per_setting = next(t for t in tables if "KM median" in t.columns)
    assert list(dict.fromkeys(per_setting["setting"])) == ["wd=0", "wd=0.0001", "wd=0.0003", "wd=0.001"]


def test_hyperparameter_settings_are_not_called_groups(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_wd_sweep(store)
    report = assemble(store, "wd-sweep", tmp_path / "out")
    assert "Test accuracy by setting" in report.sections and not any("group" in s.lower() for s in report.sections)
    assert not any("group" in f.caption.lower() for f in report.figures)
    page = report.page.read_text()
    assert not re.search(r"\bgroups?\b", re.sub(r"<pre>.*?</pre>", "", page, flags=re.S))  # configs aside
    box = plots_sweep.grok_box_figure([plots_sweep.GrokGroup("wd=0", np.array([5.0]), np.array([5.0]), np.array([9.0]))])
    assert box.axes[0].get_xlabel() == "setting" and "setting" in box._suptitle.get_text()


# -- 4. legends --------------------------------------------------------------------------------------

def test_a_lone_runs_legend_names_its_settings_not_its_id(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_run(store, "3f9a1c0d2e7b4455", ["model.kind=transformer", "optim.kind=adamw", "optim.lr=0.001",
                                        "optim.weight_decay=1", "train.seeds=[7]"], summary_for(20, 40),
            sigmoid_metrics(40, 20))
    runs = store.runs()
    (member,) = data.members_of(runs)
    assert member.label == "adamw, lr=0.001, wd=1, seed=7"
    legend = [t.get_text() for t in plots.curves_figure(store.metrics(), [member]).axes[1].get_legend().get_texts()]
    assert legend[0] == member.label and not any("3f9a" in t for t in legend)


# -- 5. census headline ------------------------------------------------------------------------------

def test_census_headline_says_how_pure_the_nodes_are():
    # every node 95% pure: "0 pure" alone would read as no structure at all
    rows = [{"irrep": "k=1", "pure": 0, "mixed": 1024, "nearly_pure": 1024},
            {"irrep": "k=2", "pure": 0, "mixed": 1024, "nearly_pure": 1000}]
    purity = np.r_[np.full(2024, 0.95), np.full(24, 0.5)]
    fig = plots.census_figure(rows, group_name="Z71", nodes=2048, activation="sqr", purity=purity)
    title = fig.axes[0].get_title()
    assert title.startswith("2048 active of 2048 nodes")
    assert "median 95%" in title and "99% of nodes ≥ 90%" in title and "0% ≥ 99% (pure)" in title
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [0, 0, 1024, 1000, 0, 24]  # pure, nearly pure, the rest: per irrep


# -- 6. weight norms ---------------------------------------------------------------------------------

class _Stack(torch.nn.Module):
    """Two members stacked on dim 0, as training stores them; plus an integer buffer that is no weight."""

    def __init__(self, scale):
        super().__init__()
        self.W = torch.nn.Parameter(torch.stack([torch.full((4, 6), 1.0), torch.full((4, 6), 2.0)]) * scale)
        self.V = torch.nn.Parameter(torch.ones(2, 3, 4) * scale)
        self.register_buffer("dropout_step", torch.tensor([5, 5]))


def test_weight_norm_curve_from_the_snapshots(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    folder = tmp_path / "runs" / "ens"
    for epoch, scale in ((0, 1.0), (10, 0.5), (20, 0.25)):
        ckpt.save_snapshot(folder, epoch, _Stack(scale))
    for member in (0, 1):
        add_run(store, f"r{member}", ["model.kind=transformer", f"optim.weight_decay={member}"], summary_for(10, 20),
                sigmoid_metrics(20, 10), ensemble_id="ens", member=member, folder=str(folder))
    norms = snapshots.weight_norms(store.runs(), store.folder)
    expect = {0: np.sqrt(24 * 1 + 12), 1: np.sqrt(24 * 4 + 12)}
    for member in (0, 1):
        mine = norms[norms["run_id"] == f"r{member}"].sort_values("epoch")
        assert mine["epoch"].tolist() == [0, 10, 20]
        assert mine["norm"].to_numpy() == pytest.approx(expect[member] * np.array([1, 0.5, 0.25]))
    report = assemble(store, "ens", tmp_path / "out")
    fig = next(f for f in report.figures if f.stem == "weight_norm")
    assert fig.png.is_file() and "weight snapshot" in fig.caption


# -- 7. final accuracy against the swept value -------------------------------------------------------

def test_final_accuracy_against_one_swept_value(tmp_path):
    fig = plots_settings.accuracy_by_value_figure([0, 1e-4, 1e-3, 1e-3], [0.1, 0.2, 1.0, 0.8], name="wd")
    ax = fig.axes[0]
    mean = next(ln for ln in ax.lines if ln.get_label() == "mean over runs")
    assert mean.get_xdata().tolist() == [0, 1e-4, 1e-3] and mean.get_ydata() == pytest.approx([0.1, 0.2, 0.9])
    assert ax.get_xscale() == "symlog" and [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.0001", "0.001"]
    store = Store(tmp_path / "runs.sqlite")
    add_wd_sweep(store)
    report = assemble(store, "wd-sweep", tmp_path / "out")
    assert "Final accuracy by setting" in report.sections
    assert any(f.stem == "accuracy_by_setting" for f in report.figures)


def test_final_accuracy_heatmap_over_two_swept_values(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    for lr in ("0.01", "0.001"):
        for wd in ("0.001", "0"):
            s = summary_for(10, 20)
            s["final_test_acc"] = float(lr) * 100 * (float(wd) > 0)  # 1.0, 0.1 with weight decay; 0 without
            add_run(store, f"lr{lr}wd{wd}", [f"optim.lr={lr}", f"optim.weight_decay={wd}"], s, sweep_id="grid")
    report = assemble(store, "grid", tmp_path / "out")
    assert any(f.stem == "accuracy_by_setting" for f in report.figures)
    table = __import__("pandas").DataFrame({"x": ["0.001", "0.01", "0.001"], "y": ["0", "0", "0.001"],
                                            "acc": [0.0, 0.0, 0.1]})
    fig = plots_settings.accuracy_heatmap_figure(table, x_name="lr", y_name="wd", x_order=["0.001", "0.01"],
                                                 y_order=["0", "0.001"])
    cells = fig.axes[0].images[0].get_array()
    assert cells[0].tolist() == [0.0, 0.0] and cells[1, 0] == pytest.approx(0.1) and cells.mask[1, 1]
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0.00\nn=1", "0.00\nn=1", "0.10\nn=1"]


# -- 8. links and folded tables ----------------------------------------------------------------------

def test_sweep_rows_link_to_their_runs_and_long_tables_fold(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_wd_sweep(store, seeds=4)  # 16 runs
    page = assemble(store, "wd-sweep", tmp_path / "out").page.read_text()
    ids = [r[:12] for r in store.runs()["run_id"]]
    for run_id in ids:
        assert f'<a href="#run-{run_id}">{run_id}</a>' in page and f'id="run-{run_id}"' in page
    assert re.search(r'<details class="table"><summary>runs[^<]*\(16 rows\)</summary>', page)
    add_run(store, "single", summary=summary_for(10, 20), metrics=sigmoid_metrics(20, 10), ensemble_id="ens1")
    short = assemble(store, "ens1", tmp_path / "run").page.read_text()
    assert html_tables(short)[0]["run"].tolist() == ["single"]
    assert '<details class="table">' not in short and '<a href="#run-single">single</a>' in short


# -- 9. Kaplan–Meier arms ----------------------------------------------------------------------------

def test_equal_survival_curves_stay_visible():
    km = stats.kaplan_meier([10, 20, 30], [True, True, False])
    fig = plots_sweep.survival_figure([("wd=0", km, None), ("wd=0.001", km, None)], budget=40)
    steps = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "-" and ln.get_marker() in ("None", "")]
    assert len(steps) == 2
    a, b = steps
    gap = np.asarray(b.get_ydata()) - np.asarray(a.get_ydata())
    assert np.all(gap != 0) and np.abs(gap).max() <= 0.03  # apart, yet far less than one run's step (1/3)
    assert a.get_linewidth() > b.get_linewidth() and a.get_zorder() < b.get_zorder()  # the wider one beneath
