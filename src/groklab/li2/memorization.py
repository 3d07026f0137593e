"""Thm 5: the energy landscape of memorisation, on data holding a single target."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup
from groklab.li2.ascent import AscentResult, ascend_energy
from groklab.li2.node_energy import as_node_batch

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
    wb, _ = as_node_batch(w)
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
