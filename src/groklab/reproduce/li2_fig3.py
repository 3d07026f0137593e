"""li2-fig3 — Li₂ Fig. 3 / RC1: weight decay keeps G_F alive and the network groks; without it, it only memorizes.

Setting (docs/reproductions.md#li2-fig3-rc1): Z71, K = 2048, n = 2016 of 5041 pairs (reference split, test_size 0.6,
random_state = seed), σ = x², class-centred MSE (reference code), full-batch Adam lr 1e-3 (the code
default; the paper gives no lr), coupled L2 weight decay 2e-4 vs 0. Each seed is one ensemble of the
two arms (same split, same initialisation). Li₂ diagnostics on the training set every `li2.every`
epochs (`groklab.li2.hook`), stages from `groklab.li2.stages`.
Quick: seed 0, 300 epochs, diagnostics and test accuracy every 2 epochs (50 s on the idle 2-core CPU).
Full: 15 seeds, 1000 epochs, every epoch (3 min per seed there; 15 seeds in 44.5 min).

Verdicts: the wd arm groks and the wd = 0 arm does not (test accuracy at chance); ‖G_F‖ rises early
and keeps a larger fraction of its peak late in training with weight decay (late = mean over the
last 10 % of epochs). G_F here is −∂J/∂F of the loss actually trained (class-centred, as the reference
code): the paper's sample-centred G_F and the reference's `dF_norm` also carry the output's class mean,
which that loss ignores and only weight decay shrinks. Measured at 1000 epochs (seed 0), late/peak with
wd 2e-4 vs wd 0: 0.060 vs 0.027 (the loss trained), 0.059 vs 0.040 (paper centring), and 0.058 vs 0.535
for the reference dF_norm, which ends *higher* without weight decay; all three are reported.
V's update direction settles before W's (settled: 1 − cos of consecutive updates ≤ 1e-3·k², k the
diagnostic spacing, for 20 epochs). F̃ᵀF̃ stays near-diagonal (largest mean|off-diag|/mean|diag|, on 256
sampled nodes; paper: within ≈ 8 %; measured ≤ 0.035) is a measurement, not a verdict: random features start
that near-diagonal (0.026 at initialisation in the quick run) and stay so without weight decay too. The FFᵀ distance from aI + b11ᵀ is reported,
not judged: it reaches 0.13 (300 epochs) to 0.16 (1000) with weight decay, above the paper's ≤ 8 %.
Stages ordered I < II < III in every grokking member, each onset found on its own over the whole run
(`groklab.li2.stages`: thresholds calibrated on Z23/Z29 runs, never on these Z71 runs) and recomputed from the
stored series, so a stored run is judged by the current rule. The same check on the wd = 0 arm is its
negative control (reported beside it; without weight decay no irrep is covered, so no Stage III).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.config import load_config
from groklab.li2.hook import stages_from_series
from groklab.li2.stages import StageRule, ordered, settle_index
from groklab.report.plots import STAGE_COLOURS, STAGE_NAMES, new_figure, stage_intervals
from groklab.reproduce import Verdict
from groklab.store import Store
from groklab.train.loop import plan_members, train

CLAIM = ("Li2 Fig. 3: with weight decay G_F stays alive and Z71 groks through lazy → independent → interactive "
         "stages; without it G_F decays and the network only memorizes")

WD = (2e-4, 0.0)
ARM = {2e-4: "wd 2e-4", 0.0: "wd 0"}
ARM_COLOUR = {2e-4: "#c44e52", 0.0: "#4c72b0"}
SETTLE_TOL = 1e-3  # verdict's "settled" update direction at li2.every = 1 (scaled by k²)
KERNEL_LIMIT = 0.08  # the paper: F̃ᵀF̃ within ≈ 8 % of diagonal throughout
GF_KEY = "li2.gf_norm_class"  # −∂J/∂F of the loss being trained (the reference code's class-centred MSE)


def _settings(ctx) -> dict:
    if ctx.quick:
        return dict(seeds=list(range(ctx.seeds or 1)), epochs=300, every=2, checkpoint_every=50)
    return dict(seeds=list(range(ctx.seeds or 15)), epochs=1000, every=1, checkpoint_every=100)


def _config(seed: int, s: dict, store_path: str):
    return load_config("li2_fig3", [
        f"train.seeds=[{seed},{seed}]", f"optim.weight_decay=[{WD[0]},{WD[1]}]", f"train.epochs={s['epochs']}",
        f"train.eval_every={s['every']}", f"li2.every={s['every']}", "train.checkpoint_dense_until=0",
        f"train.checkpoint_every={s['checkpoint_every']}", f"store.path={store_path}"])


def run(ctx) -> list[Verdict]:
    s = _settings(ctx)
    store = Store(ctx.store_path)
    run_ids: list[str] = []
    for seed in s["seeds"]:
        cfg = _config(seed, s, ctx.store_path)
        ctx.echo(f"  seed {seed}: Z71, K=2048, n=2016, wd {WD[0]:g} vs {WD[1]:g}, {s['epochs']} epochs, "
                 f"diagnostics every {s['every']}")
        train(cfg, store=store, progress=ctx.progress)  # li2.every: diagnostics, and stages in the summaries
        run_ids += plan_members(cfg)[1]
    runs = store.runs("run_id IN (" + ",".join("?" * len(run_ids)) + ")", tuple(run_ids))
    members = pd.DataFrame([dict(r["summary"], run_id=r["run_id"]) for _, r in runs.iterrows()])
    metrics, series = store.metrics(run_ids), store.series(run_ids)
    wide = series.pivot_table(index=["run_id", "epoch"], columns="key", values="value").reset_index()
    stages = stages_from_series(series)  # the current rule on the stored series, not the summaries' copy
    members["stages"] = [stages.get(r, {}) for r in members["run_id"]]

    measures = _measures(members, wide, s["every"])
    _curves_figure(ctx, metrics, members, s)
    _gradient_figure(ctx, wide, members, measures)
    _update_figure(ctx, wide, members, s["every"])
    _kernel_figure(ctx, wide, members)
    ctx.extra["runs"] = members[["run_id", "seed", "weight_decay", "memorization_epoch", "grok_epoch",
                                 "final_test_acc", "stages"]].to_dict("records")
    return _verdicts(members, measures, s)


# -- measurements ---------------------------------------------------------------------------------

def _series(wide: pd.DataFrame, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = wide[wide["run_id"] == run_id].sort_values("epoch")
    if key not in rows:
        return np.array([]), np.array([])
    rows = rows[["epoch", key]].dropna()
    return rows["epoch"].to_numpy(dtype=float), rows[key].to_numpy(dtype=float)


def _settle(wide, run_id, key, every) -> int | None:
    e, c = _series(wide, run_id, key)
    i = settle_index(e, c, SETTLE_TOL * every**2, StageRule().hold) if len(e) else None
    return None if i is None else int(e[i])


def _late_over_peak(wide, run_id, key) -> float:
    e, g = _series(wide, run_id, key)
    if not len(e):
        return float("nan")
    return float(g[e >= e.max() - 0.1 * (e.max() - e.min())].mean() / g.max())


def _measures(members: pd.DataFrame, wide: pd.DataFrame, every: int) -> pd.DataFrame:
    rows = []
    for _, m in members.iterrows():
        e, g = _series(wide, m["run_id"], GF_KEY)
        if not len(e):  # a store written before the class-centred G_F was logged
            e, g = _series(wide, m["run_id"], "li2.gf_norm")
        _, off = _series(wide, m["run_id"], "li2.kernel_offdiag")
        _, ff = _series(wide, m["run_id"], "li2.ff_ideal_dist")
        rows.append(dict(run_id=m["run_id"], gf_initial=g[0], gf_peak=g.max(), gf_peak_epoch=int(e[g.argmax()]),
                         late_peak=float(g[e >= e.max() - 0.1 * (e.max() - e.min())].mean() / g.max()),
                         late_peak_paper=_late_over_peak(wide, m["run_id"], "li2.gf_norm"),
                         late_peak_ref=_late_over_peak(wide, m["run_id"], "li2.gf_norm_ref"),
                         v_settle=_settle(wide, m["run_id"], "li2.dV_cos", every),
                         w_settle=_settle(wide, m["run_id"], "li2.dW_cos", every),
                         offdiag_max=off.max(), offdiag_init=off[0], ff_max=ff.max()))
    return pd.DataFrame(rows).set_index("run_id")


def _arm(members: pd.DataFrame, wd: float) -> pd.DataFrame:
    return members[np.isclose(members["weight_decay"].astype(float), wd)]


def _verdicts(members: pd.DataFrame, measures: pd.DataFrame, s: dict) -> list[Verdict]:
    setting = f"Z71, K=2048, n=2016, x², class-centred MSE, Adam lr 1e-3, {len(s['seeds'])} seed(s), {s['epochs']} epochs"
    wd, zero = _arm(members, WD[0]), _arm(members, WD[1])
    grok = wd["grok_epoch"].dropna()
    out = [Verdict("wd 2e-4 groks", setting,
                   {"grokked": f"{len(grok)}/{len(wd)}", "median_grok_epoch": _median(grok),
                    "median_memorization_epoch": _median(wd["memorization_epoch"].dropna()),
                    "min_final_test_acc": round(float(wd["final_test_acc"].min()), 4)},
                   "every seed: test accuracy ≥ 0.95 a few hundred epochs after memorization", len(grok) == len(wd)),
           Verdict("wd 0 does not grok", setting,
                   {"grokked": f"{int(zero['grok_epoch'].notna().sum())}/{len(zero)}",
                    "max_final_test_acc": round(float(zero["final_test_acc"].max()), 4), "chance": round(1 / 71, 4)},
                   "no seed groks; test accuracy stays near chance (< 0.1)",
                   bool(zero["grok_epoch"].isna().all() and (zero["final_test_acc"] < 0.1).all()))]
    mw, mz = measures.loc[wd["run_id"]], measures.loc[zero["run_id"]]
    rises = bool((measures["gf_peak"] > 1.5 * measures["gf_initial"]).all())
    out.append(Verdict("‖G_F‖ rises early and stays more elevated with weight decay", setting,
                       {"late_over_peak_wd": _median(mw["late_peak"], 3), "late_over_peak_wd0": _median(mz["late_peak"], 3),
                        "paper_centring_wd_vs_wd0": [_median(mw["late_peak_paper"], 3), _median(mz["late_peak_paper"], 3)],
                        "reference_dF_norm_wd_vs_wd0": [_median(mw["late_peak_ref"], 3), _median(mz["late_peak_ref"], 3)],
                        "median_peak_epoch": {ARM[WD[0]]: _median(mw["gf_peak_epoch"]), ARM[WD[1]]: _median(mz["gf_peak_epoch"])},
                        "peak_over_initial_min": round(float((measures["gf_peak"] / measures["gf_initial"]).min()), 2)},
                       "G_F of the trained (class-centred) loss: peak > 1.5× initial in every run; late/peak ratio "
                       "(late: last 10 % of epochs) larger with wd 2e-4 than with wd 0",
                       rises and float(mw["late_peak"].median()) > float(mz["late_peak"].median())))
    order = list(zip(mw["v_settle"], mw["w_settle"]))
    first = sum(1 for v, w in order if pd.notna(v) and (pd.isna(w) or v < w))  # W never settling counts too
    out.append(Verdict("V's update direction settles before W's (grokking arm)", setting,
                       {"V_settles_first": f"{first}/{len(order)}", "median_V_settle_epoch": _median(pd.Series([v for v, _ in order]).dropna()),
                        "median_W_settle_epoch": _median(pd.Series([w for _, w in order]).dropna()),
                        "tolerance": f"1 − cos ≤ {SETTLE_TOL * s['every'] ** 2:g} for 20 epochs"},
                       "V settles first in most seeds (Stage I is the top layer fitting)", first > len(order) / 2))
    out.append(Verdict("F̃ᵀF̃ stays near-diagonal", setting,
                       {"max_offdiag_ratio": round(float(measures["offdiag_max"].max()), 4),
                        "max_offdiag_ratio_wd0": round(float(mz["offdiag_max"].max()), 4),
                        "offdiag_ratio_at_init": round(float(measures["offdiag_init"].max()), 4),
                        "max_FFt_distance_from_aI+b11T": round(float(measures["ff_max"].max()), 4)},
                       f"mean|off-diag| / mean|diag| ≤ {KERNEL_LIMIT} at every epoch (paper: within ≈ 8 %)", None,
                       "random features start near-diagonal (the ratio at initialisation is already of this size) and "
                       "stay so with and without weight decay: no setting of this reproduction could make it fail"))
    out.append(stage_verdict(list(wd["stages"]), list(wd["grok_epoch"]), list(zero["stages"]), setting))
    return out


def stages_ordered(stages: list) -> bool:
    """The stage verdict's test on one arm: every member has all three onsets, I < II < III."""
    return bool(stages) and all(ordered(st if isinstance(st, dict) else {}) for st in stages)


def stage_verdict(stages: list, grok_epochs: list, control: list, setting: str) -> Verdict:
    """Stages I < II < III in every member of the weight-decay arm (`stages`); `control`: the wd = 0 arm's
    stages, on which the same test must fail (reported beside it)."""
    def onsets(arm):
        return {k: _median(pd.Series([st.get(k) if isinstance(st, dict) else None for st in arm], dtype=float))
                for k in ("I", "II", "III")}

    found = [isinstance(st, dict) and st.get("III") is not None for st in stages]
    before = sum(1 for st, g, f in zip(stages, grok_epochs, found) if f and pd.notna(g) and st["III"] <= g)
    return Verdict("stages I < II < III in the grokking arm", setting,
                   {"ordered": f"{sum(ordered(st if isinstance(st, dict) else {}) for st in stages)}/{len(stages)}",
                    "median_onsets": onsets(stages), "stage_III_at_or_before_grok": f"{before}/{sum(found)}",
                    "control_wd0_ordered": f"{sum(ordered(st if isinstance(st, dict) else {}) for st in control)}/{len(control)}",
                    "control_wd0_passes": stages_ordered(control), "median_onsets_wd0": onsets(control)},
                   "every wd 2e-4 member has all three stages, in order (each onset found on its own); the same "
                   "test fails on the wd 0 arm", stages_ordered(stages))


def _median(values, digits: int = 1):
    values = pd.Series(values, dtype=float).dropna()
    return None if values.empty else round(float(values.median()), digits)


# -- figures --------------------------------------------------------------------------------------

def _median_stages(members: pd.DataFrame, wd: float) -> dict:
    stages = [st for st in _arm(members, wd)["stages"] if isinstance(st, dict)]
    out = {}
    for k in ("I", "II", "III"):
        values = [st[k] for st in stages if st.get(k) is not None]
        if values and len(values) * 2 > len(stages):  # a stage most members reach
            out[k] = float(np.median(values))
    return out


def _shade(ax, stages: dict, last: float, alpha: float = 0.55):
    for name, start, end in stage_intervals(stages, last):
        ax.axvspan(start, end, color=STAGE_COLOURS[name], alpha=alpha, lw=0, zorder=0)


def _stage_handles():
    from matplotlib.patches import Patch

    return [Patch(color=STAGE_COLOURS[k], alpha=0.55, label=STAGE_NAMES[k] + " (wd 2e-4)") for k in ("I", "II", "III")]


def _arm_lines(ax, frame: pd.DataFrame, members: pd.DataFrame, column: str, ls="-", transform=None):
    """Thin line per seed, thick median per arm (over seeds, at the shared epochs); nothing if not stored."""
    if column not in frame:
        return
    for wd in WD:
        ids = list(_arm(members, wd)["run_id"])
        part = frame[frame["run_id"].isin(ids)].dropna(subset=[column])
        values = part[column].to_numpy(dtype=float)
        part = part.assign(v=transform(values) if transform else values)
        for rid in ids:
            rows = part[part["run_id"] == rid].sort_values("epoch")
            thin = len(ids) > 1  # several seeds: thin lines under the median
            ax.plot(rows["epoch"], rows["v"], color=ARM_COLOUR[wd], lw=0.6 if thin else 1.6, alpha=0.35 if thin else 1.0,
                    ls=ls)
        if len(ids) > 1:
            med = part.groupby("epoch")["v"].median()
            ax.plot(med.index, med.values, color=ARM_COLOUR[wd], lw=2, ls=ls)


def _legend_arms(extra=()):
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=ARM_COLOUR[wd], lw=2, label=ARM[wd]) for wd in WD] + list(extra)


def _plain_log_ticks(ax):
    """Log-scale tick labels as plain numbers (30, 0.001) rather than 3×10¹."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))


def _save(ctx, fig, stem: str):
    fig.savefig(ctx.figure_path(stem), dpi=110)


def _curves_figure(ctx, metrics, members, s):
    from matplotlib.lines import Line2D

    last = float(s["epochs"])
    stages = _median_stages(members, WD[0])
    fig = new_figure(12.5, 4.8)
    ax_acc, ax_loss = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for ax in (ax_acc, ax_loss):
        _shade(ax, stages, last)
    _arm_lines(ax_acc, metrics, members, "train_acc", ls="--")
    _arm_lines(ax_acc, metrics, members, "test_acc")
    _arm_lines(ax_loss, metrics, members, "train_loss", ls="--")
    _arm_lines(ax_loss, metrics, members, "test_loss")
    for _, m in members.iterrows():
        colour = ARM_COLOUR[WD[0] if np.isclose(m["weight_decay"], WD[0]) else WD[1]]
        if pd.notna(m.get("memorization_epoch")):
            ax_acc.plot([m["memorization_epoch"]], [1.0], "o", color=colour, mfc="white", ms=7, zorder=5)
        if pd.notna(m.get("grok_epoch")):
            ax_acc.plot([m["grok_epoch"]], [0.95], "*", color=colour, mec="black", mew=0.5, ms=13, zorder=6)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (fraction)", title="Accuracy (train dashed, test solid)",
               xlim=(0, last), ylim=(-0.03, 1.05))
    ax_loss.set(xlabel="epoch", ylabel="class-centred MSE (per sample)", title="Loss (train dashed, test solid)",
                xlim=(0, last), yscale="log")
    marks = [Line2D([], [], color="0.3", marker="o", mfc="white", ls="", label="memorization (train ≥ 0.99)"),
             Line2D([], [], color="0.3", marker="*", ms=11, ls="", label="grok (test ≥ 0.95)")]
    ax_acc.legend(handles=_legend_arms(marks + _stage_handles()), fontsize=8, loc="center right", framealpha=0.9)
    ax_loss.legend(handles=_legend_arms(), fontsize=8, loc="lower left")
    _plain_log_ticks(ax_loss)
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Li2 Fig. 3: Z71, K=2048, Adam lr 1e-3, weight decay 2e-4 vs 0 ({len(s['seeds'])} seed(s); "
                 "stage bands: median onsets of the wd 2e-4 arm)", fontsize=11)
    _save(ctx, fig, "li2_fig3_curves")


def _gradient_figure(ctx, wide, members, measures):
    from matplotlib.lines import Line2D

    last = float(wide["epoch"].max())
    fig = new_figure(12.5, 5.2)
    ax_g, ax_c = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for ax in (ax_g, ax_c):
        _shade(ax, _median_stages(members, WD[0]), last)
    _arm_lines(ax_g, wide, members, GF_KEY)
    _arm_lines(ax_g, wide, members, "li2.gf_norm", ls="--")
    _arm_lines(ax_g, wide, members, "li2.gf_norm_ref", ls=":")
    _arm_lines(ax_c, wide, members, "li2.gf_stage2_cos")
    ax_g.set(xlabel="epoch", ylabel="Frobenius norm (training set, no 1/n)", yscale="log", xlim=(0, last),
             title="Backpropagated gradient ‖G_F‖")
    ax_c.set(xlabel="epoch", ylabel="cosine similarity", xlim=(0, last), ylim=(-0.2, 1.0),
             title="cos(G_F, ỸỸᵀF̃): alignment with the stage-II prediction")
    styles = [Line2D([], [], color="0.3", label="‖(Y − 1/C − ŶP_C)V‖ (the loss trained)"),
              Line2D([], [], color="0.3", ls="--", label="‖P₁⊥(Y − Ŷ)V‖ (paper's centring, Eqn 2)"),
              Line2D([], [], color="0.3", ls=":", label="‖(Y − 1/C − Ŷ)V‖ (reference dF_norm)")]
    fig.legend(handles=_legend_arms(styles + _stage_handles()), fontsize=8, loc="outside lower center", ncol=4)
    _plain_log_ticks(ax_g)
    ax_g.text(0.98, 0.97, "Ŷ's class mean (and its spread over samples), which the\nclass-centred loss ignores,"
              " is left in the dashed and dotted\nnorms; only weight decay shrinks it", transform=ax_g.transAxes,
              ha="right", va="top", fontsize=7.5,
              bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.9))
    for ax in (ax_g, ax_c):
        ax.grid(alpha=0.3)
    ratio = {ARM[wd]: _median(measures.loc[_arm(members, wd)["run_id"], "late_peak"], 3) for wd in WD}
    fig.suptitle(f"‖G_F‖ of the loss trained: late/peak ratio {ratio[ARM[WD[0]]]} with wd 2e-4 vs "
                 f"{ratio[ARM[WD[1]]]} with wd 0 (late: last 10 % of epochs)", fontsize=11)
    _save(ctx, fig, "li2_fig3_gradient")


def _update_figure(ctx, wide, members, every):
    from matplotlib.lines import Line2D

    last = float(wide["epoch"].max())
    fig = new_figure(12.5, 5.0)
    axes = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    dist = 1 - wide[[k for k in ("li2.dV_cos", "li2.dW_cos") if k in wide]].to_numpy(dtype=float)
    positive = dist[np.isfinite(dist) & (dist > 0)]
    # the log axis starts a little below the smallest distance (round-off-level values sit on the floor)
    floor = max(1e-7, 10 ** np.floor(np.log10(positive.min())) if positive.size else 1e-7)
    for ax, key, name in zip(axes, ("li2.dV_cos", "li2.dW_cos"), ("top layer V", "first layer W")):
        _shade(ax, _median_stages(members, WD[0]), last)
        _arm_lines(ax, wide, members, key, transform=lambda c: np.clip(1 - c, floor, None))
        ax.axhline(SETTLE_TOL * every**2, color="0.3", ls="--", lw=1)
        ax.set(xlabel="epoch", ylabel="cosine distance 1 − cos(Δ_t, Δ_t+1)", yscale="log", xlim=(0, last),
               ylim=(floor, 2.5), title=f"Consecutive updates of {name}")
        ax.grid(alpha=0.3)
    tol = Line2D([], [], color="0.3", ls="--", label=f"'settled' (≤ {SETTLE_TOL * every ** 2:g})")
    fig.legend(handles=_legend_arms([tol] + _stage_handles()), fontsize=8, loc="outside lower center", ncol=6)
    step = "consecutive steps" if every == 1 else f"consecutive {every}-epoch displacements"
    fig.suptitle(f"Cosine distance between consecutive updates ({step}); low = the update direction has settled",
                 fontsize=11)
    _save(ctx, fig, "li2_fig3_updates")


def _kernel_figure(ctx, wide, members):
    from matplotlib.lines import Line2D

    last = float(wide["epoch"].max())
    fig = new_figure(12.5, 5.0)
    ax_k, ax_f = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2)
    ax_p = fig.add_subplot(1, 3, 3)
    for ax in (ax_k, ax_f, ax_p):
        _shade(ax, _median_stages(members, WD[0]), last)
        ax.grid(alpha=0.3)
    _arm_lines(ax_k, wide, members, "li2.kernel_offdiag")
    ax_k.axhline(KERNEL_LIMIT, color="0.3", ls="--", lw=1)
    ax_k.set(xlabel="epoch", ylabel="mean |off-diag| / mean |diag|", xlim=(0, last), ylim=(0, 0.12),
             title="F̃ᵀF̃ (256 sampled nodes)")
    _arm_lines(ax_f, wide, members, "li2.ff_ideal_dist")
    ax_f.axhline(KERNEL_LIMIT, color="0.3", ls="--", lw=1)
    ax_f.set(xlabel="epoch", ylabel="relative Frobenius distance", xlim=(0, last), ylim=(0, None),
             title="FFᵀ vs best aI + b11ᵀ (256 sampled rows)")
    _arm_lines(ax_p, wide, members, "li2.purity")
    _arm_lines(ax_p, wide, members, "li2.coverage", ls="--")
    ax_p.set(xlabel="epoch", ylabel="fraction", xlim=(0, last), ylim=(0, 1.02),
             title="Features: purity (solid), coverage (dashed)")
    paper = Line2D([], [], color="0.3", ls="--", label="8 % (paper's bound)")
    fig.legend(handles=_legend_arms([paper] + _stage_handles()), fontsize=8, loc="outside lower center", ncol=6)
    fig.suptitle("Kernel structure behind the independence approximation, and the features' irrep purity "
                 "(coverage: frequencies held by an active node with purity ≥ 0.8)", fontsize=10)
    _save(ctx, fig, "li2_fig3_kernels")
