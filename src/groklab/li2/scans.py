"""Scans of the Li₂ closed forms over one parameter: the curves the theory predicts.

    gf_eta_scan            ‖G_F(∞)‖ over the ridge coefficient η and its alignment with ỸỸᵀF̃ (Eqn 4, Lemma 1)
    random_nodes           unit-norm Gaussian first-layer rows (the memorising / lazy baseline)
    reconstruction_curve   least-squares residual ‖F̃V − Ỹ‖/‖Ỹ‖ over the number of nodes K (Thm 3)
    random_energies        E(w) of random unit vectors, to compare with the maxima (Thm 2)
    critical_ratio_theorem p* with Thm 4's d_max² degree scaling (the reference code uses d_max/2)

Pure functions of tensors (plus a group or a seed); conventions as in `groklab.li2.theory`
(F [n, K], Y [n, C], sample-centred) and `groklab.li2.energy` (definition-as-written energies).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch
from scipy import linalg

from groklab.errors import GroklabError
from groklab.li2.energy import energy
from groklab.li2.theory import _prepare, cosine, node_features, stage2_signal
from groklab.tasks.splits import CRITICAL_RATIO_C


def gf_eta_scan(F, Y, etas: Iterable[float], centre: bool = True) -> dict:
    """G_F(∞) of Eqn 4 at each η (V = V_ridge): its norm, its cosine with the Stage II signal
    ỸỸᵀF̃, and how linear the norm is in η.

    Lemma 1: G_F(∞) ≈ η/((Kc₁+η)(nc₂+η)) · ỸỸᵀF̃, so for η small against the kernel's eigenvalues the
    norm grows linearly in η (η is the learning rate of feature learning) and the direction is the
    signal's. `linearity` is ‖G_F(η)‖/η divided by the same ratio at the smallest η (1 while linear;
    it falls once η reaches the spectrum of F̃ᵀF̃). The thin SVD of F̃ is computed once.

    Returns {"eta": [E], "norm": [E], "cosine": [E], "linearity": [E]} as float64 numpy arrays,
    sorted by η; every η must be > 0.
    """
    etas = np.sort(np.asarray(list(etas), dtype=np.float64))
    if etas.size == 0 or not (etas > 0).all():
        raise GroklabError(f"etas must be positive ridge coefficients, got {etas.tolist()}")
    Ft, Yt = _prepare(F, Y, centre)
    U, s, Rh = torch.linalg.svd(Ft, full_matrices=False)
    UtY = U.mH @ Yt
    signal = stage2_signal(Ft, Yt, centre=False)
    norms, cosines = [], []
    for eta in etas:
        V = Rh.mH @ ((s / (s * s + eta)).to(U.dtype)[:, None] * UtY)
        G = (Yt - Ft @ V) @ V.mH
        norms.append(float(G.norm()))
        cosines.append(cosine(G, signal))
    norms = np.asarray(norms)
    slope = norms / etas
    return {"eta": etas, "norm": norms, "cosine": np.asarray(cosines), "linearity": slope / slope[0]}


def random_nodes(num_values: int, K: int, arity: int = 2, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """K unit-norm rows W [K, arity·M] with i.i.d. Gaussian entries (seeded, drawn on the CPU)."""
    if int(K) < 1 or int(num_values) < 1:
        raise GroklabError(f"need K ≥ 1 nodes over M ≥ 1 values, got K={K}, M={num_values}")
    gen = torch.Generator().manual_seed(int(seed))
    W = torch.randn(int(K), int(arity) * int(num_values), generator=gen, dtype=dtype)
    return W / W.norm(dim=1, keepdim=True)


def reconstruction_curve(W, idx, labels, num_classes: int, Ks: Iterable[int], activation: str = "sqr",
                         centre: bool = True) -> np.ndarray:
    """Relative residual ‖F̃V − Ỹ‖/‖Ỹ‖ of the least-squares top layer (η = 0) on the first K rows of
    W, for each K in Ks (Thm 3's capacity question: how many of these nodes reconstruct the table).

    W [K_max, arity·M] real or complex (complex needs σ = x²); idx [n, arity], labels [n] the data.
    Returns a float64 array aligned with Ks.
    """
    Ks = [int(k) for k in Ks]
    W = torch.as_tensor(W)
    if not Ks or min(Ks) < 1 or max(Ks) > W.shape[0]:
        raise GroklabError(f"every K must lie in 1..{W.shape[0]} (the rows of W), got {Ks}")
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels).long()
    F = node_features(W, idx, activation)
    Y = torch.nn.functional.one_hot(labels, int(num_classes)).to(torch.float64)
    Ft, Yt = _prepare(F, Y, centre)
    Fn, Yn = Ft.numpy(), Yt.to(Ft.dtype).numpy()
    norm_y = float(np.linalg.norm(Yn))
    out = []
    for k in Ks:
        # Complete orthogonal factorisation (LAPACK gelsy) rather than an SVD: these feature matrices
        # are exactly rank-deficient with many repeated singular values, on which gesdd can fail to
        # converge (it did for the real Fourier nodes of Z127); gelsy has no iteration to fail.
        V = linalg.lstsq(Fn[:, :k], Yn, lapack_driver="gelsy")[0]
        out.append(float(np.linalg.norm(Fn[:, :k] @ V - Yn)) / norm_y)
    return np.asarray(out)


def random_energies(idx, labels, num_classes: int, count: int = 1000, seed: int = 0, activation: str = "sqr",
                    num_values: int | None = None) -> torch.Tensor:
    """E(w) (definition as written) of `count` random unit vectors w ~ N(0, I)/‖·‖ on a dataset: the
    baseline that Thm 2's maxima (M/4 per Z_M frequency on full data) are measured against."""
    idx_t = torch.as_tensor(np.asarray(idx) if not isinstance(idx, torch.Tensor) else idx)
    arity = 1 if idx_t.ndim == 1 else idx_t.shape[1]
    m = int(num_classes if num_values is None else num_values)
    W = random_nodes(m, count, arity, seed)
    return energy(W, idx, labels, num_classes, activation)


def critical_ratio_theorem(order: int, d_max: int = 1, c: float = CRITICAL_RATIO_C) -> float:
    """p* = corr·c·ln M/M with Thm 4's degree dependence n ≳ d_k²·M·log M, normalised to agree with
    the reference's linear corr = d_max/2 at d_max = 2 (Fig. 5's non-abelian groups): corr = d_max²/4
    for d_max > 1, 1 for abelian groups. The two differ from d_max = 3 on (docs/li2-quantities.md#critical-data-ratio)."""
    order, d_max = int(order), int(d_max)
    if order < 2 or d_max < 1:
        raise GroklabError(f"need a group order ≥ 2 and a largest irrep degree ≥ 1, got {order}, {d_max}")
    corr = 1.0 if d_max == 1 else d_max * d_max / 4
    return corr * c * math.log(order) / order


__all__ = ["gf_eta_scan", "random_nodes", "reconstruction_curve", "random_energies", "critical_ratio_theorem"]
