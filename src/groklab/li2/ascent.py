"""Projected gradient ascent of the Li₂ energy on the unit sphere, from many starts at once."""

from __future__ import annotations

from typing import NamedTuple

import torch

from groklab.errors import GroklabError
from groklab.li2.node_energy import (
    PAPER_FACTOR,
    activation_and_derivative,
    as_index_tensor,
    batch_energy_and_grad,
    prepare_energy_data,
)

# -- projected gradient ascent on the sphere -----------------------------------------------------


class AscentResult(NamedTuple):
    """Final node vectors w [B, D] (unit norm), their energies [B], and the convergence mask [B]."""

    w: torch.Tensor
    energy: torch.Tensor
    converged: torch.Tensor


def ascent_bytes(starts: int, pairs: int, dim: int, itemsize: int = 8) -> int:
    """Rough peak memory of `ascend_energy`: a few [pairs, starts] activations and [starts, dim] iterates
    (current, proposed, gradients), so that a request can be refused before anything is allocated."""
    return int(starts) * (4 * int(pairs) + 8 * int(dim)) * itemsize


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
    idx_t = as_index_tensor(idx, "idx")
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
    data = prepare_energy_data(template, idx, labels, num_classes, weights, class_projector, centre)

    def f(zz):
        wb = zz @ basis.T if basis is not None else zz
        e, g = batch_energy_and_grad(wb, data, sigma)
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
