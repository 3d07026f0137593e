"""The Li₂ energy E(w) of a hidden node and its local maxima (Thm 1, Thm 2, Cor 2, Thm 5, Thm 7).

Under Stage II each node ascends (Thm 1; docs/li2-quantities.md#energy)

    E(w) = ½ ‖Ỹᵀ σ(X w)‖²,   Ỹ = P₁⊥ Y (targets centred along the *sample* axis),  ‖w‖ = 1.

Inputs are never materialised as one-hot matrices: a dataset is `idx` [n, arity] operand indices
and `labels` [n]; a node weight vector `w` has arity·M entries (the layout of one row of the
first layer W [K, arity·M]: operand j, value v ↦ column j·M + v), so

    (X w)_i = Σ_j w[j·M + idx[i, j]]                (a gather)
    (Ỹᵀ s)_c = Σ_{i: label_i = c} s_i − n_c · mean(s)  (an index_add minus the mean)

Normalisation (docs/li2-quantities.md#energy-normalisation). Every energy here is, by default, the
**definition as written** above, with no 1/n and no other factor. With full data of Z_M and σ = x², a maximiser in a
complex-pair frequency has E = M/4, and for even M the real irrep k = M/2 has E = M/2. The paper
states M/16 and M/8, i.e. 4× smaller (most likely a dropped factor 2 in the cross term 2u_i v_j,
on which E is quadratic). `paper_constants=True` divides E (and its gradient) by 4 to give the
paper's numbers; ratios between maxima and the maximisers themselves do not depend on the choice.

General groups (σ = x², full data, derived and checked numerically in the tests): with u, v the
operand blocks of w, E = (2/M) Σ_{k≠0} d_k ‖û_k v̂_k‖²_F (f̂_k = Σ_g f(g) ρ_k(g)), and the maxima lie in
one isotypic subspace with
    E* = M / (2 d_k)   for a real irrep (Frobenius–Schur ν = +1),
    E* = M / (4 d_k)   for a complex pair k ⊕ k̄ (ν = 0) and for a quaternionic irrep (ν = −1),
at ‖u‖ = ‖v‖ = 1/√2. (The paper, Thm 2: M/(8 d_k) real, M/(16 d_k) complex, again 4× smaller;
it does not treat quaternionic irreps separately — for them the Fourier coefficient of a real
function cannot be rank one, which halves the value, like a complex pair.)

All functions are pure: they take tensors (or a group) and return tensors, floats or dicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from numbers import Integral
from typing import Callable, Iterable, NamedTuple

import numpy as np
import torch

from groklab.errors import GroklabError, closest
from groklab.groups.fourier import isotypic_projector, real_irrep_groups, real_irrep_power
from groklab.groups.group import FiniteGroup
from groklab.groups.irreps import irreps

PAPER_FACTOR = 4.0  # definition-as-written / paper constants (docs/li2-quantities.md#energy-normalisation)

# -- activations --------------------------------------------------------------------------------


def _sqr(z):
    return z * z, 2 * z


def _relu(z):
    return torch.relu(z), (z > 0).to(z.dtype)


def _relusqr(z):
    r = torch.relu(z)
    return r * r, 2 * r


def _silu(z):
    s = torch.sigmoid(z)
    return z * s, s * (1 + z * (1 - s))


def _linear(z):
    return z, torch.ones_like(z)


def _tanh(z):
    t = torch.tanh(z)
    return t, 1 - t * t


def _sigmoid(z):
    s = torch.sigmoid(z)
    return s, s * (1 - s)


_ACTIVATIONS: dict[str, Callable] = {
    "sqr": _sqr,
    "relu": _relu,
    "relusqr": _relusqr,
    "silu": _silu,
    "linear": _linear,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
}
ACTIVATIONS = tuple(_ACTIVATIONS)


def activation_and_derivative(name: str) -> Callable:
    """z ↦ (σ(z), σ'(z)) for one of ACTIVATIONS (`sqr` is x², the reference default)."""
    if name not in _ACTIVATIONS:
        hint = closest(str(name), ACTIVATIONS)
        raise GroklabError(
            f"unknown activation {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            + f"; allowed: {', '.join(ACTIVATIONS)}"
        )
    return _ACTIVATIONS[name]


# -- the data side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    cols: torch.Tensor  # [n, arity] input columns j·M + idx[:, j]
    labels: torch.Tensor  # [n]
    counts: torch.Tensor  # [C] rows per class (float)
    weights: torch.Tensor | None  # [n] or None
    num_classes: int
    projector: torch.Tensor | None  # [C, C] or None
    centre: bool


def _as_long(x, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.dtype.is_floating_point or t.dtype.is_complex:
        raise GroklabError(f"{what} must be integer indices, got dtype {t.dtype}")
    return t.to(torch.long)


def _prepare(w, idx, labels, num_classes, weights, class_projector, centre) -> _Data:
    idx = _as_long(idx, "idx")
    labels = _as_long(labels, "labels").reshape(-1)
    if idx.ndim == 1:
        idx = idx[:, None]
    if idx.ndim != 2 or idx.shape[0] != labels.shape[0]:
        raise GroklabError(f"idx must be [n, arity] and labels [n], got {tuple(idx.shape)} and {tuple(labels.shape)}")
    arity = idx.shape[1]
    dim = w.shape[-1]
    if dim % arity:
        raise GroklabError(f"a node vector of length {dim} cannot hold {arity} operand blocks")
    m = dim // arity
    if idx.numel() and (idx.min() < 0 or idx.max() >= m):
        raise GroklabError(f"operand indices must lie in 0..{m - 1} for node vectors of length {dim}")
    num_classes = int(num_classes)
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise GroklabError(f"labels must lie in 0..{num_classes - 1}")
    device, dtype = w.device, w.dtype
    cols = (idx + m * torch.arange(arity, device=idx.device)[None, :]).to(device)
    labels = labels.to(device)
    counts = torch.zeros(num_classes, dtype=dtype, device=device).index_add_(
        0, labels, torch.ones(labels.shape[0], dtype=dtype, device=device)
    )
    if weights is not None:
        weights = torch.as_tensor(weights).to(device=device, dtype=dtype).reshape(-1)
        if weights.shape[0] != labels.shape[0]:
            raise GroklabError(f"weights must have one entry per row ({labels.shape[0]}), got {weights.shape[0]}")
    if class_projector is not None:
        class_projector = torch.as_tensor(class_projector).to(device=device, dtype=dtype)
        if tuple(class_projector.shape) != (num_classes, num_classes):
            raise GroklabError(f"class_projector must be [{num_classes}, {num_classes}], got {tuple(class_projector.shape)}")
    return _Data(cols, labels, counts, weights, num_classes, class_projector, bool(centre))


def preactivations(w: torch.Tensor, idx) -> torch.Tensor:
    """X w for a batch of node vectors: w [B, arity·M] (or [arity·M]) → [B, n] (or [n])."""
    idx = _as_long(idx, "idx")
    if idx.ndim == 1:
        idx = idx[:, None]
    single = w.ndim == 1
    wb = w[None] if single else w
    m = wb.shape[-1] // idx.shape[1]
    cols = (idx + m * torch.arange(idx.shape[1], device=idx.device)[None, :]).to(wb.device)
    z = sum(wb.index_select(1, cols[:, j]) for j in range(cols.shape[1]))
    return z[0] if single else z


def _class_vector(s: torch.Tensor, data: _Data) -> torch.Tensor:
    """a = Ỹᵀ(q∘s) [B, C] (then P·a with the class projector), differentiable."""
    if data.weights is not None:
        s = s * data.weights
    a = torch.zeros(s.shape[0], data.num_classes, dtype=s.dtype, device=s.device).index_add(1, data.labels, s)
    if data.centre:
        a = a - s.mean(dim=1, keepdim=True) * data.counts
    if data.projector is not None:
        a = a @ data.projector.T
    return a


def _batch(w) -> tuple[torch.Tensor, bool]:
    if not isinstance(w, torch.Tensor):
        w = torch.as_tensor(np.asarray(w), dtype=torch.float64)
    if not w.dtype.is_floating_point:
        w = w.to(torch.float64)
    if w.ndim == 1:
        return w[None], True
    if w.ndim != 2:
        raise GroklabError(f"node vectors must be [arity·M] or [B, arity·M], got shape {tuple(w.shape)}")
    return w, False


def energy(
    w,
    idx,
    labels,
    num_classes: int,
    activation: str = "sqr",
    centre: bool = True,
    *,
    weights=None,
    class_projector=None,
    paper_constants: bool = False,
) -> torch.Tensor:
    """E(w) = ½‖Ỹᵀ σ(Xw)‖² for node vectors w [B, arity·M] (or one [arity·M]) → [B] (or a 0-d tensor).

    The energy is the **definition as written** (docs/li2-quantities.md#energy-normalisation): full
    Z_M data, σ = x² give M/4 for a complex-pair frequency and M/2 for k = M/2;
    `paper_constants=True` divides by 4 (M/16, M/8).
    w is not normalised here (E is evaluated at w as given; the theory uses ‖w‖ = 1).

    Args:
        idx, labels: the dataset (any subset of the table) as operand indices [n, arity] and classes [n].
        centre: use Ỹ = P₁⊥Y (sample-centred, the paper); False uses Y itself.
        weights: optional per-row weights q [n]: E = ½‖Ỹᵀ(q∘σ(Xw))‖² (Thm 5's probabilities p_g,
            or Horvitz–Thompson reweighting).
        class_projector: optional [C, C] matrix P applied on the class axis, E = ½‖P Ỹᵀσ(Xw)‖²
            (Thm 7's E_S uses the projector onto the missing irreps).
    Differentiable with autograd; `energy_and_grad` gives the analytic gradient.
    """
    wb, single = _batch(w)
    data = _prepare(wb, idx, labels, num_classes, weights, class_projector, centre)
    _, e, _ = _forward(wb, data, activation_and_derivative(activation))
    if paper_constants:
        e = e / PAPER_FACTOR
    return e[0] if single else e


def _forward(wb: torch.Tensor, data: _Data, sigma) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class vector a = P·Ỹᵀ(q∘σ(Xw)) [B, C], energies ½‖a‖² [B], and σ'(Xw) for the gradient."""
    z = sum(wb.index_select(1, data.cols[:, j]) for j in range(data.cols.shape[1]))
    s, ds = sigma(z)
    a = _class_vector(s, data)
    return a, 0.5 * (a * a).sum(dim=1), ds


def _energy_and_grad(wb: torch.Tensor, data: _Data, sigma) -> tuple[torch.Tensor, torch.Tensor]:
    a, e, ds = _forward(wb, data, sigma)
    ga = a @ data.projector if data.projector is not None else a  # dE/d(Ỹᵀ q∘s) = Pᵀ P a
    gs = ga.index_select(1, data.labels)  # dE/d(q∘s)_i before centring
    if data.centre:
        gs = gs - (ga @ data.counts)[:, None] / data.labels.shape[0]
    if data.weights is not None:
        gs = gs * data.weights
    gz = gs * ds
    grad = torch.zeros_like(wb)
    for j in range(data.cols.shape[1]):
        grad.index_add_(1, data.cols[:, j], gz)
    return e, grad


def energy_and_grad(
    w,
    idx,
    labels,
    num_classes: int,
    activation: str = "sqr",
    centre: bool = True,
    *,
    weights=None,
    class_projector=None,
    paper_constants: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(E [B], ∇_w E [B, arity·M]) in closed form (no autograd); same arguments as `energy`."""
    wb, single = _batch(w)
    data = _prepare(wb, idx, labels, num_classes, weights, class_projector, centre)
    e, g = _energy_and_grad(wb.detach(), data, activation_and_derivative(activation))
    if paper_constants:
        e, g = e / PAPER_FACTOR, g / PAPER_FACTOR
    return (e[0], g[0]) if single else (e, g)


# -- projected gradient ascent on the sphere -----------------------------------------------------


class AscentResult(NamedTuple):
    """Final node vectors w [B, D] (unit norm), their energies [B], and the convergence mask [B]."""

    w: torch.Tensor
    energy: torch.Tensor
    converged: torch.Tensor


def ascend_energy(
    idx,
    labels,
    num_classes: int,
    starts: int = 64,
    steps: int = 3000,
    lr: float | None = None,
    activation: str = "sqr",
    seed: int = 0,
    *,
    centre: bool = True,
    weights=None,
    class_projector=None,
    basis=None,
    init=None,
    tol: float = 1e-6,
    num_values: int | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
    paper_constants: bool = False,
) -> AscentResult:
    """Batched projected gradient ascent of E on the unit sphere from `starts` random starts.

    Each start w ~ N(0, I) normalised (or the rows of `init`) is updated independently:
    w ← (w + lr_b · g_⊥) / ‖·‖, with g_⊥ the gradient's component tangent to the sphere. The step
    size is per start and adaptive (a step that lowers E is rejected and lr_b halves; an accepted
    step grows lr_b by 1.2), so the ascent is monotone for any activation. With `lr=None` the
    initial step is 0.5/‖∇E‖ at the starts.

    A start has converged when ‖g_⊥‖ ≤ tol·‖g‖ (a stationary point on the sphere) with E > 0
    (a start with E = 0 and zero gradient, e.g. an all-dead ReLU node, is not a maximum).

    Args:
        basis: optional orthonormal columns [D, r]: ascend within that subspace (w = basis · z);
            `isotypic_basis` gives the subspace of one irrep. D is then basis.shape[0].
        init: optional initial vectors [B, D] (normalised here; `starts` is then ignored).
        num_values: operand alphabet size M (node vectors have arity·M entries); default num_classes.
        dtype, device: of the computation (float64 on the CPU by default; random starts are drawn
            on the CPU with `seed`, so they do not depend on the device).
        Other arguments as in `energy` (the energies returned honour `paper_constants`).
    Returns:
        AscentResult(w [B, D], energy [B], converged [B] bool), in `dtype`.
    """
    sigma = activation_and_derivative(activation)
    gen = torch.Generator().manual_seed(int(seed))
    idx_t = _as_long(idx, "idx")
    arity = 1 if idx_t.ndim == 1 else idx_t.shape[1]
    if basis is not None:
        basis = torch.as_tensor(basis).to(device=device, dtype=dtype)
        dim, r = basis.shape
    else:
        dim = arity * int(num_classes if num_values is None else num_values)
        r = dim
    if init is not None:
        z = torch.as_tensor(init).to(device=device, dtype=dtype).clone()
        z = z[None] if z.ndim == 1 else z
        if basis is not None:
            z = z @ basis  # coordinates of the start's projection onto the subspace
        if z.shape[1] != r:
            raise GroklabError(f"init must have {dim} columns, got {tuple(z.shape)}")
    else:
        z = torch.randn(int(starts), r, generator=gen, dtype=dtype).to(device)
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-300)

    template = torch.zeros(1, dim, dtype=dtype, device=z.device)
    data = _prepare(template, idx, labels, num_classes, weights, class_projector, centre)

    def f(zz):
        wb = zz @ basis.T if basis is not None else zz
        e, g = _energy_and_grad(wb, data, sigma)
        return e, (g @ basis if basis is not None else g)

    e, g = f(z)
    if lr is None:
        scale = g.norm(dim=1)
        lr0 = 0.5 / scale[scale > 0].mean().item() if bool((scale > 0).any()) else 1.0
    else:
        lr0 = float(lr)
    step = torch.full((z.shape[0],), lr0, dtype=dtype, device=z.device)

    def tangent(zz, gg):
        return gg - (gg * zz).sum(dim=1, keepdim=True) * zz

    converged = torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)
    for _ in range(int(steps)):
        gt = tangent(z, g)
        gnorm = g.norm(dim=1)
        converged = (gt.norm(dim=1) <= tol * gnorm) & (e > 0)
        if bool(converged.all()):
            break
        z_new = z + step[:, None] * gt
        z_new = z_new / z_new.norm(dim=1, keepdim=True).clamp_min(1e-300)
        e_new, g_new = f(z_new)
        accept = e_new >= e * (1 - 1e-13) - 1e-300
        z = torch.where(accept[:, None], z_new, z)
        e = torch.where(accept, e_new, e)
        g = torch.where(accept[:, None], g_new, g)
        step = torch.where(accept, step * 1.2, step * 0.5).clamp(max=1e12 * lr0)
    else:
        gt = tangent(z, g)
        converged = (gt.norm(dim=1) <= tol * g.norm(dim=1)) & (e > 0)
    w = z @ basis.T if basis is not None else z
    if paper_constants:
        e = e / PAPER_FACTOR
    return AscentResult(w, e, converged)


# -- groups: irreps, isotypic subspaces, closed forms ----------------------------------------------


def _real_irrep_of(group: FiniteGroup, irrep) -> int:
    """Index into real_irrep_groups(group) of an irrep index, irrep label or real-irrep label."""
    groups = real_irrep_groups(group)
    ir = irreps(group)
    if isinstance(irrep, str):
        for i, g in enumerate(groups):
            if g.label == irrep:
                return i
        if irrep in ir.labels:
            k = ir.labels.index(irrep)
        else:
            allowed = [g.label for g in groups]
            raise GroklabError(f"no irrep {irrep!r} in {group.name}; labels: {', '.join(allowed)}")
    elif isinstance(irrep, Integral) and not isinstance(irrep, bool):
        k = int(irrep)
        if not 0 <= k < ir.num_irreps:
            raise GroklabError(f"irrep index {k} out of range for {group.name} (0..{ir.num_irreps - 1})")
    else:
        raise GroklabError(f"an irrep is an index or a label, got {irrep!r}")
    for i, g in enumerate(groups):
        if k in g.members:
            return i
    raise AssertionError("irrep not in any real-irrep group")


def closed_form_energy(group, irrep, activation: str = "sqr", paper_constants: bool = False) -> float:
    """Thm 2's maximum energy in one (real) irrep, full data, σ = x², binary products.

    Definition as written (docs/li2-quantities.md#energy-normalisation): M/(2 d_k) for a real irrep,
    M/(4 d_k) for a complex pair and for a quaternionic irrep; 0 for the trivial irrep. So Z_M gives
    M/4 for k ≠ 0 and M/2 for k = M/2. `paper_constants=True` divides by 4 (the paper's M/(8 d_k),
    M/(16 d_k)).

    `group` is a FiniteGroup or an int M (meaning Z_M, irrep = frequency k); `irrep` is an irrep
    index, an irrep label, or a real-irrep label ("k=3", "1b+1c").
    """
    if activation != "sqr":
        raise GroklabError(f"Thm 2's closed form holds for σ = x² only (activation 'sqr'), got {activation!r}")
    if isinstance(group, Integral) and not isinstance(group, bool):
        m = int(group)
        k = int(irrep) % m
        if k == 0:
            value = 0.0
        elif (2 * k) % m == 0:
            value = m / 2
        else:
            value = m / 4
    else:
        ri = real_irrep_groups(group)[_real_irrep_of(group, irrep)]
        ir = irreps(group)
        k = ri.members[0]
        m, d = group.order, ri.degree
        if bool(np.allclose(ir.characters[k], 1.0)):
            value = 0.0
        elif ir.fs_type[k] == "real":
            value = m / (2 * d)
        else:  # complex pair or quaternionic
            value = m / (4 * d)
    return value / PAPER_FACTOR if paper_constants else value


def isotypic_basis(group: FiniteGroup, irrep, arity: int = 2) -> torch.Tensor:
    """Orthonormal real basis [arity·M, arity·r] of node vectors whose every operand block lies in
    the real isotypic subspace of one irrep (H_k, or H_k ⊕ H_k̄ for a complex pair; r = its real
    dimension d_k² or 2d_k²). Pass it as `basis` to `ascend_energy` to maximise within the irrep."""
    ri = real_irrep_groups(group)[_real_irrep_of(group, irrep)]
    proj = isotypic_projector(group, ri.members[0], pair_conjugate=True)
    vals, vecs = np.linalg.eigh(proj)
    block = vecs[:, vals > 0.5]
    m, r = group.order, block.shape[1]
    out = np.zeros((arity * m, arity * r))
    for j in range(arity):
        out[j * m : (j + 1) * m, j * r : (j + 1) * r] = block
    return torch.from_numpy(out)


def full_data(group: FiniteGroup, arity: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(idx [M^arity, arity], labels) of the whole table, rows first-operand-major (as tasks/)."""
    m = group.order
    grids = np.meshgrid(*([np.arange(m)] * arity), indexing="ij")
    idx = np.stack([g.reshape(-1) for g in grids], axis=1)
    labels = idx[:, 0]
    for j in range(1, arity):
        labels = group.table[labels, idx[:, j]]
    return torch.from_numpy(idx), torch.from_numpy(np.ascontiguousarray(labels))


def isotypic_maximum(
    group: FiniteGroup,
    irrep,
    idx=None,
    labels=None,
    activation: str = "sqr",
    starts: int = 16,
    steps: int = 3000,
    seed: int = 0,
    paper_constants: bool = False,
) -> float:
    """The largest E found by ascent restricted to one irrep's isotypic subspace (both operands).

    Defaults to the full table (then it should equal `closed_form_energy` for σ = x²); on a subset
    it is the best "Fourier" energy to compare memorising maxima with.
    """
    if idx is None:
        idx, labels = full_data(group)
    idx = _as_long(idx, "idx")
    basis = isotypic_basis(group, irrep, arity=idx.shape[1])
    res = ascend_energy(
        idx, labels, group.order, starts=starts, steps=steps, activation=activation, seed=seed,
        basis=basis, paper_constants=paper_constants,
    )
    return float(res.energy.max())


def fourier_vector(m: int, k: int, phase: float = 0.0, arity: int = 2, dtype=torch.float64) -> torch.Tensor:
    """Unit node vector of Z_M frequency k: u_x = cos(kωx), v_x = cos(kωx + phase) (ω = 2π/M),
    each block of norm 1/√arity (k = M/2 gives (−1)^x blocks; phase is then 0 or π in effect).

    A maximiser of Cor. 2 for any phase: the relative phase of the blocks is free
    (docs/li2-quantities.md#phase-freedom)."""
    k = int(k) % m
    if k == 0:
        raise GroklabError("frequency k = 0 (the constant) is not a feature")
    x = torch.arange(m, dtype=dtype)
    omega = 2 * np.pi * k / m
    blocks = [torch.cos(omega * x + (phase if j else 0.0)) for j in range(arity)]
    w = torch.cat([b / b.norm() for b in blocks]) / np.sqrt(arity)
    return w


# -- census of maxima ----------------------------------------------------------------------------


def census(
    w,
    group: FiniteGroup,
    energies=None,
    converged=None,
    purity_threshold: float = 0.99,
) -> dict:
    """Classify node vectors (typically converged maxima) by their dominant real irrep.

    For each w the operand blocks (u = w[:M], v = w[M:2M], ...) are Fourier-analysed over `group`;
    complex-conjugate irreps are paired into one real-irrep label ("k=3" stands for {3, M−3}).
    The dominant label maximises the power summed over blocks; purity is the fraction of the total
    power in it (1 when w lies in one isotypic subspace, as Thm 2's maxima do).

    Returns a dict of:
        irrep_labels: the R real-irrep labels; power: [B, R] power summed over blocks;
        dominant: [B] index into irrep_labels; label: list of B labels; purity: [B];
        block_dominant, block_purity, block_norms: [B, arity];
        energy, converged: as given (or None / all True); pure: [B] purity ≥ threshold;
        summary: {label: count} over converged pure vectors, plus "mixed": converged impure ones;
        table: per label (and "mixed") a dict with count, energy mean/min/max (when energies are
            given) and, for single-irrep labels, `closed_form` (Thm 2, full data, σ = x²,
            definition as written) — the summary table.
    """
    wb, _ = _batch(w)
    m = group.order
    if wb.shape[1] % m:
        raise GroklabError(f"node vectors of length {wb.shape[1]} are not blocks of |{group.name}| = {m}")
    arity = wb.shape[1] // m
    blocks = wb.detach().to(torch.float64).reshape(wb.shape[0], arity, m)
    block_power = real_irrep_power(group, blocks)  # [B, arity, R]
    power = block_power.sum(dim=1)
    total = power.sum(dim=1).clamp_min(1e-300)
    dominant = power.argmax(dim=1)
    purity = power.gather(1, dominant[:, None])[:, 0] / total
    bdom = block_power.argmax(dim=2)
    bpur = block_power.gather(2, bdom[..., None])[..., 0] / block_power.sum(dim=2).clamp_min(1e-300)
    groups = real_irrep_groups(group)
    names = [g.label for g in groups]
    labels = [names[int(i)] for i in dominant]
    conv = torch.ones(wb.shape[0], dtype=torch.bool) if converged is None else torch.as_tensor(converged).bool()
    pure = purity >= purity_threshold
    e = None if energies is None else torch.as_tensor(energies).detach().to(torch.float64)
    keys = [labels[i] if bool(pure[i]) else "mixed" for i in range(wb.shape[0]) if bool(conv[i])]
    kept = [i for i in range(wb.shape[0]) if bool(conv[i])]
    summary = dict(Counter(keys))
    table = []
    order = [n for n in names if n in summary] + (["mixed"] if "mixed" in summary else [])
    for name in order:
        rows = [i for i, key in zip(kept, keys) if key == name]
        entry: dict = {"label": name, "count": len(rows)}
        if e is not None:
            ev = e[rows]
            entry.update(energy_mean=float(ev.mean()), energy_min=float(ev.min()), energy_max=float(ev.max()))
        if name != "mixed" and arity == 2:
            entry["closed_form"] = closed_form_energy(group, name)
        table.append(entry)
    return {
        "irrep_labels": names,
        "power": power,
        "dominant": dominant,
        "label": labels,
        "purity": purity,
        "block_dominant": bdom,
        "block_purity": bpur,
        "block_norms": blocks.norm(dim=2),
        "energy": e,
        "converged": conv,
        "pure": pure,
        "summary": summary,
        "table": table,
    }


# -- Thm 7: missing features ---------------------------------------------------------------------


def missing_feature_projector(group: FiniteGroup, learned: Iterable) -> torch.Tensor:
    """[M, M] real projector (class axis) onto the isotypic subspaces of the non-trivial irreps
    *not* in `learned` (irrep indices or labels; naming one member of a complex pair marks the pair)."""
    groups = real_irrep_groups(group)
    done = {_real_irrep_of(group, x) for x in learned}
    ir = irreps(group)
    proj = np.zeros((group.order, group.order))
    for i, g in enumerate(groups):
        if i in done or bool(np.allclose(ir.characters[g.members[0]], 1.0)):
            continue
        proj += isotypic_projector(group, g.members[0], pair_conjugate=True)
    return torch.from_numpy(proj)


def missing_feature_energy(
    w,
    group: FiniteGroup,
    learned: Iterable,
    idx=None,
    labels=None,
    activation: str = "sqr",
    centre: bool = True,
    paper_constants: bool = False,
) -> torch.Tensor:
    """Thm 7's E_S(w) = ½‖P_S Ỹᵀσ(Xw)‖², P_S the class-axis projector onto the missing irreps
    (those not in `learned`), on the dataset idx/labels (default: the full table). Its local
    maxima are the missing irreps only (σ = x²); a learned irrep's maximiser has E_S = 0."""
    if idx is None:
        idx, labels = full_data(group)
    proj = missing_feature_projector(group, learned)
    return energy(
        w, idx, labels, group.order, activation, centre, class_projector=proj, paper_constants=paper_constants
    )


def ascend_missing_features(
    group: FiniteGroup, learned: Iterable, idx=None, labels=None, **kwargs
) -> AscentResult:
    """`ascend_energy` on E_S (Thm 7), default full table; keyword arguments are passed on."""
    if idx is None:
        idx, labels = full_data(group)
    proj = missing_feature_projector(group, learned)
    return ascend_energy(idx, labels, group.order, class_projector=proj, **kwargs)


# -- Thm 5: memorisation --------------------------------------------------------------------------


class MemorizationData(NamedTuple):
    """Thm 5's data: rows (g, g⁻¹h) for one target h, with probabilities p_g as row weights.

    With a single class the sample-centred Ỹ vanishes, so Thm 5's energy is the uncentred,
    weighted one: E = ½(Σ_g p_g σ(u_g + v_{g⁻¹h}))² — use `energy(..., centre=False,
    weights=data.weights)` (or `ascend_memorization`)."""

    idx: torch.Tensor  # [M, 2]
    labels: torch.Tensor  # [M], all = target
    weights: torch.Tensor  # [M] p_g
    num_classes: int
    target: int


def memorization_data(group: FiniteGroup, target: int, probabilities=None) -> MemorizationData:
    """Rows (g, g⁻¹h) for every g, with weights p_g (default uniform; normalised to sum 1)."""
    m = group.order
    h = int(target)
    if not 0 <= h < m:
        raise GroklabError(f"target must be an element index 0..{m - 1}, got {target}")
    p = np.full(m, 1.0 / m) if probabilities is None else np.asarray(probabilities, dtype=np.float64)
    if p.shape != (m,) or (p < 0).any() or p.sum() <= 0:
        raise GroklabError(f"probabilities must be {m} non-negative numbers with a positive sum")
    p = p / p.sum()
    g = np.arange(m)
    second = group.table[group.inverses[g], h]
    idx = torch.from_numpy(np.stack([g, second], axis=1))
    return MemorizationData(idx, torch.full((m,), h, dtype=torch.long), torch.from_numpy(p), m, h)


def ascend_memorization(data: MemorizationData, activation: str = "sqr", **kwargs) -> AscentResult:
    """Ascent of Thm 5's energy (uncentred, weights p_g); keyword arguments go to `ascend_energy`."""
    return ascend_energy(
        data.idx, data.labels, data.num_classes, activation=activation, centre=False, weights=data.weights, **kwargs
    )


def memorization_shape(w, data: MemorizationData) -> dict:
    """Shape of node vectors on Thm 5's data.

    s_g = u_g + v_{g⁻¹h} are the pair sums. Returns [B]-tensors: `focus` = max_g s_g² / Σ s_g²
    (1 for the focused optimum (e_{g*}, e_{g*⁻¹h})/√2 of σ = x²), `argmax` g*, `p_cosine` =
    cos(s, p) (1 for ReLU's spread optimum s ∝ p), `balance` = ‖u − v∘(g ↦ g⁻¹h)‖ (0 at both
    optima: each pair splits its sum equally), and `pair_sums` [B, M]."""
    wb, _ = _batch(w)
    m = data.num_classes
    u = wb[:, :m]
    v = wb[:, m : 2 * m].index_select(1, data.idx[:, 1])  # v_{g⁻¹h} aligned with g
    s = u + v
    p = data.weights.to(wb.dtype)
    s2 = s * s
    return {
        "pair_sums": s,
        "focus": s2.max(dim=1).values / s2.sum(dim=1).clamp_min(1e-300),
        "argmax": s2.argmax(dim=1),
        "p_cosine": (s @ p) / (s.norm(dim=1) * p.norm()).clamp_min(1e-300),
        "balance": (u - v).norm(dim=1),
    }


def memorization_optimum(data: MemorizationData, activation: str = "sqr") -> torch.Tensor:
    """Thm 5's global optimum [2M]: σ = x² (φ non-decreasing) → (e_{g*}, e_{g*⁻¹h})/√2 with
    g* = argmax p_g; ReLU (φ = 1/x decreasing) → s_g = φ⁻¹(2λ/p_g) ∝ p_g with Σ s_g² = 2, split
    equally, u_g = v_{g⁻¹h} = s_g/2. Other activations have no closed form here."""
    m = data.num_classes
    p = data.weights.to(torch.float64)
    second = data.idx[:, 1]
    w = torch.zeros(2 * m, dtype=torch.float64)
    if activation == "sqr":
        g = int(p.argmax())
        w[g] = w[m + int(second[g])] = 1 / np.sqrt(2)
    elif activation == "relu":
        s = p * np.sqrt(2) / p.norm()
        w[:m] = s / 2
        w[m + second] = s / 2
    else:
        raise GroklabError(f"Thm 5's closed-form optimum is implemented for 'sqr' and 'relu', got {activation!r}")
    return w
