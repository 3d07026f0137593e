"""li2-lr — Figs. 6–7 / Thm 5: near the critical data ratio a larger learning rate ends in memorisation,
at nodes of higher energy.

Near p* the training data's energy landscape holds both generalising (Fourier) and memorising maxima,
the latter with higher E (li2-energy shows them). Setting (RC5): Z_M just above p*, σ = x², full-batch
Adam with lr ∈ {1e-3, 2e-3, 5e-3} (the paper's three), weight decay 2e-4. The lrs and seeds are the
members of one ensemble. Node energy: E(w_j/‖w_j‖) on the member's training set for every first-layer
row (`groklab.li2.experiments.node_energies`, definition as written), averaged over the K nodes.

Loss: cross-entropy, the reference config's default (`loss_func=nll`); the paper does not say which
loss Figs. 6–7 used. We measured the same grid with class-centred MSE: there every lr generalises and
the larger lr groks *sooner* (Z23 p = 0.41, K = 256, two seeds: grok epochs ≈ 1700, 1000, 950 for lr
2e-3, 5e-3, 1e-2; also Z127 with n = 3225, K = 1024, wd 2e-4: grok epochs 270, 210, 140 for lr 1e-3, 2e-3,
5e-3, one seed), so the effect reproduces under CE only. Under CE the larger lrs first reach a higher test
accuracy and then lose it (the curves in the figure): the fixed 3000-epoch budget is part of the
setting.

Quick: Z23, 50 % of pairs (1.33·p*), K = 256, 3 seeds, 3000 epochs. Full: Fig. 7's Z127 with
n = 3225 (test size 0.8), K = 1024, 5 seeds, a 30 000-epoch budget, each member stopping once its test
accuracy has settled (`train.stop=plateau`: after memorization, the mean over its last 100 evaluations,
1000 epochs, within 0.01 of the mean over the 100 before). The question is where each lr's accuracy ends,
whatever its level, so the settled level is the answer, and a member that reaches it early stops paying.
A stopped member's final accuracy and node energy are those at its stop; a member still moving at the
budget is reported as not settled. Measured: every member settles, lr 5e-3 first (epochs 3840–6830) and
lr 1e-3 last (8130–10 860), at test accuracy 0.639 / 0.738 / 0.698 for lr 1e-3 / 2e-3 / 5e-3: the smallest
lr ends lowest, against the claim.
"""

from __future__ import annotations

import numpy as np

from groklab.groups import get_group
from groklab.li2 import critical_ratio
from groklab.li2.experiments import node_energies, training_rows
from groklab.train.cells import member_weights, metric_curves, train_cells
from groklab.li2.features import active_nodes
from groklab.report.plots import ACCURACY_LABEL, EPOCH_LABEL, colours, new_figure
from groklab.report.stats import sign_test
from groklab.reproduce import Verdict
from groklab.store import Store

CLAIM = "Near the critical ratio a larger lr ends in memorisation (lower test accuracy) with higher node energy"

LRS = (1e-3, 2e-3, 5e-3)
QUICK = dict(group="Z23", fraction=0.5, width=256, seeds=3, epochs=3000, stop=[])
# Settling takes 3800 to 11 000 epochs depending on lr and seed (measured); the plateau rule stops each
# member when its accuracy has moved by less than 0.01 over 1000 epochs, so only the slow ones pay the budget.
PLATEAU_EVALS, PLATEAU_DELTA = 100, 0.01
FULL = dict(group="Z127", fraction=0.2, width=1024, seeds=5, epochs=30000,
            stop=["train.stop=plateau", f"train.plateau_evals={PLATEAU_EVALS}", f"train.plateau_delta={PLATEAU_DELTA}"])


def run(ctx) -> list[Verdict]:
    mode = QUICK if ctx.quick else FULL
    seeds = ctx.seeds or mode["seeds"]
    members = [(s, lr) for s in range(seeds) for lr in LRS]
    base = [f"task.group={mode['group']}", f"task.train_fraction={mode['fraction']}", f"model.width={mode['width']}",
            "model.activation=sqr", "loss.kind=ce", "optim.kind=adam", "optim.weight_decay=2e-4",
            f"train.epochs={mode['epochs']}", "train.eval_every=10", "train.checkpoint_every=1000", *mode["stop"],
            f"train.seeds=[{','.join(str(s) for s, _ in members)}]", f"optim.lr=[{','.join(f'{lr:g}' for _, lr in members)}]"]
    (cell,) = train_cells(base, [("lr grid", [])], ctx.store_path, progress=ctx.progress, echo=ctx.echo)
    store = Store(ctx.store_path)
    group = get_group(mode["group"])

    rows = []
    for r in cell.results:
        W = member_weights(store, r["run_id"])["W"]
        idx, labels, classes = training_rows(cell.cfg, r["seed"])
        e = node_energies(W, idx, labels, classes, cell.cfg.model.activation)
        active = active_nodes(W)
        rows.append(member_summary(r) | dict(energy=float(e.mean()), energy_active=float(e[active].mean()),
                                             energies=e.numpy()))
    by_lr = by_lr_of(rows)
    n = len(training_rows(cell.cfg, 0)[1])
    ctx.extra["by_seed"] = _by_seed(by_lr)
    _figure(ctx, store, cell, by_lr, mode)

    setting = (f"{mode['group']}, n = {n} of {group.order ** 2} pairs (p = {mode['fraction']}, p* = "
               f"{critical_ratio(group.order):.3f}), K = {mode['width']}, x², cross-entropy, Adam, wd 2e-4, "
               f"{mode['epochs']} epochs" + (", members stop once test accuracy has settled" if mode["stop"] else "")
               + f", {seeds} seeds")
    train = cell.cfg.train
    verdicts = [settled_verdict(setting, by_lr, train.epochs, train.plateau_evals, train.plateau_delta)] if mode["stop"] else []
    return verdicts + lr_verdicts(by_lr, setting)


def member_summary(r: dict) -> dict:
    """What the verdicts read of one member's result (as `train` returns it), besides its node energies."""
    return dict(lr=r["lr"], seed=r["seed"], test=r["final_test_acc"], train=r["final_train_acc"], stop=r["stopped_epoch"],
                settled=r["stop_reason"] == "plateau", run_id=r["run_id"])


def by_lr_of(rows: list[dict]) -> dict:
    """Members grouped by lr, in the order of LRS."""
    return {lr: [x for x in rows if x["lr"] == lr] for lr in LRS}


def lr_verdicts(by_lr: dict, setting: str) -> list[Verdict]:
    """Accuracy, fit and energy verdicts from each lr's members (dicts with test, train, energy, energy_active),
    `by_lr` keyed by the lrs in increasing order."""
    lrs = list(by_lr)
    acc = {lr: float(np.mean([x["test"] for x in v])) for lr, v in by_lr.items()}
    energy = {lr: float(np.mean([x["energy"] for x in v])) for lr, v in by_lr.items()}
    energy_active = {lr: float(np.mean([x["energy_active"] for x in v])) for lr, v in by_lr.items()}
    lo, hi = lrs[0], lrs[-1]
    return [
        Verdict("generalisation falls as the learning rate rises", setting,
                {f"lr {lr:g}": round(a, 3) for lr, a in acc.items()},
                "mean final test accuracy strictly decreasing in lr, by ≥ 0.1 from the smallest to the largest",
                all(acc[a] > acc[b] for a, b in zip(lrs, lrs[1:])) and acc[lo] - acc[hi] >= 0.1),
        Verdict("every run fits its training set (the lower test accuracy is memorisation, not underfitting)",
                setting, {f"lr {lr:g}": round(min(x["train"] for x in v), 3) for lr, v in by_lr.items()},
                "final train accuracy ≥ 0.99 for every member", all(x["train"] >= 0.99 for v in by_lr.values() for x in v)),
        Verdict("the larger lr ends at nodes of higher energy E(w/‖w‖) on the training data",
                "mean over the K first-layer rows (and, for reference, over the active rows), averaged over seeds",
                {f"lr {lr:g}": {"all nodes": round(energy[lr], 3), "active nodes": round(energy_active[lr], 3)}
                 for lr in lrs},
                f"mean node energy at lr {hi:g} > at lr {lo:g}", energy[hi] > energy[lo]),
    ]


def _by_seed(by_lr) -> dict:
    """Each lr's members seed by seed, and the paired comparison the means hide: seeds share their split and
    W(0) across lrs, and the seed moves the final accuracy more than the lr does."""
    lo, hi = LRS[0], LRS[-1]
    table = {f"lr {lr:g}": {"seeds": [x["seed"] for x in v], "final test accuracy": [round(x["test"], 4) for x in v],
                            "stop epoch": [x["stop"] for x in v], "mean node energy": [round(x["energy"], 4) for x in v]}
             for lr, v in by_lr.items()}
    smallest = {x["seed"]: x["test"] for x in by_lr[lo]}
    largest = {x["seed"]: x["test"] for x in by_lr[hi]}
    below = sum(largest[s] < smallest[s] for s in smallest)
    above = sum(largest[s] > smallest[s] for s in smallest)
    test = sign_test(below, above)
    table[f"lr {hi:g} against lr {lo:g}, seed for seed"] = {
        "ends below": below, "ends above": above, "tied": len(smallest) - below - above,
        "sign test p (two-sided, ties dropped)": float(f"{test['p']:.3g}")}
    return table


def settled_verdict(setting: str, by_lr: dict, epochs: int, evals: int, delta: float) -> Verdict:
    """Whether the budget of `epochs` was long enough: every member's accuracy settled before it (stop reason
    `plateau`, with the rule's window of `evals` evaluations and tolerance `delta`)."""
    observed = {f"lr {lr:g}": {"settled": sum(x["settled"] for x in v), "of": len(v),
                               "stop epochs": [x["stop"] for x in v]} for lr, v in by_lr.items()}
    return Verdict(f"every run's test accuracy settles within the {epochs}-epoch budget", setting, observed,
                   f"every member stopped on the plateau rule (mean test accuracy over {evals} "
                   f"evaluations within {delta} of the {evals} before), none at the budget",
                   all(x["settled"] for v in by_lr.values() for x in v))


def _figure(ctx, store, cell, by_lr, mode) -> None:
    fig = new_figure(15, 4.6)
    ax, bx, cx = fig.subplots(1, 3)
    cols = dict(zip(LRS, colours(len(LRS))))
    epochs, acc = metric_curves(store, cell)
    ids = [r["run_id"] for r in cell.results]
    for lr, members in by_lr.items():
        rows = [ids.index(x["run_id"]) for x in members]
        ax.plot(epochs, acc[rows].mean(axis=0), color=cols[lr], lw=1.8, label=f"lr {lr:g}: test, mean")
        ax.fill_between(epochs, acc[rows].min(axis=0), acc[rows].max(axis=0), color=cols[lr], alpha=0.2)
        settled = [x for x in members if x["settled"]]
        ax.plot([x["stop"] for x in settled], [x["test"] for x in settled], "|", color=cols[lr], ms=12, mew=2)
    ax.set(xlabel=EPOCH_LABEL, ylabel=f"test {ACCURACY_LABEL}", ylim=(-0.02, 1.02),
           title=f"{mode['group']}, p = {mode['fraction']} (band: seed range; |: a seed settled)" if mode["stop"]
           else f"{mode['group']}, p = {mode['fraction']} (band: seed range)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    for lr, members in by_lr.items():
        bx.plot([x["energy"] for x in members], [x["test"] for x in members], "o", color=cols[lr], ms=7,
                label=f"lr {lr:g} (one dot per seed)")
    bx.set(xlabel="mean node energy E(w/‖w‖) on the training set (definition as written)",
           ylabel=f"final test {ACCURACY_LABEL}", title="Accuracy vs node energy (claim: higher E, lower acc.)")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=8)
    top = max(float(np.percentile(x["energies"], 99.5)) for v in by_lr.values() for x in v)
    bins = np.linspace(0, top, 40)
    for lr, members in by_lr.items():
        cx.hist(members[0]["energies"], bins=bins, histtype="step", lw=2, color=cols[lr], label=f"lr {lr:g}")
    cx.set(xlabel="node energy E(w_j/‖w_j‖) on the training set", ylabel="nodes (count, seed 0)",
           title="Node energies after training")
    cx.grid(alpha=0.3)
    cx.legend(fontsize=8)
    fig.suptitle("Li2 Figs. 6–7: test accuracy and node energy by Adam lr near p* (σ = x², CE); the claim: a larger lr memorises")
    fig.savefig(ctx.figure_path("li2_lr"))
