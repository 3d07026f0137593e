"""The li2-muon map: where (if anywhere) Muon on W beats Adam in the two-layer net (Fig. 8, Thm 8).

Design (sparse, not the product of the axes): per group Z_M a *base* setting, then one axis varied at a
time — the width K (from a few nodes to the 2(M−1) that reconstruct Ỹ exactly, Thm 3), the training
fraction (from 1.25·p* to 0.9), the loss (class-centred MSE, cross-entropy), the weight decay, and the
Muon variant (the reference's `li2`: EMA 0.99, no Nesterov; `torch`: 0.95 with Nesterov; `torch`
without Nesterov). A variant setting trains only Muon and is compared with the base setting's Adam.
Each (setting, optimiser) is one ensemble whose members are seeds × lrs (per-member `optim.lr`), so a
small lr grid costs one stack, not one run per lr. Members stop at their first grok (`train.stop=grok`),
the one outcome that is then known; runs that never grok train to the budget.

Per (setting, optimiser) the best lr is chosen by (most seeds grokked, earliest restricted-mean grok
epoch, lowest mean best test loss), and Muon is compared with Adam at their best lrs on three metrics,
each per seed: the best (lowest) test loss over training, the best test accuracy, and the grok epoch with
runs that never grok counted at the budget (the restricted mean up to the budget, a lower bound for
them). A difference counts when it exceeds twice its standard error (`report.stats.two_se_difference`).
With early stopping a grokked run's loss and accuracy end at its grok, so where every run of both
optimisers grokked, only the grok epoch is compared (the other two are marked n/a).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from groklab.li2 import critical_ratio
from groklab.report.stats import two_se_difference, welch_p_below

AXES = ("base", "K", "fraction", "loss", "wd", "variant")
VARIANTS = {"li2": ["optim.muon_variant=li2"],
            "torch": ["optim.muon_variant=torch", "optim.ns_dtype=float32"],  # fp32 NS: bf16 is slow on CPUs
            "torch, no Nesterov": ["optim.muon_variant=torch", "optim.nesterov=false", "optim.ns_dtype=float32"]}
METRICS = ("best test loss", "best test accuracy", "grok epoch")


@dataclass(frozen=True)
class Setting:
    """One point of the map: a group order and every axis value, and which axis it varies from the base."""

    M: int
    K: int
    fraction: float
    loss: str = "mse"
    wd: float = 2e-4
    variant: str = "li2"
    axis: str = "base"

    @property
    def label(self) -> str:
        tail = {"base": "base", "K": f"K={self.K}", "fraction": f"p={self.fraction:g}", "loss": f"loss={self.loss}",
                "wd": f"wd={self.wd:g}", "variant": f"Muon {self.variant}"}[self.axis]
        return f"Z{self.M} {tail}"

    def overrides(self) -> list[str]:
        return [f"task.group=Z{self.M}", f"model.width={self.K}", f"task.train_fraction={self.fraction:g}",
                f"loss.kind={self.loss}", f"optim.weight_decay={self.wd:g}"]


def base_fraction(M: int) -> float:
    """0.4 (Fig. 3's 2016 of 5041 pairs at Z71) where that is well above p*, else 1.6·p* (Z23: 0.6)."""
    p = critical_ratio(M)
    return 0.4 if 0.4 >= 1.5 * p else round(1.6 * p, 2)


def widths(M: int) -> list[int]:
    """A few nodes, the number of frequencies L = (M−1)/2 (the base), M − 1 and 2(M − 1) (Thm 3's exact count)."""
    L = (M - 1) // 2
    return [max(4, L // 2), L, M - 1, 2 * (M - 1)]


def design(orders, axes: dict) -> list[Setting]:
    """Base per M, then each listed axis value that differs from the base. `axes` maps an axis name to its
    values: "K" ("widths" = `widths(M)`), "fraction" ("near" = 1.25·p*, "base", numbers), "loss", "wd", "variant"."""
    out = []
    for M in orders:
        base = Setting(M, widths(M)[1], base_fraction(M))
        out.append(base)
        for K in (widths(M) if axes.get("K") == "widths" else axes.get("K", [])):
            if K != base.K:
                out.append(Setting(M, K, base.fraction, axis="K"))
        for f in axes.get("fraction", []):
            f = round(1.25 * critical_ratio(M), 2) if f == "near" else base.fraction if f == "base" else f
            if f != base.fraction:
                out.append(Setting(M, base.K, f, axis="fraction"))
        out += [Setting(M, base.K, base.fraction, loss=x, axis="loss") for x in axes.get("loss", []) if x != base.loss]
        out += [Setting(M, base.K, base.fraction, wd=x, axis="wd") for x in axes.get("wd", []) if x != base.wd]
        out += [Setting(M, base.K, base.fraction, variant=v, axis="variant") for v in axes.get("variant", [])
                if v != base.variant]
    return out


def cells(settings: list[Setting], seeds: int, lrs: dict) -> list[tuple[str, list[str]]]:
    """(label, overrides) of every ensemble: Adam and Muon per setting, Muon only for a variant setting."""
    out = []
    for s in settings:
        for kind in (("muon",) if s.axis == "variant" else ("adam", "muon")):
            members = [(seed, lr) for seed in range(seeds) for lr in lrs[kind]]
            extra = ["optim.muon_routing=li2", *VARIANTS[s.variant]] if kind == "muon" else []
            out.append((f"{s.label} | {kind}", [*s.overrides(), f"optim.kind={kind}", *extra,
                                                 f"train.seeds=[{','.join(str(x) for x, _ in members)}]",
                                                 f"optim.lr=[{','.join(f'{lr:g}' for _, lr in members)}]"]))
    return out


@dataclass
class Arm:
    """One optimiser in one setting at its best lr: per-seed metrics and the chosen runs."""

    lr: float
    loss: np.ndarray
    acc: np.ndarray
    grok: np.ndarray  # censored runs at the budget
    grokked: np.ndarray  # bool
    run_ids: list = field(default_factory=list)


def per_run_metrics(store, cell) -> dict[str, dict]:
    """run_id -> best test loss, best test accuracy over the evaluations it has (to its stop)."""
    ids = [r["run_id"] for r in cell.results]
    frame = store.metrics(ids)
    agg = frame.groupby("run_id").agg(loss=("test_loss", "min"), acc=("test_acc", "max"))
    return {i: dict(loss=float(agg.loc[i, "loss"]), acc=float(agg.loc[i, "acc"])) for i in ids}


def best_arm(store, cell, budget: int) -> Arm:
    """The member lr with the most grokked seeds, then the earliest mean grok epoch, then the lowest loss."""
    metrics = per_run_metrics(store, cell)
    by_lr: dict[float, list] = {}
    for r in cell.results:
        by_lr.setdefault(float(r["lr"]), []).append(r)
    arms = {}
    for lr, rows in by_lr.items():
        grok = np.array([budget if r.get("grok_epoch") is None else float(r["grok_epoch"]) for r in rows])
        arms[lr] = Arm(lr, np.array([metrics[r["run_id"]]["loss"] for r in rows]),
                       np.array([metrics[r["run_id"]]["acc"] for r in rows]), grok,
                       np.array([r.get("grok_epoch") is not None for r in rows]), [r["run_id"] for r in rows])
    key = lambda a: (-a.grokked.sum(), a.grok.mean(), np.nan_to_num(a.loss.mean(), nan=math.inf))  # noqa: E731
    return min(arms.values(), key=key)


def compare(adam: Arm, muon: Arm) -> dict[str, dict]:
    """Per metric: Muon − Adam, its 2-SE test, and whether Muon is the better one (`winner`)."""
    both_grok = bool(adam.grokked.all() and muon.grokked.all())
    out = {}
    for name, a, m, lower_better in (("best test loss", adam.loss, muon.loss, True),
                                     ("best test accuracy", adam.acc, muon.acc, False),
                                     ("grok epoch", adam.grok, muon.grok, True)):
        if both_grok and name != "grok epoch":
            out[name] = dict(diff=math.nan, se=math.nan, z=math.nan, winner="n/a", p_muon_better=math.nan)
            continue
        d = two_se_difference(m, a)
        p_better = welch_p_below(m, a) if lower_better else welch_p_below(-m, -a)
        better = d["diff"] < 0 if lower_better else d["diff"] > 0
        winner = ("muon" if better else "adam") if d["significant"] else "tie"
        z = d["diff"] / d["se"] if d["se"] > 0 else (0.0 if d["diff"] == 0 else math.copysign(math.inf, d["diff"]))
        out[name] = dict(diff=d["diff"], se=d["se"], z=z if not lower_better else -z, winner=winner,
                         p_muon_better=p_better)
    return out


LOWER_BETTER = {"best test loss": True, "best test accuracy": False, "grok epoch": True}


def heatmap(ax, rows: list[str], table: list[dict]) -> None:
    """Rows × metrics coloured by the standardised difference in Muon's favour (clipped at ±4); each cell prints
    the difference in the same convention, + = Muon better (Adam − Muon for loss and grok epoch, Muon − Adam for
    accuracy); '*' marks a difference beyond 2 SE, grey cells are n/a."""
    import matplotlib.colors as mcolors

    z = np.array([[row[m]["z"] for m in METRICS] for row in table], dtype=float)
    shown = np.clip(z, -4, 4)
    cmap = mcolors.LinearSegmentedColormap.from_list("adam_muon", ["#4c72b0", "#f7f7f7", "#c44e52"]).with_extremes(
        bad="#d9d9d9")
    image = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=-4, vmax=4, aspect="auto")
    for i, row in enumerate(table):
        for j, m in enumerate(METRICS):
            cell = row[m]
            advantage = -cell["diff"] if LOWER_BETTER[m] else cell["diff"]
            text = "n/a" if cell["winner"] == "n/a" else f"{advantage + 0.0:+.3g}" + ("*" if cell["winner"] != "tie" else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    heads = {m: "Adam − Muon" if LOWER_BETTER[m] else "Muon − Adam" for m in METRICS}
    ax.set_xticks(range(len(METRICS)), [f"{m}\n({heads[m]})" for m in METRICS], fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.04)
    bar.set_label("Δ / s.e. (+: Muon better; ±4 clip)", fontsize=8)


def table_from_results(measured: dict) -> tuple[list[str], list[dict]]:
    """The map's rows and cells back from a committed verdict's `cells` ("diff ± se (winner)" per metric, Muon −
    Adam), to redraw the heatmap without retraining."""
    rows, table = [], []
    for label, cells in measured["cells"].items():
        row = {}
        for m in METRICS:
            text = cells[m]
            if text == "n/a":
                row[m] = dict(diff=math.nan, se=math.nan, z=math.nan, winner="n/a")
                continue
            numbers, winner = text.rsplit(" (", 1)
            diff, se = (float(x) for x in numbers.split(" ± "))
            z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
            row[m] = dict(diff=diff, se=se, z=-z if LOWER_BETTER[m] else z, winner=winner.rstrip(")"))
        rows.append(label)
        table.append(row)
    return rows, table


def map_figure(rows: list[str], table: list[dict]):
    """The heatmap figure of the whole map (the reproduction's `li2_muon_map.png`)."""
    from groklab.report.plots import new_figure

    fig = new_figure(9, 1.6 + 0.32 * len(rows))
    ax = fig.subplots()
    heatmap(ax, rows, table)
    ax.set_title("Muon vs Adam at each optimiser's best lr, + = Muon better in every column (* beyond 2 s.e., "
                 "uncorrected: the verdict\napplies Holm's correction; grey: both always grok, see grok epoch)", fontsize=9)
    return fig
