"""Thm 7 in training (the interactive stage): once some irreps are learned, where does G_F push the nodes?

Pure functions of one member's tensors (docs/li2-quantities.md#features-of-trained-nodes for the irrep split):

    node_gradient(G, W, idx)              the first-layer update G_F drives, Σ_i G[i, j] σ'(z_ij) x_i per node,
                                          for σ = x² (σ' = 2z): [K, arity·M]
    learned_missing_power(g, W, group)    that update's non-trivial irrep power over the active nodes, on the
                                          irreps already learned (covered by active ≥ 80 %-pure nodes of W) and
                                          on the missing ones; `share_missing` and the `baseline` it is held to
                                          (the missing irreps' share of the non-trivial irreps)

Thm 7 says G_F concentrates on the missing irreps: `share_missing` above `baseline`. Its negative control is the
same split of the Stage II update (G = ỸỸᵀF̃, `diagnostics.stage2_prediction`), which has no interaction
between nodes, so nothing steers it away from the irreps already learned.
"""

from __future__ import annotations

import torch

from groklab.errors import GroklabError
from groklab.groups import FiniteGroup
from groklab.li2.features import _trivial_index, coverage, node_spectra


def node_gradient(G: torch.Tensor, W: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Σ_i G[i, j] · 2 z_ij · x_i for every node j (σ = x², z_ij = x_i·w_j): the first-layer direction that G_F
    [n, K] drives (−∂J/∂W when G = −∂J/∂F). W [K, arity·M]; idx [n, arity] operand values."""
    W, G = torch.as_tensor(W, dtype=torch.float64), torch.as_tensor(G, dtype=torch.float64)
    idx = torch.as_tensor(idx).long()
    if G.shape != (idx.shape[0], W.shape[0]):
        raise GroklabError(f"G must be [n, K] = [{idx.shape[0]}, {W.shape[0]}], got {tuple(G.shape)}")
    m = W.shape[1] // idx.shape[1]
    Z = sum(W[:, j * m + idx[:, j]].T for j in range(idx.shape[1]))  # [n, K] pre-activations
    weight = (2.0 * G * Z).T  # [K, n]
    out = torch.zeros_like(W)
    for j in range(idx.shape[1]):
        out.index_add_(1, j * m + idx[:, j], weight)
    return out


def learned_missing_power(g: torch.Tensor, W: torch.Tensor, group: FiniteGroup) -> dict:
    """The update g [K, D]'s non-trivial irrep power over W's active nodes, split into the irreps W has learned
    (covered) and the missing ones: {learned, missing (counts), power_learned, power_missing, share_missing,
    baseline}; share_missing is NaN when nothing or everything is learned (no split to make)."""
    cov = coverage(W, group)
    trivial = _trivial_index(group)
    power = node_spectra(g, group).sum(dim=-2)[cov["active"]].sum(dim=0)  # [R] over active nodes
    nontrivial = torch.ones_like(cov["covered"])
    nontrivial[trivial] = False
    learned, missing = cov["covered"], nontrivial & ~cov["covered"]
    pl, pm = float(power[learned].sum()), float(power[missing].sum())
    n_l, n_m = int(learned.sum()), int(missing.sum())
    split = n_l > 0 and n_m > 0 and pl + pm > 0
    return dict(learned=n_l, missing=n_m, power_learned=pl, power_missing=pm,
                share_missing=pm / (pl + pm) if split else float("nan"),
                baseline=n_m / (n_l + n_m) if n_l + n_m else float("nan"))
