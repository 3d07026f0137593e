"""li2-reconstruction — Thm 3: 2M−2 Fourier nodes reconstruct Ỹ exactly (complex domain); fewer fail.

No training: the first layer is set to Thm 3's nodes and the top layer is the least-squares solution
(η = 0) on the full M² table with σ = x², sample-centred targets. Measured: the relative residual
‖F̃V − Ỹ‖/‖Ỹ‖ as the number of nodes K grows, for
  - complex Fourier nodes u = e^{ikωx}, v = ±u (k = 1..M−1, in ± pairs; `fourier_nodes`),
  - real Fourier nodes (three phase pairs per frequency; `fourier_nodes(complex=False)`),
  - generic random unit nodes (the memorisation baseline: Thm 3 says about M² nodes),
  - irrep nodes of non-abelian groups (2Σ_k d_k³ of them; `irrep_nodes`).
Quick: Z11, Z23, random nodes on Z11, D10. Full: Z23, Z71, Z127, random nodes on Z23, S4, D22, Dic12.
"""

from __future__ import annotations

import numpy as np

from groklab.groups import get_group
from groklab.li2 import fourier_nodes, full_data, irrep_nodes
from groklab.li2.scans import random_nodes, reconstruction_curve
from groklab.reproduce import Verdict
from groklab.report.plots import colours, new_figure

CLAIM = "Thm 3: 2M−2 Fourier nodes reconstruct the centred targets exactly (complex weights); fewer do not"

EXACT = 1e-8  # residual at round-off level
FAIL = 1e-3  # five orders above round-off: the reconstruction is not exact
LARGE = 0.1  # a residual this large is far from any reconstruction


def _grid(k_max: int, step: int, points: int = 40, keep=()) -> list[int]:
    """K values 1..k_max in multiples of `step` (whole ± pairs), about `points` of them, always with
    the last three and the values in `keep` (the node counts the verdicts read)."""
    ks = list(range(step, k_max + 1, step))
    stride = max(1, len(ks) // points)
    return sorted(set(ks[::stride]) | set(ks[-3:]) | {k for k in keep if k <= k_max})


def run(ctx) -> list[Verdict]:
    orders = (11, 23) if ctx.quick else (23, 71, 127)
    nonabelian = ("D10",) if ctx.quick else ("S4", "D22", "Dic12")
    curves = residual_curves(orders, orders[0], nonabelian, ctx.echo)
    _figure(ctx, curves, orders, orders[0], nonabelian)
    return verdicts(curves, orders, orders[0], nonabelian)


def residual_curves(orders, random_order: int, nonabelian, echo=lambda s: None) -> dict:
    """{(kind, group key): (K values, relative residuals)} for complex and real Fourier nodes of every Z_M in
    `orders`, random nodes of Z_{random_order} and irrep nodes of the `nonabelian` groups."""
    curves = {}
    for M in orders:
        group = get_group(f"Z{M}")
        idx, labels = full_data(group)
        echo(f"  Z{M}: complex and real Fourier nodes")
        ks = _grid(2 * M - 2, 2, keep=(2 * M - 4,))
        curves[("complex", M)] = (ks, reconstruction_curve(fourier_nodes(M), idx, labels, M, ks))
        real = fourier_nodes(M, complex=False)
        kr = _grid(real.shape[0], 2, keep=(2 * M - 2,))
        curves[("real", M)] = (kr, reconstruction_curve(real, idx, labels, M, kr))
        if M == random_order:
            echo(f"  Z{M}: random nodes up to M² + M")
            kn = _grid(M * M + M, 1, keep=(2 * M - 2, M * M - 2, M * M - 1))
            curves[("random", M)] = (kn, reconstruction_curve(random_nodes(M, max(kn), seed=0), idx, labels, M, kn))
    for name in nonabelian:
        group = get_group(name)
        idx, labels = full_data(group)
        W = irrep_nodes(group)
        ks = _grid(W.shape[0], 2)
        echo(f"  {name}: {W.shape[0]} irrep nodes")
        curves[("irrep", name)] = (ks, reconstruction_curve(W, idx, labels, group.order, ks))
    return curves


def verdicts(curves: dict, orders, random_order: int, nonabelian) -> list[Verdict]:
    """The five verdicts from the residual curves (`residual_curves`)."""
    def at(kind, key, k):
        ks, res = curves[(kind, key)]
        return float(res[ks.index(k)])

    full = {M: at("complex", M, 2 * M - 2) for M in orders}
    short = {M: at("complex", M, 2 * M - 4) for M in orders}
    real_short = {M: at("real", M, 2 * M - 2) for M in orders}
    real_full = {M: at("real", M, curves[("real", M)][0][-1]) for M in orders}
    rk, rres = curves[("random", random_order)]
    random_exact_k = next((k for k, r in zip(rk, rres) if r < 1e-6), None)
    irr_full = {n: float(curves[("irrep", n)][1][-1]) for n in nonabelian}
    irr_short = {n: float(curves[("irrep", n)][1][-2]) for n in nonabelian}
    predicted_short = {M: float(np.sqrt(1 / (M - 1))) for M in orders}  # one of M−1 frequencies missing
    M0 = random_order
    return [
        Verdict("2M−2 complex Fourier nodes reconstruct Ỹ exactly",
                f"Z_M, M ∈ {list(orders)}, full table, σ = x², least-squares top layer (η = 0)",
                {f"Z{M}": f"{r:.1e}" for M, r in full.items()}, f"relative residual < {EXACT:g}",
                all(r < EXACT for r in full.values())),
        Verdict("with one ± pair fewer (2M−4 nodes) the reconstruction fails",
                "same; the missing frequency stays unexplained",
                {f"Z{M}": round(r, 4) for M, r in short.items()},
                {f"Z{M}": f"√(1/(M−1)) = {p:.4f}: one of M−1 frequencies unexplained (> {FAIL:g})"
                 for M, p in predicted_short.items()},
                all(r > FAIL and abs(r - predicted_short[M]) < 1e-6 for M, r in short.items())),
        Verdict("exactness is a complex-domain statement: 2M−2 real nodes fail, real nodes need 3(M−1)",
                "real Fourier nodes cos(kωx+φ), three phase pairs per frequency",
                {f"Z{M}": {"2M−2": round(real_short[M], 3), "3(M−1)": f"{real_full[M]:.1e}"} for M in orders},
                f"2M−2 real: residual > {LARGE:g}; 3(M−1) real: < {EXACT:g}",
                all(real_short[M] > LARGE and real_full[M] < EXACT for M in orders)),
        Verdict("generic (random) nodes need ≈ M² − 1 to reconstruct: memorisation, not features",
                f"Z{M0}, unit Gaussian nodes, first K of {max(rk)}",
                {"residual at 2M−2": round(at('random', M0, 2 * M0 - 2), 3), "smallest exact K": random_exact_k},
                f"residual > 0.5 at 2M−2 = {2 * M0 - 2}; exact first at M² − 1 = {M0 * M0 - 1}",
                at("random", M0, 2 * M0 - 2) > 0.5 and random_exact_k == M0 * M0 - 1),
        Verdict("non-abelian groups: the 2Σd_k³ irrep nodes reconstruct exactly, one ± pair fewer fails",
                f"{', '.join(nonabelian)}, complex irrep nodes (ρ_k(a)_ij, ±ρ_k(b)_jl)",
                {n: {"all": f"{irr_full[n]:.1e}", "one pair fewer": round(irr_short[n], 4)} for n in nonabelian},
                f"all: < {EXACT:g}; one pair fewer: > {FAIL:g}",
                all(irr_full[n] < EXACT and irr_short[n] > FAIL for n in nonabelian)),
    ]


def _figure(ctx, curves, orders, random_order, nonabelian) -> None:
    fig = new_figure(13, 4.8)
    ax, bx = fig.subplots(1, 2)
    floor = 1e-16  # plotted residuals are clipped here so round-off zeros stay on the log axis
    cols = colours(len(orders) + 1)
    for c, M in zip(cols, orders):
        for kind, style in (("complex", "-"), ("real", "--")):
            ks, res = curves[(kind, M)]
            ax.plot(ks, np.maximum(res, floor), style, color=c, lw=1.6,
                    label=f"Z{M}, {kind} Fourier nodes")
        ax.axvline(2 * M - 2, color=c, lw=0.8, ls=":")
    ks, res = curves[("random", random_order)]
    ax.plot(ks, np.maximum(res, floor), "-.", color=cols[-1], lw=1.6, label=f"Z{random_order}, random unit nodes")
    ax.axvline(random_order**2 - 1, color=cols[-1], lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="hidden nodes K (count; dotted: 2M−2 per group, M²−1 for random)",
           ylabel="relative residual ‖F̃V − Ỹ‖/‖Ỹ‖",
           title="Cyclic groups: exact at K = 2M−2 only with complex Fourier nodes")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left")
    for c, name in zip(colours(len(nonabelian)), nonabelian):
        ks, res = curves[("irrep", name)]
        bx.plot(ks, np.maximum(res, floor), "-o", ms=3, color=c, label=f"{name}: {ks[-1]} irrep nodes")
    bx.set_yscale("log")
    bx.set(xlabel="hidden nodes K (count, whole ± pairs)", ylabel="relative residual ‖F̃V − Ỹ‖/‖Ỹ‖",
           title="Non-abelian groups: irrep nodes (complex)")
    bx.grid(alpha=0.3, which="both")
    bx.legend(fontsize=8, loc="lower left")
    fig.suptitle("Li2 Thm 3: reconstruction capacity of Fourier / irrep features (σ = x², least-squares top layer)")
    fig.savefig(ctx.figure_path("li2_reconstruction"))
