"""The Li₂ energy of one hidden node, E(w) = ½ ‖Ỹᵀ σ(X w)‖², and its gradient (Thm 1).

Ỹ = P₁⊥ Y are the targets centred along the *sample* axis; the theory takes ‖w‖ = 1. Inputs are never
materialised as one-hot matrices: a dataset is `idx` [n, arity] operand indices and `labels` [n]; a
node weight vector `w` has arity·M entries (the layout of one row of the first layer W [K, arity·M]:
operand j, value v ↦ column j·M + v), so

    (X w)_i = Σ_j w[j·M + idx[i, j]]                (a gather)
    (Ỹᵀ s)_c = Σ_{i: label_i = c} s_i − n_c · mean(s)  (an index_add minus the mean)

Every energy is the **definition as written**, with no 1/n and no other factor: 4× the paper's
constants, which `paper_constants=True` gives instead (docs/li2-quantities.md#energy-normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup
from groklab.models.activations import ACTIVATIONS as _REGISTRY
from groklab.models.activations import get_activation

PAPER_FACTOR = 4.0  # definition as written ÷ paper constants (docs/li2-quantities.md#energy-normalisation)

# -- activations --------------------------------------------------------------------------------

ACTIVATIONS = tuple(_REGISTRY)  # every activation the energy is defined for (groklab.models.activations)


def activation_and_derivative(name: str) -> Callable:
    """z ↦ (σ(z), σ'(z)) for one of ACTIVATIONS (`sqr` is x², the reference default)."""
    return get_activation(name, what="activation").value_and_derivative


# -- the data side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergyData:
    """A dataset prepared for energies of node vectors of one dtype and device."""

    cols: torch.Tensor  # [n, arity] input columns j·M + idx[:, j]
    labels: torch.Tensor  # [n]
    counts: torch.Tensor  # [C] rows per class (float)
    weights: torch.Tensor | None  # [n] or None
    num_classes: int
    projector: torch.Tensor | None  # [C, C] or None
    centre: bool


def as_index_tensor(x, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.dtype.is_floating_point or t.dtype.is_complex:
        raise GroklabError(f"{what} must be integer indices, got dtype {t.dtype}")
    return t.to(torch.long)


def prepare_energy_data(w, idx, labels, num_classes, weights, class_projector, centre) -> EnergyData:
    idx = as_index_tensor(idx, "idx")
    labels = as_index_tensor(labels, "labels").reshape(-1)
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
    return EnergyData(cols, labels, counts, weights, num_classes, class_projector, bool(centre))


def preactivations(w: torch.Tensor, idx) -> torch.Tensor:
    """X w for a batch of node vectors: w [B, arity·M] (or [arity·M]) → [B, n] (or [n])."""
    idx = as_index_tensor(idx, "idx")
    if idx.ndim == 1:
        idx = idx[:, None]
    single = w.ndim == 1
    wb = w[None] if single else w
    m = wb.shape[-1] // idx.shape[1]
    cols = (idx + m * torch.arange(idx.shape[1], device=idx.device)[None, :]).to(wb.device)
    z = sum(wb.index_select(1, cols[:, j]) for j in range(cols.shape[1]))
    return z[0] if single else z


def _class_vector(s: torch.Tensor, data: EnergyData) -> torch.Tensor:
    """a = Ỹᵀ(q∘s) [B, C] (then P·a with the class projector), differentiable."""
    if data.weights is not None:
        s = s * data.weights
    a = torch.zeros(s.shape[0], data.num_classes, dtype=s.dtype, device=s.device).index_add(1, data.labels, s)
    if data.centre:
        a = a - s.mean(dim=1, keepdim=True) * data.counts
    if data.projector is not None:
        a = a @ data.projector.T
    return a


def as_node_batch(w) -> tuple[torch.Tensor, bool]:
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
    wb, single = as_node_batch(w)
    data = prepare_energy_data(wb, idx, labels, num_classes, weights, class_projector, centre)
    _, e, _ = _forward(wb, data, activation_and_derivative(activation))
    if paper_constants:
        e = e / PAPER_FACTOR
    return e[0] if single else e


def _forward(wb: torch.Tensor, data: EnergyData, sigma) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class vector a = P·Ỹᵀ(q∘σ(Xw)) [B, C], energies ½‖a‖² [B], and σ'(Xw) for the gradient."""
    z = sum(wb.index_select(1, data.cols[:, j]) for j in range(data.cols.shape[1]))
    s, ds = sigma(z)
    a = _class_vector(s, data)
    return a, 0.5 * (a * a).sum(dim=1), ds


def batch_energy_and_grad(wb: torch.Tensor, data: EnergyData, sigma) -> tuple[torch.Tensor, torch.Tensor]:
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
    wb, single = as_node_batch(w)
    data = prepare_energy_data(wb, idx, labels, num_classes, weights, class_projector, centre)
    e, g = batch_energy_and_grad(wb.detach(), data, activation_and_derivative(activation))
    if paper_constants:
        e, g = e / PAPER_FACTOR, g / PAPER_FACTOR
    return (e[0], g[0]) if single else (e, g)


def full_data(group: FiniteGroup, arity: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(idx [M^arity, arity], labels) of the whole table, rows first-operand-major (as tasks/)."""
    m = group.order
    grids = np.meshgrid(*([np.arange(m)] * arity), indexing="ij")
    idx = np.stack([g.reshape(-1) for g in grids], axis=1)
    labels = idx[:, 0]
    for j in range(1, arity):
        labels = group.table[labels, idx[:, j]]
    return torch.from_numpy(idx), torch.from_numpy(np.ascontiguousarray(labels))
