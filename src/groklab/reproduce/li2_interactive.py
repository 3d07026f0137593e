"""li2-interactive — Thm 7 in training: once some irreps are learned, G_F concentrates on the missing ones.

At every weight snapshot of a grokking run, the first-layer update that G_F drives (`li2.interactive.node_gradient`,
G_F = −∂J/∂F of the class-centred MSE) is split by irrep over the active nodes into the irreps already learned
(covered by active ≥ 80 %-pure nodes) and the missing ones. Thm 7 predicts more than the missing irreps' share of
the irreps (the baseline of an update spread evenly). Negative control: the same split of the Stage II update
(G = ỸỸᵀF̃, no interaction between nodes), on the same snapshots.

Setting: the stage rule's calibration runs (docs/li2-quantities.md#stages): Z23, K = 512, x², class-centred
MSE, Adam lr 5e-3, weight decay 1e-3, half of the pairs; snapshots every 5 epochs; members stop at their grok.
Quick: seeds 0–1, 200-epoch budget. Full: seeds 0–4, Z23 and Z29 (not yet run).

Verdict (stated before measuring): in every run, at a majority of the snapshots where some but not all irreps
are learned (at least 3 such snapshots), the update's share on the missing irreps exceeds the baseline; the same
test on the Stage II update must fail.
"""

from __future__ import annotations

import numpy as np
import torch

from groklab.groups import get_group
from groklab.li2 import diagnostics as D
from groklab.li2.experiments import training_rows
from groklab.li2.interactive import learned_missing_power, node_gradient
from groklab.li2.theory import node_features
from groklab.report.plots import EPOCH_LABEL, new_figure
from groklab.reproduce import Verdict
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.cells import train_cells

CLAIM = "Thm 7: once some irreps are learned, the backpropagated gradient G_F concentrates on the missing ones"

QUICK = dict(groups=("Z23",), seeds=2, epochs=200)
FULL = dict(groups=("Z23", "Z29"), seeds=5, epochs=400)
MIN_SNAPSHOTS = 3


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    base = ["model.width=512", "task.train_fraction=0.5", "model.activation=sqr", "loss.kind=mse",
            "loss.centring=class", "optim.kind=adam", "optim.lr=5e-3", "optim.weight_decay=1e-3", "train.eval_every=5",
            f"train.epochs={mode['epochs']}", "train.stop=grok", "train.snapshot_every=5", "train.checkpoint_every=1000",
            f"train.seeds=[{','.join(str(s) for s in range(seeds))}]"]
    cells = [(g, [f"task.group={g}"]) for g in mode["groups"]]
    store = Store(ctx.store_path)
    series = {}
    for cell in train_cells(base, cells, ctx.store_path, progress=ctx.progress, echo=ctx.echo):
        group = get_group(cell.label)
        for r in cell.results:
            idx, labels, classes = training_rows(cell.cfg, r["seed"])
            rows = []
            row = store.run(r["run_id"])
            for epoch, path in ckpt.run_snapshots(row, store.folder):
                p = ckpt.load_snapshot(path, member=int(row["member"]))
                W, V = p["W"].to(torch.float64), p["V"].to(torch.float64)
                F = node_features(W, idx)
                actual = learned_missing_power(node_gradient(D.backprop_gradient(F, V, labels, "class"), W, idx), W, group)
                stage2 = learned_missing_power(node_gradient(D.stage2_prediction(F, labels, classes), W, idx), W, group)
                rows.append(dict(epoch=int(epoch), learned=actual["learned"], missing=actual["missing"],
                                 baseline=actual["baseline"], actual=actual["share_missing"], stage2=stage2["share_missing"]))
            series[f"{cell.label} seed {r['seed']}"] = dict(grok_epoch=r["grok_epoch"], rows=rows)
    ctx.extra["snapshots"] = series
    _figure(ctx, series)
    return verdicts(series, f"{', '.join(mode['groups'])}, K = 512, x², class-centred MSE, Adam 5e-3, wd 1e-3, "
                            f"half of the pairs, {seeds} seeds, snapshots every 5 epochs to the grok")


def concentrates(rows: list[dict], key: str) -> tuple[int, int]:
    """(snapshots where `key`'s share on the missing irreps exceeds the baseline, partial-coverage snapshots)."""
    partial = [r for r in rows if r["learned"] > 0 and r["missing"] > 0 and np.isfinite(r[key])]
    return sum(r[key] > r["baseline"] for r in partial), len(partial)


def verdicts(series: dict, setting: str) -> list[Verdict]:
    def judged(key):
        counts = {run: concentrates(s["rows"], key) for run, s in series.items()}
        enough = all(n >= MIN_SNAPSHOTS for _, n in counts.values())
        return counts, enough and all(2 * above > n for above, n in counts.values())

    actual, holds = judged("actual")
    control, control_holds = judged("stage2")
    measured = {run: {"above baseline": f"{a}/{n}", "Stage II update (control)": f"{control[run][0]}/{control[run][1]}"}
                for run, (a, n) in actual.items()}
    measured["control passes"] = control_holds
    if not all(n >= MIN_SNAPSHOTS for _, n in actual.values()):
        return [Verdict(CLAIM_SHORT, setting, measured, EXPECTED, None,
                        f"fewer than {MIN_SNAPSHOTS} snapshots with some but not all irreps learned in a run")]
    return [Verdict(CLAIM_SHORT, setting, measured, EXPECTED, holds)]


CLAIM_SHORT = "G_F's update puts more than the missing irreps' share of its power on them once some irreps are learned"
EXPECTED = ("share on the missing irreps > their share of the irreps at a majority of partial-coverage snapshots, "
            "in every run; the Stage II update fails the same test")


def _figure(ctx, series: dict) -> None:
    fig = new_figure(7.5, 4.6)
    ax = fig.subplots()
    for i, (run, s) in enumerate(series.items()):
        rows = [r for r in s["rows"] if r["learned"] > 0 and r["missing"] > 0]
        if not rows:
            continue
        e = [r["epoch"] for r in rows]
        colour = f"C{i}"
        ax.plot(e, [r["actual"] for r in rows], "-o", ms=3, color=colour, label=f"{run}: G_F's update")
        ax.plot(e, [r["stage2"] for r in rows], ":", color=colour, label=f"{run}: Stage II update (control)")
        ax.plot(e, [r["baseline"] for r in rows], "--", color=colour, lw=0.8, alpha=0.6)
    ax.set(xlabel=EPOCH_LABEL, ylabel="share of the update's power on missing irreps", ylim=(0, 1.02),
           title="Thm 7: missing irreps' share of the update (dashed: their share of the irreps)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(ctx.figure_path("li2_interactive"))
