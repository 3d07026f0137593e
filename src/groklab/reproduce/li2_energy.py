"""li2-energy — Thm 2 / Cor 2 / Thm 5: the maxima of the energy E(w) are the features.

No training: batched projected gradient ascent of E(w) = ½‖Ỹᵀσ(Xw)‖² on the unit sphere from random
starts (σ = x², sample-centred Ỹ), then a census of the converged maxima by dominant irrep.
Energies are the definition as written (docs/li2-quantities.md#energy-normalisation): Z_M full data
gives M/4 per complex frequency and M/2 for k = M/2 — the paper's M/16 and M/8 times 4.

Checks: on the full Z_M table every maximum is one frequency with the closed-form energy and
‖u‖ = ‖v‖ = 1/√2; random unit vectors score far lower; for a non-abelian group every maximum lies in
one isotypic subspace with Thm 2's value M/(2d_k) (real) or M/(4d_k) (complex/quaternionic); with
data below the critical ratio p* the maxima are memorising (not single-irrep) and out-score every
Fourier direction, while above p* Fourier starts stay Fourier; Thm 5's single-target data give the
focused optimum for x² and the spread optimum (∝ p_g) for ReLU.
Quick: Z11, Z12, S4, Z23 at 15 % / 90 % of pairs, Thm 5 on Z11. Full: Z23, Z71, Z72, S4, A5, Z71 at
5 % / 90 % (at 60 % the Fourier starts keep only ≈ 94 % purity), Thm 5 on Z23 and D22.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter

from groklab.groups import get_group, real_irrep_groups
from groklab.li2 import (
    ascend_energy,
    ascend_memorization,
    census,
    closed_form_energy,
    critical_ratio,
    fourier_vector,
    full_data,
    isotypic_maximum,
    memorization_data,
    memorization_shape,
)
from groklab.li2.scans import random_energies
from groklab.report.plots import colours, new_figure
from groklab.reproduce import Verdict
from groklab.tasks import split_rows

CLAIM = "Thm 2 / Cor 2: the local maxima of E are single irreps with the closed-form energy; below p* memorising maxima win"

PURE = 0.99


def _maxima(group, starts, seed):
    idx, labels = full_data(group)
    res = ascend_energy(idx, labels, group.order, starts=starts, seed=seed)
    c = census(res.w, group, res.energy, res.converged)
    closed = torch.tensor([closed_form_energy(group, lab) for lab in c["label"]], dtype=torch.float64)
    rand = random_energies(idx, labels, group.order, count=2000, seed=seed + 1)
    return res, c, closed, rand


def run(ctx) -> list[Verdict]:
    cyclic = (11, 12) if ctx.quick else (23, 71, 72)
    nonabelian = ("S4",) if ctx.quick else ("S4", "A5")
    starts = 64 if ctx.quick else 256
    mem_order, low, high = (23, 0.15, 0.9) if ctx.quick else (71, 0.05, 0.9)
    thm5_groups = ("Z11",) if ctx.quick else ("Z23", "D22")

    zm = {}
    for M in cyclic:
        ctx.echo(f"  Z{M}: ascent from {starts} random starts on the full table")
        zm[M] = _maxima(get_group(f"Z{M}"), starts, seed=M)
    na = {}
    for name in nonabelian:
        ctx.echo(f"  {name}: ascent from {starts} random starts")
        na[name] = _maxima(get_group(name), starts, seed=7)

    ctx.echo(f"  Z{mem_order}: ascent on {low:.0%} and {high:.0%} of the pairs (p* = {critical_ratio(mem_order):.3f})")
    mem = _memorisation(mem_order, low, high, starts=32 if ctx.quick else 64)
    ctx.echo("  Thm 5: single-target data, x² vs ReLU")
    thm5 = {name: _thm5(get_group(name)) for name in thm5_groups}

    _maxima_figure(ctx, zm, na)
    _memorisation_figure(ctx, mem, thm5)
    return _verdicts(zm, na, mem, thm5, mem_order, low, high)


def _memorisation(M, low, high, starts):
    group = get_group(f"Z{M}")
    idx, labels = full_data(group)
    out = {}
    init = torch.stack([fourier_vector(M, k, 0.5) for k in range(1, M // 2 + 1)])
    for frac in (low, high):
        rows = torch.from_numpy(split_rows(M * M, seed=0, train_fraction=frac).train)
        i2, l2 = idx[rows], labels[rows]
        res = ascend_energy(i2, l2, M, starts=starts, seed=1)
        c = census(res.w, group, res.energy, res.converged)
        from_fourier = ascend_energy(i2, l2, M, init=init)
        purity = census(from_fourier.w, group)["purity"]
        if frac == low:  # Fourier starts leave their frequency here: search each irrep's subspace instead
            best = max(isotypic_maximum(group, ri.label, i2, l2, starts=4) for ri in real_irrep_groups(group)[1:])
        else:  # Fourier starts stay (nearly) single-frequency: their best energy is the best Fourier energy
            best = float(from_fourier.energy.max())
        out[frac] = dict(res=res, census=c, best_fourier=best, fourier_start_purity=purity, n=len(rows))
    return out


def _thm5(group):
    M = group.order
    p = np.random.default_rng(0).uniform(0.5, 1.5, M)
    data = memorization_data(group, 1 % M, p)
    sq = ascend_memorization(data, "sqr", starts=16, seed=0)
    init = torch.rand(16, 2 * M, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    relu = ascend_memorization(data, "relu", init=init)  # positive starts: no node begins dead
    return dict(p=p / p.sum(), sqr=memorization_shape(sq.w, data), relu=memorization_shape(relu.w, data),
                converged=bool(sq.converged.all() and relu.converged.all()), argmax=int(np.argmax(p)))


def _verdicts(zm, na, mem, thm5, mem_order, low, high) -> list[Verdict]:
    out = []
    conv = {M: int(r[0].converged.sum()) for M, r in zm.items()}
    pure_ok, energy_err, found = {}, {}, {}
    for M, (res, c, closed, _) in zm.items():
        k = res.converged
        pure_ok[M] = float(c["purity"][k].min())
        energy_err[M] = float(((res.energy[k] - closed[k]).abs() / closed[k]).max())
        found[M] = sorted(set(c["summary"]) - {"mixed"}, key=lambda s: int(s.split("=")[1]))
    out.append(Verdict(
        "full Z_M data: every maximum is a single frequency with the closed-form energy",
        f"Z_M, M ∈ {list(zm)}, σ = x², projected ascent on ‖w‖ = 1 (energy as written; paper ÷ 4)",
        {f"Z{M}": {"converged": f"{conv[M]}/{len(zm[M][0].energy)}", "min purity": round(pure_ok[M], 6),
                   "max |E − E*|/E*": f"{energy_err[M]:.1e}", "frequencies found": len(found[M])} for M in zm},
        "purity > 0.99; E* = M/4 (paper M/16), M/2 for k = M/2 (paper M/8), within 1e-6",
        all(pure_ok[M] > PURE and energy_err[M] < 1e-6 and conv[M] >= 0.9 * len(zm[M][0].energy) for M in zm)))
    norms = {M: float((zm[M][1]["block_norms"][zm[M][0].converged] - 2**-0.5).abs().max()) for M in zm}
    out.append(Verdict("the operand blocks of a maximum have equal norms ‖u‖ = ‖v‖ = 1/√2", "same maxima",
                       {f"Z{M}": f"{d:.1e}" for M, d in norms.items()}, "max deviation < 1e-4",
                       all(d < 1e-4 for d in norms.values())))
    ratio = {M: (float(r[3].quantile(0.99)) / float(r[2].min()), float(r[3].mean()) / float(r[2].min()))
             for M, r in zm.items()}
    out.append(Verdict("random unit vectors score far below the maxima", "2000 Gaussian unit vectors per group",
                       {f"Z{M}": {"99th percentile E_random / min E*": round(a, 3), "mean E_random / min E*": round(b, 3)}
                        for M, (a, b) in ratio.items()},
                       "99th percentile < 0.5 and mean < 0.25 of the smallest maximum",
                       all(a < 0.5 and b < 0.25 for a, b in ratio.values())))
    na_stats = {}
    for name, (res, c, closed, _) in na.items():
        k = res.converged
        na_stats[name] = {"converged": f"{int(k.sum())}/{len(k)}", "min purity": round(float(c["purity"][k].min()), 6),
                          "max |E − E*|/E*": f"{float(((res.energy[k] - closed[k]).abs() / closed[k]).max()):.1e}",
                          "irreps found": sorted(set(c["summary"]) - {"mixed"})}
    out.append(Verdict(
        "non-abelian group: every maximum lies in one isotypic subspace with Thm 2's energy",
        f"{', '.join(na)}, full table, σ = x²",
        na_stats, "purity > 0.99; E* = M/(2d_k) real, M/(4d_k) complex or quaternionic (paper ÷ 4), within 1e-6",
        all(float(na[n][1]["purity"][na[n][0].converged].min()) > PURE
            and float(na_stats[n]["max |E − E*|/E*"]) < 1e-6 and na[n][0].converged.float().mean() >= 0.9 for n in na)))
    lo, hi = mem[low], mem[high]
    k = lo["res"].converged
    lo_pur, lo_e = float(lo["census"]["purity"][k].max()), float(lo["res"].energy[k].min())
    out.append(Verdict(
        "below the critical ratio the maxima memorise: not single-frequency, and above every Fourier energy",
        f"Z{mem_order}, {lo['n']} of {mem_order ** 2} pairs (p = {low} < p* = {critical_ratio(mem_order):.3f})",
        {"max purity of maxima": round(lo_pur, 3), "min E of maxima": round(lo_e, 3),
         "best Fourier E on this data": round(lo["best_fourier"], 3), "converged": f"{int(k.sum())}/{len(k)}"},
        "max purity < 0.5 and every maximum's E > best Fourier E",
        lo_pur < 0.5 and lo_e > lo["best_fourier"] and int(k.sum()) >= 0.9 * len(k)))
    out.append(Verdict(
        "Fourier starts are destroyed below p* and kept above it",
        f"Z{mem_order}, ascent from the {len(hi['fourier_start_purity'])} frequency vectors at p = {low} and p = {high}",
        {f"p = {low}: max purity": round(float(lo["fourier_start_purity"].max()), 3),
         f"p = {high}: min purity": round(float(hi["fourier_start_purity"].min()), 3)},
        f"< 0.5 at p = {low}; > 0.95 at p = {high}",
        float(lo["fourier_start_purity"].max()) < 0.5 and float(hi["fourier_start_purity"].min()) > 0.95))
    t5 = {n: {"x² focus (min)": round(float(t["sqr"]["focus"].min()), 4),
              "x² at argmax p": bool((t["sqr"]["argmax"] == t["argmax"]).all()),
              "ReLU cos(s, p) (min)": round(float(t["relu"]["p_cosine"].min()), 5),
              "ReLU focus (max)": round(float(t["relu"]["focus"].max()), 3)} for n, t in thm5.items()}
    out.append(Verdict(
        "Thm 5: memorisation is focused for x² and spread (s_g ∝ p_g) for ReLU",
        f"{', '.join(thm5)}: rows (g, g⁻¹h) of one target h with random probabilities p_g",
        t5, "x² focus > 0.999 at g* = argmax p; ReLU cos(s, p) > 0.999 with focus < 0.5",
        all(t["converged"] and float(t["sqr"]["focus"].min()) > 0.999 and bool((t["sqr"]["argmax"] == t["argmax"]).all())
            and float(t["relu"]["p_cosine"].min()) > 0.999 and float(t["relu"]["focus"].max()) < 0.5
            for t in thm5.values())))
    return out


def _maxima_figure(ctx, zm, na) -> None:
    fig = new_figure(15, 4.8)
    ax, bx, cx = fig.subplots(1, 3, width_ratios=[1.1, 1.3, 1])
    cols = colours(len(zm))
    for i, (M, (res, c, closed, rand)) in enumerate(zm.items()):
        bins = np.geomspace(max(1e-3, float(rand.min())), M, 50)
        ax.hist(rand.numpy(), bins=bins, color=cols[i], alpha=0.35, label=f"Z{M}: 2000 random unit vectors")
        ax.hist(res.energy.numpy(), bins=bins, color=cols[i], histtype="step", lw=2,
                label=f"Z{M}: {len(res.energy)} ascent maxima")
        for e in sorted(set(closed.tolist())):
            ax.axvline(e, color=cols[i], ls="--", lw=1)
    ax.set_xscale("log")
    ax.set(xlabel="energy E(w) (definition as written; dashed: M/4, M/2)", ylabel="vectors (count)",
           title="Maxima vs random directions (full Z_M table)")
    ax.legend(fontsize=7, loc="upper left")
    M = max(m for m in zm if m % 2)  # the largest odd order: every frequency is a complex pair
    c = zm[M][1]
    labels = [f"k={k}" for k in range(1, M // 2 + 1)]
    counts = [c["summary"].get(lab, 0) for lab in labels]
    bx.bar(range(len(labels)), counts, color=cols[list(zm).index(M)])
    bx.set_xticks(range(len(labels)), [lab[2:] for lab in labels], fontsize=7)
    bx.set(xlabel=f"frequency k of the maximum (Z{M})", ylabel="maxima (count)",
           title=f"Census: every one of {len(zm[M][0].energy)} starts ends at one frequency")
    start = 0
    for j, (name, (res, cc, closed, _)) in enumerate(na.items()):
        colour = colours(len(na))[j]
        names = cc["irrep_labels"][1:]  # the trivial irrep has no maximum (E = 0)
        xs = start + np.arange(len(names))
        e_by = [res.energy[[lab == n for lab in cc["label"]]].numpy() for n in names]
        for x, e in zip(xs, e_by):
            cx.plot(np.full(len(e), x), e, "o", color=colour, alpha=0.5, ms=4)
        cx.plot(xs, [closed_form_energy(get_group(name), n) for n in names], "_", color="#c44e52", ms=18, mew=2.5)
        for x, n, e in zip(xs, names, e_by):
            cx.annotate(f"{n}\n×{len(e)}", (x, 0), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
        cx.plot([], [], "o", color=colour, label=f"{name}: ascent maxima (one dot each)")
        start += len(names) + 1
    cx.plot([], [], "_", color="#c44e52", ms=14, mew=2.5, label="Thm 2: M/(2d) real, M/(4d) complex")
    cx.set_ylim(bottom=0)
    cx.set_xticks([])
    cx.set(xlabel=f"irrep of the maximum ({', '.join(na)}; label × count)", ylabel="energy E(w)",
           title="Non-abelian: one isotypic subspace each")
    cx.legend(fontsize=7, loc="upper right")
    fig.suptitle("Li2 Thm 2 / Cor 2: local maxima of E(w) = ½‖Ỹᵀσ(Xw)‖² (σ = x², ‖w‖ = 1)")
    fig.savefig(ctx.figure_path("li2_energy_maxima"))


def _memorisation_figure(ctx, mem, thm5) -> None:
    fig = new_figure(13, 4.8)
    ax, bx = fig.subplots(1, 2)
    for (frac, m), col in zip(mem.items(), colours(2)):
        c, res = m["census"], m["res"]
        ax.plot(c["purity"].numpy(), res.energy.numpy(), "o", color=col, alpha=0.7, ms=4,
                label=f"p = {frac}: ascent maxima ({m['n']} pairs)")
        how = "" if frac == min(mem) else " (from Fourier starts)"
        ax.axhline(m["best_fourier"], color=col, ls="--", lw=1.2, label=f"p = {frac}: best single-frequency E{how}")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if _leading_digit(v) in (2, 5) else ""))
    ax.set(xlabel="purity of the maximum (power share of its dominant frequency)", ylabel="energy E(w) on the subset",
           title="Below p* the maxima are memorising and out-score Fourier")
    ax.legend(fontsize=8, loc="best")
    name, t = next(iter(thm5.items()))
    order = np.argsort(t["p"])
    g = np.arange(len(order))
    for key, col, lab in (("sqr", "#c44e52", "σ = x²: focused on g* = argmax p"),
                          ("relu", "#4c72b0", "ReLU: spread, s_g ∝ p_g")):
        s = t[key]["pair_sums"][0].numpy()
        bx.plot(g, (np.abs(s) / np.abs(s).max())[order], "o-", color=col, ms=4, label=lab)
    bx.plot(g, (t["p"] / t["p"].max())[order], "k:", label="p_g (scaled to max 1)")
    bx.set(xlabel=f"element g of {name}, sorted by its probability p_g",
           ylabel="|pair sum| |u_g + v_{g⁻¹h}| (scaled to max 1)",
           title="Thm 5 on single-target data: optimum shapes")
    bx.legend(fontsize=8, loc="upper left")
    fig.suptitle("Li2 Thm 5: memorising maxima of the energy")
    fig.savefig(ctx.figure_path("li2_energy_memorisation"))


def _leading_digit(v: float) -> int:
    return int(round(v / 10 ** np.floor(np.log10(v)))) if v > 0 else 0
