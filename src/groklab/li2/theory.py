"""Li₂ closed-form predictions: ridge top layer and G_F(∞) (Eqn 4, Lemma 1), reconstruction
capacity (Thm 3), the critical data ratio (Thm 4) and the coupon-collector model of Muon (Thm 8).

Conventions: F [n, K] hidden features, Y [n, C] one-hot targets; F̃ = P₁⊥F and Ỹ = P₁⊥Y are centred
along the sample axis (the paper's loss; docs/li2-quantities.md#notation). Everything is pure and takes/returns torch
tensors (or floats and dicts); n×n matrices are never formed or inverted — the ridge quantities
go through the thin SVD of F̃.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from scipy import integrate

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup
from groklab.groups.irreps import irreps
from groklab.li2.energy import activation_and_derivative
from groklab.tasks.splits import CRITICAL_RATIO_C, critical_fraction

# -- ridge top layer and G_F --------------------------------------------------------------------


def _tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if (x.dtype.is_floating_point or x.dtype.is_complex) else x.to(torch.float64)
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def _centre(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=0, keepdim=True)


def _prepare(F, Y, centre: bool) -> tuple[torch.Tensor, torch.Tensor]:
    F, Y = _tensor(F), _tensor(Y)
    if F.ndim != 2 or Y.ndim != 2 or F.shape[0] != Y.shape[0]:
        raise GroklabError(f"F must be [n, K] and Y [n, C] with the same n, got {tuple(F.shape)} and {tuple(Y.shape)}")
    dtype = torch.promote_types(F.dtype, Y.dtype)
    F, Y = F.to(dtype), Y.to(dtype)
    return (_centre(F), _centre(Y)) if centre else (F, Y)


def _check_eta(eta) -> float:
    eta = float(eta)
    if not eta >= 0.0:
        raise GroklabError(f"eta (ridge coefficient) must be ≥ 0, got {eta:g}")
    return eta


def _ridge_svd(Ft: torch.Tensor, Yt: torch.Tensor, eta: float) -> torch.Tensor:
    """(F̃ᴴF̃ + ηI)⁻¹F̃ᴴỸ = R diag(s/(s²+η)) Uᴴ Ỹ; at η = 0 the minimum-norm least-squares solution."""
    U, s, Rh = torch.linalg.svd(Ft, full_matrices=False)
    if eta > 0:
        gain = s / (s * s + eta)
    else:  # pseudo-inverse: drop singular values at round-off level
        cutoff = float(s.max()) * max(Ft.shape) * torch.finfo(s.dtype).eps if s.numel() else 0.0
        gain = torch.where(s > cutoff, 1 / s.clamp_min(1e-300), torch.zeros_like(s))
    return Rh.mH @ (gain.to(U.dtype)[:, None] * (U.mH @ Yt))


def ridge_top_layer(F, Y, eta: float, centre: bool = True) -> torch.Tensor:
    """V_ridge = (F̃ᵀF̃ + ηI)⁻¹F̃ᵀỸ [K, C] (Props. 3–4), via the thin SVD of F̃.

    `centre=False` uses F and Y as given (the reference's `set_weight_reg` mode uses uncentred F
    with class-centred targets; pass those). η = 0 gives the minimum-norm least-squares solution.
    """
    Ft, Yt = _prepare(F, Y, centre)
    return _ridge_svd(Ft, Yt, _check_eta(eta))


def gf_infinity(F, Y, eta: float, centre: bool = True) -> torch.Tensor:
    """Eqn 4: G_F(∞) = η(F̃F̃ᵀ+ηI)⁻¹ỸỸᵀF̃(F̃ᵀF̃+ηI)⁻¹ [n, K], the backpropagated gradient once V
    has converged to V_ridge.

    Computed as (Ỹ − F̃V_ridge)V_ridgeᵀ, which equals Eqn 4 by the push-through identity
    Ỹ − F̃(F̃ᵀF̃+ηI)⁻¹F̃ᵀỸ = η(F̃F̃ᵀ+ηI)⁻¹Ỹ; only the thin SVD of F̃ is needed (no n×n inverse).
    At η = 0 it is the unexplained part of Ỹ times V (0 when Ỹ is realisable: feature learning stops).
    """
    Ft, Yt = _prepare(F, Y, centre)
    V = _ridge_svd(Ft, Yt, _check_eta(eta))
    return (Yt - Ft @ V) @ V.mH


def stage2_signal(F, Y, centre: bool = True) -> torch.Tensor:
    """ỸỸᵀF̃ [n, K], the Stage II direction of G_F (Lemma 1), computed as Ỹ(ỸᵀF̃)."""
    Ft, Yt = _prepare(F, Y, centre)
    return Yt @ (Yt.mH @ Ft)


def cosine(a, b) -> float:
    """Frobenius cosine ⟨a, b⟩/(‖a‖‖b‖) of two same-shape tensors (real part for complex; 0 if either is 0)."""
    a, b = _tensor(a), _tensor(b)
    if a.shape != b.shape:
        raise GroklabError(f"cosine needs tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    na, nb = a.norm(), b.norm()
    if float(na) == 0.0 or float(nb) == 0.0:
        return 0.0
    return float((a.conj() * b).sum().real / (na * nb))


# -- Thm 3: reconstruction from Fourier / irrep nodes -------------------------------------------


def fourier_nodes(M: int, complex: bool = True) -> torch.Tensor:
    """Thm 3's Fourier nodes for Z_M as first-layer rows W [K, 2M] (unit norm), in ± pairs.

    Complex (the theorem): for k = 1..M−1 the pair u_x = e^{ikωx}, v_x = ±e^{ikωx} (ω = 2π/M);
    K = 2M − 2. With σ = x² the pair difference is 4 u_a v_b = 4e^{ikω(a+b)}, a function of the
    label only, so the nodes span every centred label function and reconstruct Ỹ exactly.
    (With our convention label = a + b the second block carries the same frequency, not P u.)

    Real (`complex=False`, our construction; Thm 3 itself needs complex weights): a ± pair gives
    the product u_a v_b, and cos k(a+b), sin k(a+b) are not in the span of fewer than three
    rank-one products of {cos kx, sin kx}, so each pair {k, M−k} takes the three phase pairs
    (0,0), (π/2,π/2), (π/4,π/4) (u = cos(kωx + φ), v = cos(kωx + ψ)), both signs: 6 nodes, and k = M/2
    (even M) takes 2: K = 3(M−1) for odd M, 3(M−2) + 2 for even M — 1.5× the complex count.
    Only the first two phase pairs (2M − 2 real nodes, the real parts of the complex ones)
    reach cos k(a+b) but not sin k(a+b): relative residual ≈ 1/√2.
    """
    M = int(M)
    if M < 2:
        raise GroklabError(f"Z_M needs M ≥ 2, got {M}")
    x = torch.arange(M, dtype=torch.float64)
    omega = 2 * math.pi / M
    rows = []
    if complex:
        for k in range(1, M):
            u = torch.exp(1j * k * omega * x)
            for sign in (1, -1):
                rows.append(torch.cat([u, sign * u]))
    else:
        for k in range(1, M // 2 + 1):
            phases = [(0.0, 0.0)] if 2 * k == M else [(0.0, 0.0), (math.pi / 2, math.pi / 2), (math.pi / 4, math.pi / 4)]
            for phi, psi in phases:
                u, v = torch.cos(k * omega * x + phi), torch.cos(k * omega * x + psi)
                for sign in (1, -1):
                    rows.append(torch.cat([u, sign * v]))
    W = torch.stack(rows)
    return W / W.norm(dim=1, keepdim=True)


def irrep_nodes(group: FiniteGroup) -> torch.Tensor:
    """Complex reconstruction nodes W [K, 2M] for any group: for every non-trivial irrep k and
    matrix indices (i, j, l), the pair u_a = ρ_k(a)_{ij}, v_b = ±ρ_k(b)_{jl}; the pair difference
    gives ρ_k(a)_{ij}ρ_k(b)_{jl}, whose sum over j is ρ_k(ab)_{il}. So K = 2 Σ_{k≠0} d_k³ (2M − 2 for
    abelian groups; the paper's count 2Σ m_k² d_k² = 2Σ d_k⁴ is not needed). Unit-norm rows."""
    ir = irreps(group)
    rows = []
    for k, mats in enumerate(ir.matrices):
        if np.allclose(ir.characters[k], 1.0):
            continue
        mats = torch.from_numpy(np.array(mats))
        d = mats.shape[1]
        for i in range(d):
            for j in range(d):
                for l in range(d):
                    u, v = mats[:, i, j], mats[:, j, l]
                    for sign in (1, -1):
                        rows.append(torch.cat([u, sign * v]))
    W = torch.stack(rows)
    return W / W.norm(dim=1, keepdim=True)


def node_features(W, idx, activation: str = "sqr") -> torch.Tensor:
    """F = σ(X Wᵀ) [n, K] for first-layer rows W [K, arity·M] (real or complex) and operand
    indices idx [n, arity], computed as a gather (X is never formed)."""
    W = _tensor(W)
    idx = torch.as_tensor(np.asarray(idx) if not isinstance(idx, torch.Tensor) else idx).long()
    idx = idx[:, None] if idx.ndim == 1 else idx
    m = W.shape[1] // idx.shape[1]
    Z = sum(W[:, j * m + idx[:, j]].T for j in range(idx.shape[1]))
    if activation == "sqr":
        return Z * Z  # also for complex weights (no conjugation), as in Thm 3
    if W.dtype.is_complex:
        raise GroklabError(f"complex nodes need activation 'sqr', got {activation!r}")
    return activation_and_derivative(activation)(Z)[0]


def reconstruction_residual(F, Y, centre: bool = True) -> float:
    """‖F̃V − Ỹ‖/‖Ỹ‖ for the least-squares top layer V (η = 0), real or complex features."""
    Ft, Yt = _prepare(F, Y, centre)
    V = _ridge_svd(Ft, Yt, 0.0)
    return float((Ft @ V - Yt).norm() / Yt.norm())


def reconstruct(group, K: int | None = None, complex: bool = True, activation: str = "sqr") -> float:
    """Thm 3: relative residual ‖Ŷ − Ỹ‖/‖Ỹ‖ of a least-squares top layer on the first K nodes of
    `fourier_nodes(M, complex)` (group an int M, meaning Z_M) or `irrep_nodes(group)` (a
    FiniteGroup; complex only), over the full M² table with σ = x².

    ≈ 1e-15 with all 2M − 2 complex nodes of Z_M; fewer (whole ± pairs dropped) leave the
    missing frequencies unexplained (residual ≈ √(#missing/(M−1))). With real nodes see
    `fourier_nodes(complex=False)`: 3(M−1) reconstruct exactly, 2M − 2 do not.
    """
    if isinstance(group, Integral) and not isinstance(group, bool):
        M = int(group)
        W = fourier_nodes(M, complex=complex)
        table = (np.arange(M)[:, None] + np.arange(M)[None, :]) % M
    elif isinstance(group, FiniteGroup):
        if not complex:
            raise GroklabError("real reconstruction nodes are implemented for Z_M only (pass an int M)")
        M = group.order
        W = irrep_nodes(group)
        table = group.table
    else:
        raise GroklabError(f"reconstruct needs a group order M (int) or a FiniteGroup, got {group!r}")
    if K is not None:
        if not 1 <= int(K) <= W.shape[0]:
            raise GroklabError(f"K must be in 1..{W.shape[0]} (the number of nodes), got {K}")
        W = W[: int(K)]
    a, b = np.meshgrid(np.arange(M), np.arange(M), indexing="ij")
    idx = torch.from_numpy(np.stack([a.reshape(-1), b.reshape(-1)], axis=1))
    labels = torch.from_numpy(np.ascontiguousarray(np.asarray(table)[a.reshape(-1), b.reshape(-1)]))
    F = node_features(W, idx, activation)
    Y = torch.nn.functional.one_hot(labels, M).to(torch.float64)
    return reconstruction_residual(F, Y)


# -- Thm 4: critical data ratio -----------------------------------------------------------------


def critical_ratio(order: int, c: float = CRITICAL_RATIO_C, delta: float = 0.0, d_max: int = 1) -> float:
    """The reference's critical training fraction corr·(c − δ)·ln|G|/|G| (corr = d_max/2 for
    d_max > 1), i.e. `groklab.tasks.critical_fraction`."""
    return critical_fraction(order, c=c, delta=delta, d_max=d_max)


def _transition(fracs: np.ndarray, accs: np.ndarray, threshold: float) -> float:
    """Fraction where the accuracy first reaches `threshold` (linear interpolation), or nan."""
    above = np.nonzero(accs >= threshold)[0]
    if len(above) == 0 or above[0] == 0:
        return float("nan")
    i = above[0]
    f0, f1, a0, a1 = fracs[i - 1], fracs[i], accs[i - 1], accs[i]
    return float(f0 + (threshold - a0) * (f1 - f0) / (a1 - a0))


def fit_critical_constant(orders, fractions, accuracies, threshold: float = 0.5, d_max=None) -> dict:
    """Fit c in p* = c·corr·ln M/M from a phase-diagram table (one row per run or per cell).

    Per group order: accuracies are averaged over rows with equal fraction, sorted by fraction,
    and p* is where the mean accuracy first reaches `threshold`, by linear interpolation between
    the last fraction below it and the first at or above it. Orders whose accuracy never crosses
    (all below, or already above at the smallest fraction) get p* = nan and are left out of the fit.
    c is the least-squares slope through the origin of p* on x = corr·ln M/M (corr = 1, or
    d_max/2 per order when `d_max` gives the largest irrep degree per row, as the reference).

    Returns {"c": float (nan if no order crosses), "p_star": {order: p*}, "x": {order: x},
    "rms": root-mean-square residual of the fit}.
    """
    orders = np.asarray(orders, dtype=np.int64).reshape(-1)
    fractions = np.asarray(fractions, dtype=np.float64).reshape(-1)
    accuracies = np.asarray(accuracies, dtype=np.float64).reshape(-1)
    if not (len(orders) == len(fractions) == len(accuracies)):
        raise GroklabError("orders, fractions and accuracies must have the same length")
    dm = np.ones_like(orders) if d_max is None else np.asarray(d_max, dtype=np.int64).reshape(-1)
    p_star, xs = {}, {}
    for m in np.unique(orders):
        rows = orders == m
        fr = np.unique(fractions[rows])
        acc = np.array([accuracies[rows & (fractions == f)].mean() for f in fr])
        d = int(dm[rows].max())
        corr = 1.0 if d == 1 else d / 2
        p_star[int(m)] = _transition(fr, acc, threshold)
        xs[int(m)] = corr * math.log(m) / m
    ok = [m for m in p_star if np.isfinite(p_star[m])]
    if not ok:
        return {"c": float("nan"), "p_star": p_star, "x": xs, "rms": float("nan")}
    x = np.array([xs[m] for m in ok])
    y = np.array([p_star[m] for m in ok])
    c = float(x @ y / (x @ x))
    return {"c": c, "p_star": p_star, "x": xs, "rms": float(np.sqrt(np.mean((y - c * x) ** 2)))}


# -- Thm 8: coupon collector and Muon -----------------------------------------------------------


def collection_probabilities(mu, a: float) -> np.ndarray:
    """p_l = μ_l^a / Σ μ^a: the chance that a node with Fréchet(a) initial coefficients converges to
    direction l (argmax of μ_l α_l)."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    if (mu <= 0).any():
        raise GroklabError("the direction strengths μ must be positive")
    q = mu ** float(a)
    return q / q.sum()


def _check_p(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(p) == 0 or (p <= 0).any() or abs(p.sum() - 1.0) > 1e-9:
        raise GroklabError("p must be positive probabilities that sum to 1")
    return p


def coupon_collector_T0(p) -> float:
    """T0 = ∫₀^∞ (1 − Π_l (1 − e^{−p_l t})) dt, the expected number of independent nodes until
    every direction l (chosen with probability p_l) is collected (uniform p: L·H_L).

    Adaptive quadrature (scipy quad) on [0, t₁] and [t₁, ∞), t₁ = ln L / min p, in log space."""
    p = _check_p(p)

    def f(t: float) -> float:
        return -math.expm1(float(np.sum(np.log1p(-np.exp(-p * t))))) if t > 0 else 1.0

    t1 = max(1.0, math.log(len(p)) / p.min())
    head = integrate.quad(f, 0.0, t1, limit=500, epsabs=0.0, epsrel=1e-11)[0]
    tail = integrate.quad(f, t1, np.inf, limit=500, epsabs=0.0, epsrel=1e-11)[0]
    return head + tail


def muon_expected_T(p, a: float, suppression: float = 0.5) -> float:
    """Expected nodes to collect all L directions in the sequential-Muon model of
    `simulate_collection` with occupied directions' coefficients scaled by `suppression` = s:
    L + s^a (T0 − L) (exact: the order in which new directions appear is the same as for
    independent nodes, and each stage's expected number of repeats is scaled by s^a)."""
    p = _check_p(p)
    return len(p) + float(suppression) ** float(a) * (coupon_collector_T0(p) - len(p))


def muon_bound_Ta(p, a: float) -> float:
    """Thm 8's bound T_a ≤ 2^{−a}T0 + (1 − 2^{−a})L for Muon with sequential node optimisation."""
    p = _check_p(p)
    s = 2.0 ** (-float(a))
    return s * coupon_collector_T0(p) + (1 - s) * len(p)


def simulate_collection(
    mu, a: float, nodes: int, trials: int, seed: int = 0, muon: bool = False, suppression: float = 0.5
) -> dict:
    """Monte-Carlo of Thm 8's toy model: how many nodes until all L maxima are collected.

    Each node draws α_l ~ Fréchet(a) (CDF exp(−x^{−a})) independently and converges to
    argmax_l μ_l α_l, so P(l) = μ_l^a/Σμ^a. Nodes are added one at a time, up to `nodes` per trial.
    With `muon=True` the model of the sequential variant (Lemma 9): when a node is optimised,
    directions already occupied by earlier nodes have their coefficient multiplied by
    `suppression` (Lemma 9: the gradient along them shrinks by at least ½, so s ≤ ½), i.e. the
    node goes to argmax_l c_l μ_l α_l with c_l = s if l is occupied, else 1. In expectation this
    gives L + s^a(T0 − L) (`muon_expected_T`), which equals Thm 8's bound at s = ½.

    Returns {"times": int64 [trials] (nodes used; −1 where not all were collected within
    `nodes`), "mean", "sem" (over completed trials), "completed" (fraction), "T0", "bound"
    (muon_bound_Ta), "expected" (T0 for independent nodes, muon_expected_T for muon)}.
    """
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    p = collection_probabilities(mu, a)
    L, nodes, trials = len(mu), int(nodes), int(trials)
    if nodes < L or trials < 1:
        raise GroklabError(f"need nodes ≥ L = {L} and trials ≥ 1, got nodes={nodes}, trials={trials}")
    rng = np.random.default_rng(seed)
    times = np.full(trials, -1, dtype=np.int64)
    occupied = np.zeros((trials, L), dtype=bool)
    for t in range(nodes):
        alpha = (-np.log(rng.random((trials, L)))) ** (-1.0 / a)  # Fréchet(a)
        score = mu * alpha
        if muon:
            score = np.where(occupied, score * suppression, score)
        occupied[np.arange(trials), score.argmax(axis=1)] = True
        newly = (times < 0) & occupied.all(axis=1)
        times[newly] = t + 1
        if (times > 0).all():
            break
    done = times > 0
    vals = times[done].astype(np.float64)
    t0 = coupon_collector_T0(p)
    return {
        "times": times,
        "mean": float(vals.mean()) if done.any() else float("nan"),
        "sem": float(vals.std(ddof=1) / math.sqrt(len(vals))) if done.sum() > 1 else float("nan"),
        "completed": float(done.mean()),
        "T0": t0,
        "bound": muon_bound_Ta(p, a),
        "expected": muon_expected_T(p, a, suppression) if muon else t0,
    }
