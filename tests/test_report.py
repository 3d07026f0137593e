"""Reports: figures that show the science, sections that follow the data, a page that stands alone.

Most tests build small synthetic stores (no training), where the right answer is known by
construction: Fourier nodes must read as pure irreps with Thm 2's energy, a step in accuracy at
p* = c·ln M/M must give back c, a censored run must stay censored. One short real training run
checks the whole path through the CLI and TensorBoard.
"""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import cli
from groklab.config import config_from_dict, load_config
from groklab.errors import GroklabError
from groklab.li2 import critical_ratio
from groklab.report import data, plots, plots_sweep, snapshots
from groklab.report.build import assemble, build_report, resolve_target
from groklab.store import Store
from groklab.tasks import CRITICAL_RATIO_C
from groklab.train import checkpoint as ckpt


# -- helpers ---------------------------------------------------------------------------------------

def add_run(store, run_id, overrides=(), summary=None, metrics=(), series=(), sweep_id=None, ensemble_id=None,
            member=0, folder=None):
    cfg = config_from_dict({}, list(overrides)).model_dump(mode="json")
    store.start_run(run_id, config=cfg, seed=cfg["train"]["seeds"][0], config_hash=run_id, sweep_id=sweep_id,
                    ensemble_id=ensemble_id or run_id, member=member, folder=folder)
    store.write_results(run_id, metrics, series, summary=summary or {}, status="complete")


def sigmoid_metrics(epochs, rise_at, width=5.0):
    """Metric rows whose test accuracy rises around `rise_at` (train accuracy saturates at once)."""
    rows = []
    for e in range(epochs + 1):
        test = 1 / (1 + math.exp(-(e - rise_at) / width)) if rise_at is not None else 0.01
        rows.append((e, 1.0 / (1 + e), min(1.0, 0.2 + e / 5), 1.0 - 0.9 * test, test, None))
    return rows


def summary_for(grok, epochs, **extra):
    return dict(memorization_epoch=4, grok_epoch=grok, sustained_grok_epoch=grok, censored=grok is None,
                diverged=False, diverged_epoch=None, epochs=epochs, final_train_acc=1.0,
                final_test_acc=0.0 if grok is None else 1.0, final_test_loss=0.5, wall_seconds=1.0, **extra)


def html_tables(page: str) -> list[pd.DataFrame]:
    """The page's tables as frames (cells as text; numbers converted where they parse)."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.tables[-1][-1].append(self.cell)
                self.cell = None

        def handle_data(self, text):
            if self.cell is not None:
                self.cell += text

    parser = Tables()
    parser.feed(page)
    frames = []
    for rows in parser.tables:
        frame = pd.DataFrame(rows[1:], columns=rows[0])
        frames.append(frame.apply(_numeric_if_possible))
    return frames


def _numeric_if_possible(col: pd.Series) -> pd.Series:
    values = pd.to_numeric(col.replace("–", np.nan), errors="coerce")
    return values if values.notna().sum() == (col != "–").sum() else col


def assert_labelled(fig):
    """Every visible axes has a title (or the figure a suptitle), labelled axes, and units in the y label."""
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        assert ax.get_title() or fig._suptitle is not None
        assert ax.get_xlabel(), f"unlabelled x axis in {ax.get_title()!r}"
        if ax.get_ylabel():
            assert "(" in ax.get_ylabel() or ax.get_yticklabels(), ax.get_ylabel()


# -- run figures -----------------------------------------------------------------------------------

def test_curves_mark_milestones_and_shade_stages():
    metrics = pd.DataFrame(sigmoid_metrics(100, 50), columns=["epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                                                                "collapse"]).assign(run_id="a")
    member = plots.Member("a", "wd=0.001", "C0", memorization_epoch=4, grok_epoch=55, stages={"I": 0, "II": 20, "III": 60})
    fig = plots.curves_figure(metrics, [member], loss_label="loss (MSE, class-centred)")
    ax_acc, ax_loss = fig.axes[:2]
    stars = [ln for ln in ax_acc.lines if ln.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == 55
    assert stars[0].get_ydata()[0] == pytest.approx(metrics.set_index("epoch").loc[55, "test_acc"])
    circles = [ln for ln in ax_acc.lines if ln.get_marker() == "o"]
    assert circles[0].get_xdata()[0] == 4
    spans = sorted((round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6)) for p in ax_acc.patches)
    assert spans == [(0, 20), (20, 60), (60, 100)]
    assert ax_acc.get_ylabel() == "accuracy (fraction)" and ax_loss.get_ylabel() == "loss (MSE, class-centred)"
    assert ax_loss.get_yscale() == "log" and ax_acc.get_legend() is not None
    assert_labelled(fig)


def test_stage_strip_for_several_members_and_li2_panels():
    series = pd.DataFrame([(r, e, k, v) for r in ("a", "b") for e in range(0, 50, 5)
                           for k, v in (("li2.gf_norm", 10.0 / (1 + e)), ("li2.dW_cos", 0.5), ("li2.custom", e))],
                          columns=["run_id", "epoch", "key", "value"])
    members = [plots.Member("a", "wd=0.001", "C0", grok_epoch=30, stages={"I": 0, "II": 10}),
               plots.Member("b", "wd=0", "C1", stages={"I": 0, "II": 25})]
    fig = plots.li2_figure(series, members)
    titles = [ax.get_title() for ax in fig.axes]
    # known diagnostics first, in the order of docs/li2-quantities.md#training-diagnostics, then anything else under its own name
    assert titles == ["‖G_F‖ = ‖P₁⊥(Y − Ŷ)V‖ (paper)", "consecutive updates ΔW_t, ΔW_t+1", "li2.custom"]
    assert fig.axes[0].get_ylabel() == "Frobenius norm" and fig.axes[2].get_ylabel() == "custom (value)"
    assert_labelled(fig)
    metrics = pd.DataFrame(sigmoid_metrics(50, 30), columns=["epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                                                               "collapse"])
    metrics = pd.concat([metrics.assign(run_id="a"), metrics.assign(run_id="b")])
    strip = plots.curves_figure(metrics, members).axes[2]
    assert [t.get_text() for t in strip.get_yticklabels()] == ["wd=0.001", "wd=0"]
    assert sorted(t.get_text() for t in strip.texts) == ["I", "I", "II", "II"]


def test_varying_keys_labels_and_loss_axis():
    a = config_from_dict({}, ["optim.weight_decay=0.001", "train.seeds=[1]"]).model_dump(mode="json")
    b = config_from_dict({}, ["optim.weight_decay=0", "train.seeds=[1]", "store.path=/elsewhere.sqlite"]).model_dump(mode="json")
    keys = data.varying_keys([a, b])
    assert keys == ["optim.weight_decay"]  # the store location is not a setting
    assert data.label_of(a, keys) == "wd=0.001" and data.label_of(b, keys) == "wd=0"
    assert data.loss_axis_label(config_from_dict({}, ["loss.kind=ce"]).model_dump()) == "loss (cross-entropy, nats)"


# -- spectra and census from snapshots -------------------------------------------------------------

M, PER_IRREP = 13, 5


class _Net(torch.nn.Module):
    def __init__(self, W):
        super().__init__()
        self.W = torch.nn.Parameter(W[None])
        self.V = torch.nn.Parameter(torch.zeros(1, M, W.shape[0]))


def fourier_weights(rng):
    """Nodes [u; v] with u, v cosines of one frequency k = 1..6 (random phases), plus 3 near-dead nodes."""
    g = np.arange(M)
    rows = []
    for k in range(1, (M - 1) // 2 + 1):
        for _ in range(PER_IRREP):
            a, b = rng.uniform(0, 2 * np.pi, 2)
            rows.append(np.concatenate([np.cos(2 * np.pi * k * g / M + a), np.cos(2 * np.pi * k * g / M + b)]) * rng.uniform(1, 2))
    rows += [1e-4 * rng.standard_normal(2 * M) for _ in range(3)]
    return torch.tensor(np.array(rows), dtype=torch.float32)


@pytest.fixture()
def fourier_store(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    folder = tmp_path / "runs" / "ens"
    rng = np.random.default_rng(0)
    final = fourier_weights(rng)
    ckpt.save_snapshot(folder, 0, _Net(torch.tensor(rng.standard_normal(final.shape), dtype=torch.float32)))
    ckpt.save_snapshot(folder, 80, _Net(final))
    add_run(store, "f0", [f"task.group=Z{M}", "model.width=%d" % final.shape[0]], summary_for(60, 80),
            sigmoid_metrics(80, 55), ensemble_id="ens", folder=str(folder))
    return store


def test_spectra_show_pure_irreps_after_training(fourier_store):
    runs = fourier_store.runs()
    members = data.members_of(runs)
    panels, group_name, _ = snapshots.spectra_panels(runs, members, fourier_store.folder)
    assert group_name == f"Z{M}" and [(p.epoch, p.note) for p in panels] == [(0, "init"), (80, "first snapshot after the grok at 60")]
    init, final = panels[0].power, panels[-1].power
    assert final.shape == (PER_IRREP * 6, 7)  # the near-dead nodes are left out; 7 real irreps of Z13
    assert np.allclose(final.sum(1), 1) and final.max(1).min() > 0.999
    assert (np.diff(final.argmax(1)) >= 0).all()  # sorted by dominant irrep
    assert np.bincount(final.argmax(1)).tolist() == [0] + [PER_IRREP] * 6
    assert init.max(1).mean() < 0.6  # random init: power spread over irreps
    assert_labelled(plots.spectra_figure(panels, group_name=group_name))


def test_census_of_fourier_nodes_reaches_thm2_energy(fourier_store):
    run = fourier_store.runs().iloc[0].to_dict()
    result = snapshots.census_for(run, fourier_store)
    rows = {r["irrep"]: r for r in result["table"]}
    assert sorted(rows) == [f"k={k}" for k in range(1, 7)]
    for row in rows.values():
        assert row["pure"] == PER_IRREP and row["mixed"] == 0
        # Thm 2: a unit node in one complex-pair irrep of Z_M has E = M/4 (definition as written)
        assert row["E_thm2"] == pytest.approx(M / 4)
        assert row["E_pure_mean"] == pytest.approx(M / 4, rel=1e-6)
    fig = plots.census_figure(result["table"], group_name="Z13", nodes=result["nodes"], activation="sqr")
    assert fig.axes[0].get_title().startswith("30 active of 33 nodes")
    assert_labelled(fig)


# -- sweeps: phase diagram and grok statistics -----------------------------------------------------

PHASE_GROUPS = ("Z11", "Z17", "Z23", "Z31", "Z41")
PHASE_FRACTIONS = (0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85)


def add_phase_sweep(store):
    """Accuracy is a sharp step at Li2's p* = c·ln M/M, so the report must recover c."""
    for g in PHASE_GROUPS:
        m = int(g[1:])
        for f in PHASE_FRACTIONS:
            acc = 1.0 if f > CRITICAL_RATIO_C * math.log(m) / m else 0.0
            s = summary_for(40 if acc else None, 100)
            s["final_test_acc"] = acc
            add_run(store, f"p{g}{f}", [f"task.group={g}", f"task.train_fraction={f}", "model.width=64"], s,
                    sigmoid_metrics(20, 10 if acc else None), sweep_id="phase-sweep")


def test_phase_diagram_recovers_the_boundary(tmp_path):
    from groklab.li2 import fit_critical_constant

    store = Store(tmp_path / "runs.sqlite")
    add_phase_sweep(store)
    runs = store.runs()
    table = data.phase_table(runs, data.varying_keys(list(runs["config"])))
    assert sorted(table["order"].unique()) == [11, 17, 23, 31, 41] and table["fraction"].nunique() == 8
    fitted = fit_critical_constant(table["order"], table["fraction"], table["test_acc"], d_max=table["d_max"])
    assert fitted["c"] == pytest.approx(CRITICAL_RATIO_C, rel=0.2)
    fig = plots_sweep.phase_figure(table, c=CRITICAL_RATIO_C, fitted=fitted)
    ax = fig.axes[0]
    boundary = next(ln for ln in ax.lines if ln.get_label().startswith("predicted"))
    x, y = boundary.get_xdata(), boundary.get_ydata()
    ok = np.isfinite(y)
    assert np.allclose(y[ok], [critical_ratio(int(m)) for m in x[ok]])
    assert ax.get_xlabel().startswith("group order |G|") and "training fraction" in ax.get_ylabel()
    assert_labelled(fig)


def test_phase_table_uses_the_critical_ratio_fraction(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    for g in ("Z11", "Z23"):
        for ratio in (2.0, 3.0):
            add_run(store, f"c{g}{ratio}", [f"task.group={g}", f"task.critical_ratio={ratio}"], summary_for(10, 20))
    runs = store.runs()
    table = data.phase_table(runs, data.varying_keys(list(runs["config"])))
    expected = sorted(round(critical_ratio(m, c=r), 6) for m in (11, 23) for r in (2.0, 3.0))
    assert sorted(table["fraction"]) == expected


def add_optimizer_sweep(store, budget=300):
    """Muon groks about twice as early as Adam; one Adam run never groks, one Muon run diverges."""
    adam = [210, 190, 230, 205, 220, None]
    muon = [100, 90, 120, 105, None]
    for i, e in enumerate(adam):
        add_run(store, f"adam{i}", ["optim.kind=adam", f"train.seeds=[{i}]", f"train.epochs={budget}"],
                summary_for(e, budget), sigmoid_metrics(30, 20), sweep_id="optim-sweep")
    for i, e in enumerate(muon):
        s = summary_for(e, budget)
        if e is None:
            s.update(diverged=True, diverged_epoch=40)
        add_run(store, f"muon{i}", ["optim.kind=muon", f"train.seeds=[{i}]", f"train.epochs={budget}"], s,
                sigmoid_metrics(30, 10), sweep_id="optim-sweep")


def test_grok_statistics_keep_censored_runs_censored(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_optimizer_sweep(store)
    report = assemble(store, "optim-sweep", tmp_path / "out")
    assert report.sections == ["Runs", "Final accuracy by setting", "Test accuracy by setting", "Grok epochs",
                               "Runs in detail", "Configuration"]
    html = report.page.read_text()
    tables = html_tables(html)
    per_group = next(t for t in tables if "KM median" in t.columns)
    first = per_group[per_group["metric"] == "first crossing"].set_index("setting")
    assert first.loc["optim=adam", "censored"] == 1 and first.loc["optim=muon", "censored"] == 1
    assert first.loc["optim=adam", "median"] == pytest.approx(210)  # of the grokked runs: never the budget
    assert first.loc["optim=muon", "KM median"] == pytest.approx(100)
    tests = next(t for t in tables if "test" in t.columns)
    logrank = tests[(tests["test"].str.startswith("log-rank")) & (tests["metric"] == "first crossing")]
    assert float(logrank["p"].iloc[0]) < 0.01  # the earlier group is detected
    # box plot: the censored runs are not drawn (at the budget or anywhere)
    groups = [plots_sweep.GrokGroup("a", np.array([10.0, np.nan]), np.array([12.0, np.nan]), np.array([10.0, 300.0]))]
    fig = plots_sweep.grok_box_figure(groups)
    dots = np.concatenate([ln.get_ydata() for ln in fig.axes[0].lines if ln.get_marker() == "o"])
    assert dots.tolist() == [10.0] and "1 censored" in fig.axes[0].get_xticklabels()[0].get_text()
    assert_labelled(fig)


def test_survival_curve_steps_at_events_and_ticks_censoring():
    from groklab.report import stats

    km = stats.kaplan_meier([10, 20, 300], [True, True, False])
    fig = plots_sweep.survival_figure([("g", km, None)], budget=300)
    ax = fig.axes[0]
    step = next(ln for ln in ax.lines if ln.get_linestyle() == "-")
    assert step.get_xdata().tolist() == [0.0, 10.0, 20.0, 300.0]
    assert step.get_ydata().tolist() == pytest.approx([1.0, 2 / 3, 1 / 3, 1 / 3])
    ticks = next(ln for ln in ax.lines if ln.get_marker() == "|")
    assert ticks.get_xdata().tolist() == [300.0]
    assert_labelled(fig)


def test_multi_panel_box_and_survival_figures_of_the_muon_study():
    from groklab.report import stats

    panels = [("pooled", {"AdamW": [150.0, None], "Muon": [90.0, 110.0]}, {"AdamW": 1, "Muon": 0}),
              ("per task", {"add/AdamW": [150.0], "mul/AdamW": [], "add/Muon": [90.0]}, {"mul/AdamW": 3})]
    fig = plots_sweep.box_panels_figure(panels, title="t", width_ratios=[1, 2])
    pooled, per_task = fig.axes
    dots = sorted(np.concatenate([ln.get_ydata() for ln in pooled.lines if ln.get_marker() == "o"]).tolist())
    assert dots == [90.0, 110.0, 150.0]  # the censored AdamW run is counted, not drawn
    assert "1 censored" in pooled.get_xticklabels()[0].get_text()
    assert any("no run" in t.get_text() for t in per_task.texts)  # mul/AdamW: all 3 censored
    adamw = [ln.get_color() for ln in per_task.lines if ln.get_marker() == "o" and len(ln.get_ydata())]
    assert adamw[0] == plots_sweep.OPTIMISER_COLOURS["adamw"] and adamw[1] == plots_sweep.OPTIMISER_COLOURS["muon"]
    assert_labelled(fig)

    km = {"AdamW": stats.kaplan_meier([100, 200], [True, False]), "Muon": stats.kaplan_meier([50, 60], [True, True])}
    fig = plots_sweep.survival_panels_figure([("first", km)], title="t", budget=200)
    muon = next(ln for ln in fig.axes[0].lines if ln.get_label().startswith("Muon"))
    assert muon.get_ydata().tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0]) and muon.get_xdata()[-1] == 200
    assert_labelled(fig)


# -- pages -----------------------------------------------------------------------------------------

def assert_self_contained(page):
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    return html


def test_sweep_page_shows_the_phase_diagram_only_when_it_applies(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_phase_sweep(store)
    report = assemble(store, "phase", tmp_path / "out")  # a sweep id prefix
    assert report.target.kind == "sweep" and len(report.target.run_ids) == 40
    assert "Phase diagram" in report.sections and "Li2 diagnostics" not in report.sections
    for f in report.figures:
        assert f.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.svg.read_text().lstrip().startswith("<?xml")
    html = assert_self_contained(report.page)
    assert "Fitted c = " in html
    add_optimizer_sweep(store)
    assert "Phase diagram" not in assemble(store, "optim-sweep", tmp_path / "o2").sections


def test_targets_prefixes_latest_and_errors(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    add_run(store, "abc111", ensemble_id="ens1")
    add_run(store, "abc222", ["optim.weight_decay=0"], ensemble_id="ens1", member=1)
    add_run(store, "fff000", sweep_id="sweepX")
    store.record_sweep("sweepX", {"name": "wd_grid"})
    assert resolve_target(store, "abc1").run_ids == ["abc111", "abc222"]  # a run's page covers its ensemble
    assert resolve_target(store, "wd_grid").id == "sweepX"  # a sweep by its name
    assert resolve_target(store, "ens1").kind == "run"
    assert resolve_target(store, None).kind == "sweep"  # the latest run belongs to a sweep
    with pytest.raises(GroklabError, match="ambiguous"):
        resolve_target(store, "abc")
    with pytest.raises(GroklabError, match="no run, ensemble or sweep 'zzz'"):
        resolve_target(store, "zzz")
    with pytest.raises(GroklabError, match="no store"):
        build_report(tmp_path / "missing.sqlite", "abc1")


@pytest.mark.parametrize("args, fragment", [
    (["report", "nope"], "no run, ensemble or sweep 'nope'"),
    (["report"], "--latest"),
    (["report", "abc", "--latest"], "not both"),
    (["report", "a%"], "no run, ensemble or sweep 'a%'"),  # a literal prefix, not a LIKE pattern
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, fragment):
    store = Store(tmp_path / "runs.sqlite")
    add_run(store, "abc111")
    code, _, err = cli(capsys, *args, "--store", str(store.path))
    assert code == 2 and err.startswith("error: ") and fragment in err and err.count("\n") == 1


# -- one real run: CLI, Li2 hook series, TensorBoard -----------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from groklab.train.loop import train

    folder = tmp_path_factory.mktemp("trained")
    tensorboard = _tensorboard_available()
    cfg = load_config(None, ["task.group=Z7", "task.train_fraction=0.7", "model.width=32", "optim.lr=1e-2",
                             "optim.weight_decay=[1e-3,0]", "train.epochs=30", "train.checkpoint_dense_until=3",
                             "train.checkpoint_every=15", "train.progress=false", "li2.every=5",
                             f"train.tensorboard={str(tensorboard).lower()}", f"store.path={folder / 'runs.sqlite'}"])
    results = train(cfg)
    return folder / "runs.sqlite", results, tensorboard


def _tensorboard_available():
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def test_run_report_through_the_cli(trained, tmp_path, capsys):
    store_path, results, _ = trained
    code, out, err = cli(capsys, "report", results[0]["run_id"][:6], "--store", str(store_path), "--out",
                         str(tmp_path / "page"), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["kind"] == "run" and info["runs"] == [r["run_id"] for r in results]
    assert info["sections"] == ["Runs", "Training curves", "Li2 diagnostics", "Irrep spectra of hidden nodes",
                                "Energy census", "Configuration"]
    stems = [f["stem"] for f in info["figures"]]
    assert stems[:4] == ["curves", "weight_norm", "li2", "spectra"] and "census_0" in stems
    for f in info["figures"]:
        assert (tmp_path / "page" / f"{f['stem']}.png").is_file() and (tmp_path / "page" / f"{f['stem']}.svg").is_file()
    html = assert_self_contained(tmp_path / "page" / "index.html")
    assert results[0]["run_id"][:12] in html and "wd=0.001" in html


def test_cli_latest(tmp_path, capsys):
    store = Store(tmp_path / "runs.sqlite")
    add_run(store, "old000", summary=summary_for(10, 20), metrics=sigmoid_metrics(20, 8))
    add_run(store, "new000", ["optim.lr=0.01"], summary_for(12, 20), sigmoid_metrics(20, 9))
    code, out, err = cli(capsys, "report", "--latest", "--store", str(store.path), "--out", str(tmp_path / "latest"))
    assert code == 0, err
    assert out.splitlines()[0].startswith("run new000: 1 run(s), 1 figure(s); sections: Runs, Training curves, Configuration")
    assert out.splitlines()[1] == f"report: {tmp_path / 'latest' / 'index.html'}"


def test_tensorboard_logs_the_stored_scalars(trained):
    store_path, results, tensorboard = trained
    if not tensorboard:
        pytest.skip("tensorboard is not installed: pip install tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = Store(store_path)
    folder = ckpt.ensemble_folder(store.run(results[0]["run_id"]), store.folder)
    for r in results:
        events = EventAccumulator(str(folder / "tensorboard" / r["run_id"]))
        events.Reload()
        metrics = store.metrics([r["run_id"]]).set_index("epoch")
        acc = {e.step: e.value for e in events.Scalars("test/accuracy")}
        assert sorted(acc) == list(range(31))
        assert np.allclose([acc[e] for e in sorted(acc)], metrics["test_acc"].to_numpy(), atol=1e-6)
        loss = {e.step: e.value for e in events.Scalars("train/loss")}
        assert np.allclose([loss[e] for e in sorted(loss)], metrics["train_loss"].to_numpy(), rtol=1e-6)
        series = store.series([r["run_id"]]).query("key == 'li2.gf_norm'")
        gf = {e.step: e.value for e in events.Scalars("li2/gf_norm")}
        assert sorted(gf) == series["epoch"].tolist() == [0, 5, 10, 15, 20, 25, 30]
        assert np.allclose([gf[e] for e in sorted(gf)], series["value"].to_numpy(), rtol=1e-6)


def test_tensorboard_missing_is_a_one_line_error_before_anything_is_stored(tmp_path, monkeypatch):
    import sys

    from groklab.train.loop import train

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    cfg = load_config(None, ["task.group=Z5", "model.width=8", "train.epochs=2", "train.tensorboard=true",
                             "train.progress=false", f"store.path={tmp_path / 'runs.sqlite'}"])
    with pytest.raises(GroklabError, match="pip install tensorboard") as err:
        train(cfg)
    assert "\n" not in str(err.value)
    assert Store(tmp_path / "runs.sqlite").runs().empty


def test_many_members_are_drawn_by_setting(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    for i in range(10):
        wd = "0.001" if i % 2 == 0 else "0"
        add_run(store, f"m{i}", [f"optim.weight_decay={wd}", f"train.seeds=[{i}]"], summary_for(30 if wd != "0" else None, 40),
                sigmoid_metrics(40, 25 if wd != "0" else None), ensemble_id="big", member=i)
    runs = store.runs().sort_values("member")
    keys = data.varying_keys(list(runs["config"]))
    groups = data.run_groups(runs, data.grouping_keys(keys, phase=False))
    members = data.members_of(runs, data.grouping_keys(keys, phase=False), group_of=groups)
    assert {m.label for m in members} == {"wd=0.001", "wd=0"}
    assert len({m.colour for m in members}) == 2  # one colour per setting, not per seed
    fig = plots.curves_figure(store.metrics(), members)
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["wd=0.001", "wd=0", "train", "test"]
    assert assemble(store, "big", tmp_path / "out").sections == ["Runs", "Training curves", "Configuration"]
