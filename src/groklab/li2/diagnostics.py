"""Li₂ gradient diagnostics (Eqn 2, Eqn 4, Thm 6): pure functions of tensors.

Definitions: docs/li2-quantities.md#backpropagated-gradient and #training-diagnostics.

Every function takes one member (F [n, K], V [C, K], labels [n]) or an ensemble with a leading
member axis (F [S, n, K], V [S, C, K], labels [S, n] or a shared [n]) and returns a tensor with that
leading axis (or a 0-d tensor). Layouts are the model's: F = σ(XWᵀ) the hidden features fed to the top
layer, V [C, K] the readout (the paper's V is its transpose), β = `output_scale`, Ŷ = β F Vᵀ.

    G_F, paper (Eqn 2)      P₁⊥(Y − Ŷ) · βV            −∂J/∂F of the paper's loss, centred along the *sample*
                                                       axis (J = ½‖P₁⊥(Y − Ŷ)‖²)
    G_F, class-centred      (Y − 1/C − Ŷ P_C) · βV     −∂J/∂F of the reference code's loss (J = ½‖(Y − 1/C −
                                                       ŶP_C)‖², P_C centring each output over the classes)
    G_F, reference          (Y − 1/C − Ŷ) · βV         `dF_norm` of the reference StatsTracker: class-centred
                                                       targets, raw output (its class mean, which the loss
                                                       ignores, included), no sample projection
    stage-II prediction     Ỹ Ỹᵀ F̃                      Lemma 1 / Prop. 1; its cosine with G_F (paper)
    kernel diagonality      mean|off-diag| / mean|diag| of F̃ᵀF̃ (K×K), on a node subsample
    FFᵀ distance from ideal ‖A − (aI + b11ᵀ)‖/‖A‖ for A = FFᵀ (reference) or F̃F̃ᵀ, on a row subsample
    update cosine           cos(θ_t − θ_{t−1}, θ_{t−1} − θ_{t−2}) per member
    Thm 6 sign match        sign(B_jl) vs −sign(similarity) on the most similar node pairs, B = (F̃ᵀF̃ + ηI)⁻¹
    ridge distance          ‖βVᵀ − V_ridge(F)‖ / ‖V_ridge‖ (Stage I convergence of the top layer)

β enters G_F twice (through Ŷ and as the chain-rule factor of the readout), so G_F = −∂J/∂F exactly.
Norms carry no 1/n (the paper's J = ½‖P₁⊥(Y − Ŷ)‖² has none).

Cost. Nothing n×n is formed. The G_F norms and the stage-II cosine are computed through C×C forms
(‖RV‖² = ⟨RᵀR, VVᵀ⟩ and ⟨RV, ỸA⟩ = ⟨(ỸᵀR)V, A⟩ with A = ỸᵀF), so after Ŷ (n·K·C) they cost O(nC² + C²K). The K×K
kernel statistics use a node subsample and the FFᵀ statistic a row subsample (the caller draws them
once so a series is comparable across epochs). Only the ridge quantities (sign match, ridge distance)
need the full K×K Gram matrix and its Cholesky factor — O(nK² + K³) — so `ridge_system` builds it once
and both use it; a training hook runs them on a sparser schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groklab.errors import GroklabError

CENTRINGS = ("sample", "class")  # of a loss (config loss.centring)
GRADIENTS = ("sample", "class", "reference")  # G_F of the sample- or class-centred loss, or the reference dF
SIGN_RULES = ("similarity", "projected")


# -- shapes -----------------------------------------------------------------------------------------

def _batched(F: torch.Tensor, *others):
    """Add a member axis to single-member inputs; return (single, F, others...)."""
    if F.ndim not in (2, 3):
        raise GroklabError(f"F must be [n, K] or [S, n, K], got shape {tuple(F.shape)}")
    single = F.ndim == 2
    if single:
        F = F.unsqueeze(0)
        others = tuple(None if o is None else (o.unsqueeze(0) if o.ndim >= 1 else o) for o in others)
    return (single, F, *others)


def _labels(labels, F: torch.Tensor, single: bool) -> torch.Tensor:
    labels = torch.as_tensor(labels, device=F.device).to(torch.int64)
    if single and labels.ndim == 1:
        labels = labels.unsqueeze(0)
    if labels.ndim == 1:
        labels = labels.unsqueeze(0).expand(F.shape[0], -1)
    if labels.shape != F.shape[:2]:
        raise GroklabError(f"labels {tuple(labels.shape)} do not match features {tuple(F.shape)}")
    return labels


def _out(x: torch.Tensor, single: bool) -> torch.Tensor:
    return x[0] if single else x


def _check_V(V: torch.Tensor, F: torch.Tensor) -> None:
    if V.ndim != 3 or V.shape[0] != F.shape[0] or V.shape[2] != F.shape[2]:
        raise GroklabError(f"V must be [C, K] (or [S, C, K]) matching F {tuple(F.shape)}, got {tuple(V.shape)}")


def one_hot(labels: torch.Tensor, num_classes: int, dtype=torch.float32) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels.to(torch.int64), num_classes).to(dtype)


def centre_rows(x: torch.Tensor) -> torch.Tensor:
    """P₁⊥x: subtract the mean over the sample axis (−2)."""
    return x - x.mean(dim=-2, keepdim=True)


# -- G_F --------------------------------------------------------------------------------------------

def residual(F, V, labels, centring: str = "sample", output_scale: float = 1.0) -> torch.Tensor:
    """R with G_F = R·βV: P₁⊥(Y − Ŷ) ('sample', the paper), Y − 1/C − ŶP_C ('class', the reference loss)
    or Y − 1/C − Ŷ ('reference', the reference's dF_norm)."""
    if centring not in GRADIENTS:
        raise GroklabError(f"centring={centring!r} is not known; allowed: {', '.join(GRADIENTS)}")
    single, F, V = _batched(F, V)
    _check_V(V, F)
    labels = _labels(labels, F, single)
    C = V.shape[1]
    Yhat = output_scale * torch.bmm(F, V.transpose(1, 2))
    R = one_hot(labels, C, F.dtype) - Yhat
    if centring == "sample":
        R = centre_rows(R)
    else:
        R = R - 1.0 / C
        if centring == "class":
            R = R + Yhat.mean(dim=-1, keepdim=True)
    return _out(R, single)


def backprop_gradient(F, V, labels, centring: str = "sample", output_scale: float = 1.0) -> torch.Tensor:
    """G_F [.., n, K] = R·βV with R from `residual` (module docstring): 'sample' (Eqn 2) and 'class' are
    exactly −∂J/∂F of J = ½‖P₁⊥(Y − βFVᵀ)‖² and J = ½‖Y − 1/C − βFVᵀP_C‖²; 'reference' is the reference
    code's dF. Forms the full n×K matrix; the training hook uses `gradient_stats` (C×C forms only).
    """
    single, F, V = _batched(F, V)
    R = residual(F, V, _labels(labels, F, single), centring, output_scale)
    return _out(torch.bmm(R, output_scale * V), single)


def stage2_prediction(F, labels, num_classes: int) -> torch.Tensor:
    """ỸỸᵀF̃ [.., n, K], the Stage II direction of G_F (Prop. 1, Lemma 1), computed as Ỹ(ỸᵀF)."""
    single, F = _batched(F)
    Yt = centre_rows(one_hot(_labels(labels, F, single), num_classes, F.dtype))
    return _out(torch.bmm(Yt, torch.bmm(Yt.transpose(1, 2), F)), single)


def frobenius_cosine(a: torch.Tensor, b: torch.Tensor, member_axis: bool = True) -> torch.Tensor:
    """⟨a, b⟩/(‖a‖‖b‖) over all axes but the leading member axis (all axes when member_axis=False);
    NaN where either side is zero."""
    if a.shape != b.shape:
        raise GroklabError(f"cosine needs tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    a2 = a.reshape(a.shape[0], -1) if member_axis else a.reshape(1, -1)
    b2 = b.reshape(b.shape[0], -1) if member_axis else b.reshape(1, -1)
    a2, b2 = a2.to(torch.float64), b2.to(torch.float64)
    den = a2.norm(dim=1) * b2.norm(dim=1)
    cos = (a2 * b2).sum(dim=1) / den
    cos = torch.where(den > 0, cos, torch.full_like(cos, float("nan")))
    return cos if member_axis else cos[0]


@torch.no_grad()
def gradient_stats(F, V, labels, output_scale: float = 1.0) -> dict[str, torch.Tensor]:
    """‖G_F‖ (paper and reference centring) and cos(G_F, ỸỸᵀF̃), without forming n×K matrices.

    Returns float64 tensors [S] (or 0-d): `gf_norm` (paper), `gf_norm_class` (class-centred loss),
    `gf_norm_ref` (reference `dF_norm`), `gf_stage2_cos` (paper G_F against the stage-II prediction),
    `stage2_norm` (‖ỸỸᵀF̃‖).
    Identities used (R the residual, Vb = βV, A = ỸᵀF): ‖R Vb‖² = ⟨RᵀR, Vb Vbᵀ⟩,
    ⟨R Vb, Ỹ A⟩ = ⟨(ỸᵀR) Vb, A⟩ (ỸᵀR is C×C) and ‖ỸA‖² = ⟨(ỸᵀỸ) A, A⟩.
    """
    single, F, V = _batched(F, V)
    _check_V(V, F)
    labels = _labels(labels, F, single)
    C = V.shape[1]
    Yhat = output_scale * torch.bmm(F, V.transpose(1, 2))  # the one O(nKC) product
    f64 = lambda x: x.to(torch.float64)  # noqa: E731  (C×C and C×K forms are cheap in float64)
    Y = one_hot(labels, C, torch.float64)
    Yt = centre_rows(Y)
    Rp = centre_rows(Y - f64(Yhat))
    Rr = Y - 1.0 / C - f64(Yhat)
    Rc = Rr + f64(Yhat).mean(dim=-1, keepdim=True)
    Vb = output_scale * f64(V)
    VVt = torch.bmm(Vb, Vb.transpose(1, 2))
    # A = ỸᵀF = (class sums of F) − counts ⊗ mean(F): O(nK) adds instead of an O(nKC) product
    S, n, K = F.shape
    rows = (labels + C * torch.arange(S, device=F.device)[:, None]).reshape(-1)  # member s, class c -> s·C + c
    sums = torch.zeros(S * C, K, dtype=F.dtype, device=F.device).index_add_(0, rows, F.reshape(S * n, K))
    A = f64(sums.view(S, C, K)) - Y.sum(dim=1)[:, :, None] * f64(F.mean(dim=1))[:, None, :]
    gram = lambda R: torch.bmm(R.transpose(1, 2), R)  # noqa: E731
    gf2 = (gram(Rp) * VVt).sum(dim=(1, 2)).clamp_min(0)
    ref2 = (gram(Rr) * VVt).sum(dim=(1, 2)).clamp_min(0)
    cls2 = (gram(Rc) * VVt).sum(dim=(1, 2)).clamp_min(0)
    inner = (torch.bmm(torch.bmm(Yt.transpose(1, 2), Rp), Vb) * A).sum(dim=(1, 2))
    s2 = (torch.bmm(gram(Yt), A) * A).sum(dim=(1, 2)).clamp_min(0)
    den = (gf2 * s2).sqrt()
    cos = torch.where(den > 0, inner / den, torch.full_like(den, float("nan")))
    out = dict(gf_norm=gf2.sqrt(), gf_norm_class=cls2.sqrt(), gf_norm_ref=ref2.sqrt(), gf_stage2_cos=cos,
               stage2_norm=s2.sqrt())
    return {k: _out(v, single) for k, v in out.items()}


# -- kernels ----------------------------------------------------------------------------------------

def _diag_offdiag(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the diagonal and of the off-diagonal entries of square matrices [S, m, m]."""
    m = A.shape[-1]
    diag = A.diagonal(dim1=-2, dim2=-1).mean(dim=-1)
    off = (A.sum(dim=(-2, -1)) - A.diagonal(dim1=-2, dim2=-1).sum(dim=-1)) / max(m * (m - 1), 1)
    return diag, off


@torch.no_grad()
def kernel_offdiag_ratio(F, nodes: torch.Tensor | None = None) -> torch.Tensor:
    """mean|off-diag| / mean|diag| of F̃ᵀF̃ (K×K; reference `~F^t~F_off_diag_avg / diag_avg`), [S].

    `nodes`: indices of a node subsample (the same for all members, or [S, m]); the sub-block's means are
    unbiased estimates of the full matrix's. F̃ is centred with the mean over all n rows.
    """
    single, F = _batched(F)
    if nodes is not None:  # select first: centring is per column, and a centred copy of all of F is costly
        nodes = torch.as_tensor(nodes, device=F.device)
        F = F[:, :, nodes] if nodes.ndim == 1 else torch.gather(F, 2, nodes[:, None, :].expand(-1, F.shape[1], -1))
    Ft = centre_rows(F)
    A = torch.bmm(Ft.transpose(1, 2), Ft).abs().to(torch.float64)
    diag, off = _diag_offdiag(A)
    return _out(off / diag, single)


@torch.no_grad()
def ff_ideal_distance(F, rows: torch.Tensor | None = None, centre: bool = False) -> torch.Tensor:
    """Relative Frobenius distance of A = F_R F_Rᵀ to its best fit aI + b11ᵀ, [S].

    The least-squares fit of aI + b11ᵀ puts the diagonal mean on the diagonal and the off-diagonal
    mean off it, as the reference's `fit_diag_11`. `centre=False` is the reference statistic
    (`FF^t_dist_from_ideal`, uncentred FFᵀ); `centre=True` uses F̃F̃ᵀ = P₁⊥FFᵀP₁⊥, the kernel that
    enters Eqn 4 (centred with the mean over all n rows). `rows` subsamples the n×n matrix (a
    principal sub-block), so nothing n×n is formed.
    """
    single, F = _batched(F)
    X = F
    if rows is not None:
        rows = torch.as_tensor(rows, device=F.device)
        X = F[:, rows] if rows.ndim == 1 else torch.gather(F, 1, rows[:, :, None].expand(-1, -1, F.shape[2]))
    if centre:  # with the mean over all n rows, so the sub-block is that of the full F̃F̃ᵀ
        X = X - F.mean(dim=1, keepdim=True)
    A = torch.bmm(X, X.transpose(1, 2)).to(torch.float64)
    diag, off = _diag_offdiag(A)
    m = A.shape[-1]
    eye = torch.eye(m, dtype=A.dtype, device=A.device)
    fit = (diag - off)[:, None, None] * eye + off[:, None, None]
    dist = (A - fit).norm(dim=(1, 2)) / A.norm(dim=(1, 2))
    return _out(dist, single)


# -- update directions ------------------------------------------------------------------------------

@torch.no_grad()
def update_cosine(older: torch.Tensor, old: torch.Tensor, new: torch.Tensor, member_axis: bool = True) -> torch.Tensor:
    """cos(new − old, old − older): 1 when consecutive updates point the same way. [S] (or 0-d with
    member_axis=False). Snapshots k steps apart give the cosine of consecutive k-step displacements."""
    return frobenius_cosine(new - old, old - older, member_axis=member_axis)


# -- ridge quantities (Eqn 4, Thm 6) ----------------------------------------------------------------

def nominal_eta(n: int, weight_decay, centring: str = "class", output_scale: float = 1.0) -> torch.Tensor:
    """The paper's ridge coefficient η for coupled L2 `weight_decay` on our per-sample-mean losses
    (docs/li2-quantities.md#losses-and-eta): class-centred MSE (no ½) η = n·wd/2, sample-centred MSE
    (½, ÷n) η = n·wd; divided by β² because the penalty acts on V while the fit is of βV. Nominal: Adam
    rescales the gradient."""
    if centring not in CENTRINGS:
        raise GroklabError(f"centring={centring!r} is not known; allowed: {', '.join(CENTRINGS)}")
    wd = torch.as_tensor(weight_decay, dtype=torch.float64)
    return wd * n * (0.5 if centring == "class" else 1.0) / (output_scale ** 2)


@dataclass
class RidgeSystem:
    """Cholesky factor of F̃ᵀF̃ + ηI per member (float64), shared by the ridge diagnostics.

    gram [S, K, K] = F̃ᵀF̃; chol its factor with η added; mean [S, K] the feature means f̄ (the
    uncentred Gram is F̃ᵀF̃ + n f̄f̄ᵀ, solved by Sherman–Morrison); eta [S] the η used (raised to a
    floor of `floor`·mean diag where smaller, e.g. η = 0 with K ≥ n, where F̃ᵀF̃ is singular);
    ok [S] False where the factorisation failed.
    """

    gram: torch.Tensor
    chol: torch.Tensor
    mean: torch.Tensor
    n: int
    eta: torch.Tensor
    ok: torch.Tensor

    def solve(self, B: torch.Tensor, centred: bool = True) -> torch.Tensor:
        """(F̃ᵀF̃ + ηI)⁻¹B, or (FᵀF + ηI)⁻¹B with `centred=False`; B [S, K, m]."""
        X = torch.cholesky_solve(B, self.chol)
        if centred:
            return X
        u = (self.n ** 0.5) * self.mean[:, :, None]  # FᵀF = F̃ᵀF̃ + u uᵀ
        Au = torch.cholesky_solve(u, self.chol)
        coef = (u.transpose(1, 2) @ X) / (1 + u.transpose(1, 2) @ Au)
        return X - Au @ coef


@torch.no_grad()
def ridge_system(F, eta, floor: float = 1e-6) -> RidgeSystem:
    """Build the K×K system once (O(nK² + K³); Gram in F's dtype, factor in float64). `eta`: a number
    or one per member; raised to `floor`·mean diag where smaller (×100 for a float32 Gram, whose
    round-off would otherwise make a rank-deficient F̃ᵀF̃ + ηI indefinite)."""
    single, F = _batched(F)
    mean = F.mean(dim=1)
    Ft = F - mean[:, None, :]
    # the O(nK²) product in F's precision (float32 from a float32 model: half the cost), the rest in float64
    gram = torch.bmm(Ft.transpose(1, 2), Ft).to(torch.float64)
    mean = mean.to(torch.float64)
    S, K = gram.shape[0], gram.shape[1]
    eta = torch.as_tensor(eta, dtype=torch.float64, device=F.device).reshape(-1).expand(S).clone()
    if (eta < 0).any():
        raise GroklabError(f"eta must be ≥ 0, got {eta.tolist()}")
    scale = gram.diagonal(dim1=1, dim2=2).mean(dim=1)
    floor = floor * (100.0 if F.dtype != torch.float64 else 1.0)
    eta = torch.maximum(eta, floor * scale.clamp_min(1e-300))
    chol, info = torch.linalg.cholesky_ex(gram + eta[:, None, None] * torch.eye(K, dtype=gram.dtype, device=F.device))
    return RidgeSystem(gram, chol, mean, F.shape[1], eta, info == 0)


@torch.no_grad()
def ridge_distance(F, V, labels, eta, centring: str = "sample", output_scale: float = 1.0,
                   system: RidgeSystem | None = None) -> torch.Tensor:
    """‖βVᵀ − V_ridge(F)‖ / ‖V_ridge‖ per member (Stage I: V converges to its ridge fit).

    'sample' (the paper's loss): V_ridge = (F̃ᵀF̃ + ηI)⁻¹F̃ᵀỸ, as `groklab.li2.theory.ridge_top_layer`.
    'class' (the reference loss, blind to each output's class mean): V_ridge = (FᵀF + ηI)⁻¹FᵀY_c with
    uncentred F and Y_c = Y − 1/C (ridge_top_layer(F, Y_c, η, centre=False)), compared with the
    class-centred βV — the part of V the loss sees. NaN where the factorisation failed.
    """
    if centring not in CENTRINGS:
        raise GroklabError(f"centring={centring!r} is not known; allowed: {', '.join(CENTRINGS)}")
    single, F, V = _batched(F, V)
    _check_V(V, F)
    labels = _labels(labels, F, single)
    system = system or ridge_system(F, eta)
    C = V.shape[1]
    Y = one_hot(labels, C, torch.float64)
    F64 = F.to(torch.float64)
    Vt = output_scale * V.to(torch.float64).transpose(1, 2)  # [S, K, C], the paper's layout
    if centring == "sample":
        ridge = system.solve(torch.bmm((F64 - system.mean[:, None]).transpose(1, 2), centre_rows(Y)))
    else:
        ridge = system.solve(torch.bmm(F64.transpose(1, 2), Y - 1.0 / C), centred=False)
        Vt = Vt - Vt.mean(dim=2, keepdim=True)
    dist = (Vt - ridge).norm(dim=(1, 2)) / ridge.norm(dim=(1, 2))
    dist = torch.where(system.ok, dist, torch.full_like(dist, float("nan")))
    return _out(dist, single)


def _top_pairs(gram: torch.Tensor, pairs: int, min_norm: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per member the `pairs` node pairs (j < l) of largest cosine among nodes whose ‖f̃‖² is at least
    `min_norm`·max; returns (j [S, P], l [S, P], valid [S, P])."""
    S, K, _ = gram.shape
    d = gram.diagonal(dim1=1, dim2=2).clamp_min(0)
    norms = d.sqrt()
    cos = gram / (norms[:, :, None] * norms[:, None, :]).clamp_min(1e-300)
    eligible = d >= min_norm * d.amax(dim=1, keepdim=True)
    mask = torch.triu(torch.ones(K, K, dtype=torch.bool, device=gram.device), diagonal=1)
    mask = mask & eligible[:, :, None] & eligible[:, None, :]
    score = torch.where(mask, cos, torch.full_like(cos, -float("inf"))).reshape(S, -1)
    P = min(pairs, K * (K - 1) // 2)
    top, flat = score.topk(P, dim=1)
    return flat // K, flat % K, torch.isfinite(top)


@torch.no_grad()
def sign_match(F, eta, pairs: int = 64, rule: str = "similarity", min_norm: float = 1e-2,
               system: RidgeSystem | None = None) -> torch.Tensor:
    """Thm 6 on the `pairs` most similar node pairs: the fraction with sign(B_jl) = −sign(s_jl),
    B = (F̃ᵀF̃ + ηI)⁻¹ (the coupling of node j to node l in G_F = P_η ỸỸᵀF̃B). [S]

    rule='projected': s_jl = f̃_jᵀ P_{η,−jl} f̃_l with the ridge residual projector of the other K − 2
    nodes — Thm 6 exactly; by the Schur complement it holds for every pair (rate 1 up to round-off),
    so it serves to verify the identity (it costs one (K−2)-system per pair: small problems only).
    rule='similarity': s_jl = f̃_jᵀf̃_l, the plain reading "similar nodes repel" — whether the other
    nodes' projection leaves the sign of the similarity intact; this is what the training hook logs.
    Pairs are ranked by cosine among nodes with ‖f̃_j‖² ≥ `min_norm`·max (dead nodes excluded).
    """
    if rule not in SIGN_RULES:
        raise GroklabError(f"rule={rule!r} is not known; allowed: {', '.join(SIGN_RULES)}")
    single, F = _batched(F)
    system = system or ridge_system(F, eta)
    gram = system.gram
    S, K, _ = gram.shape
    j, l, valid = _top_pairs(gram, pairs, min_norm)
    E = torch.zeros(S, K, j.shape[1], dtype=gram.dtype, device=gram.device)
    E.scatter_(1, l[:, None, :], 1.0)
    B_cols = system.solve(E)  # column l of B for each pair
    b = B_cols.gather(1, j[:, None, :])[:, 0]
    if rule == "similarity":
        s = gram.reshape(S, -1).gather(1, j * K + l)
    else:
        s = torch.empty_like(b)
        eye = torch.eye(K, dtype=gram.dtype, device=gram.device)
        for m in range(S):
            A = gram[m] + system.eta[m] * eye
            for p in range(j.shape[1]):
                jj, ll = int(j[m, p]), int(l[m, p])
                rest = torch.tensor([k for k in range(K) if k not in (jj, ll)], device=gram.device)
                # f̃_jᵀ P_{η,−jl} f̃_l = G_jl − G_{j,r}(G_rr + ηI)⁻¹G_{r,l}
                x = torch.linalg.solve(A[rest][:, rest], gram[m, rest, ll])
                s[m, p] = gram[m, jj, ll] - gram[m, jj, rest] @ x
    match = (torch.sign(b) == -torch.sign(s)) & valid
    rate = match.sum(dim=1).to(torch.float64) / valid.sum(dim=1).clamp_min(1)
    rate = torch.where(system.ok & valid.any(dim=1), rate, torch.full_like(rate, float("nan")))
    return _out(rate, single)
