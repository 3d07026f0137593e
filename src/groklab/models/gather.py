"""The Li2 first layer as a gather of W's columns, with an explicit scatter-add backward.

The Li2 input for a k-ary product is the concatenation of k one-hot vectors, so the first layer
``X @ W.T`` only adds up k columns of W per sample. This module computes exactly that:

    H[s, i, :] = sum_j W[s, :, idx[s, i, j]]

where ``idx`` holds *offset* column indices (operand j with value v is column ``j*M + v``), and the
weight gradient as a scatter-add of the rows of dH into those columns.

Layout. ``W`` is ``[S, K, D]``: per member the ``nn.Linear`` (out, in) layout, so ``W[s]`` is the
reference code's ``W.weight`` and the Muon optimizer sees the usual (out, in) matrix. Columns of a
``[K, D]`` matrix are strided, so the forward transposes W once to ``[S, D, K]`` (a 1 MiB copy at
Z71/K=2048, ~0.15 ms) and gathers contiguous rows; the backward scatters into ``[S*D, K]`` and
transposes back. Both copies are small next to the O(n*K) gather itself.

Measured on the 2-core CI-like CPU (torch 2.13, float32, S=1, M=71, D=142, K=2048, n=2016), first layer
alone: dense one-hot bmm 7.5 ms forward + 8.7 ms weight gradient; the gather ~0.5 ms forward
(``embedding_bag`` sum) + ~0.5 ms scatter (``index_add_``), plus ~0.3 ms of W transposes. The model uses
:func:`gather_activation`, which also folds the activation's derivative into the backward; end to end
see :mod:`groklab.models.two_layer`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from groklab.models.activations import ACTIVATIONS

__all__ = [
    "gather_first_layer",
    "gather_activation",
    "FUSED_ACTIVATIONS",
    "dense_first_layer",
    "flat_index",
    "one_hot_inputs",
]


def flat_index(idx: torch.Tensor, num_members: int, in_dim: int) -> torch.Tensor:
    """Offset column indices ``[S, n, arity]`` or shared ``[n, arity]`` -> row indices ``[S*n, arity]``
    into the member-stacked transposed weight ``[S*D, K]`` (member s's rows start at ``s*D``)."""
    if idx.dim() == 2:
        idx = idx.unsqueeze(0).expand(num_members, -1, -1)
    elif idx.dim() != 3 or idx.shape[0] != num_members:
        raise ValueError(f"idx must be [n, arity] or [S={num_members}, n, arity], got {tuple(idx.shape)}")
    offsets = torch.arange(num_members, device=idx.device, dtype=torch.int64).mul_(in_dim)
    return (idx.to(torch.int64) + offsets.view(-1, 1, 1)).reshape(-1, idx.shape[-1])


def _gather_rows(W: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """``[S*n, K]``: for each row of ``flat``, the sum of the indexed rows of W transposed to ``[S*D, K]``."""
    S, K, D = W.shape
    Wt = W.transpose(1, 2).contiguous().view(S * D, K)  # contiguous rows = W's columns
    if Wt.is_complex():  # embedding_bag is real-only
        H = Wt.index_select(0, flat[:, 0])
        for j in range(1, flat.shape[1]):
            H.add_(Wt.index_select(0, flat[:, j]))
        return H
    return F.embedding_bag(flat, Wt, mode="sum")  # one fused pass: gather and sum each sample's rows


def _scatter_rows(grad_H: torch.Tensor, flat: torch.Tensor, shape) -> torch.Tensor:
    """The adjoint of :func:`_gather_rows`: scatter-add ``grad_H [S*n, K]`` into ``grad_W [S, K, D]``."""
    S, K, D = shape
    g = grad_H.reshape(-1, K)
    if not g.is_contiguous():
        g = g.contiguous()
    gWt = torch.zeros(S * D, K, dtype=g.dtype, device=g.device)
    for j in range(flat.shape[1]):
        gWt.index_add_(0, flat[:, j], g)
    # The selection is real, so the same scatter is the (conjugate Wirtinger) gradient for complex W.
    return gWt.view(S, D, K).transpose(1, 2).contiguous()


class _GatherFirstLayer(torch.autograd.Function):
    """H = sum_j W[:, :, idx[..., j]] with grad_W = scatter-add of dH (see module docstring)."""

    @staticmethod
    def forward(ctx, W: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        S, K, D = W.shape
        flat = flat_index(idx, S, D)  # [S*n, arity]
        ctx.save_for_backward(flat)
        ctx.shape = (S, K, D)
        return _gather_rows(W, flat).view(S, -1, K)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_H: torch.Tensor):
        (flat,) = ctx.saved_tensors
        return _scatter_rows(grad_H, flat, ctx.shape), None


# Activation and its derivative from the pre-activation H, for the fused op (the registry's `fused` forms).
FUSED_ACTIVATIONS = {name: a.fused for name, a in ACTIVATIONS.items() if a.fused is not None}


# The hot path is a custom op rather than an autograd.Function: under torch.compile an autograd.Function
# is traced into the graph and inductor lowers embedding_bag/index_add_ to generic loops (measured 3x
# slower than eager at Z23, S=8), while a custom op stays an opaque call to these eager kernels.
@torch.library.custom_op("groklab::gather_activation", mutates_args=())
def _gather_activation_op(W: torch.Tensor, flat: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(F [S, n, K], H [S*n, K]) with H the pre-activation saved for the backward (empty for 'linear')."""
    S, K, _ = W.shape
    H = _gather_rows(W, flat)
    if activation == "linear":  # outputs may not alias each other: return H once
        return H.view(S, -1, K), H.new_empty(0)
    return FUSED_ACTIVATIONS[activation][0](H).view(S, -1, K), H


@_gather_activation_op.register_fake
def _(W, flat, activation):
    S, K, _ = W.shape
    H = W.new_empty(0) if activation == "linear" else W.new_empty(flat.shape[0], K)
    return W.new_empty(S, flat.shape[0] // S, K), H


@torch.library.custom_op("groklab::gather_activation_backward", mutates_args=())
def _gather_activation_backward_op(
    grad_F: torch.Tensor, H: torch.Tensor, flat: torch.Tensor, S: int, K: int, D: int, activation: str
) -> torch.Tensor:
    if activation == "linear":
        grad_H = grad_F
    else:
        grad_H = FUSED_ACTIVATIONS[activation][1](H, grad_F.reshape(H.shape))
    return _scatter_rows(grad_H, flat, (S, K, D))


@_gather_activation_backward_op.register_fake
def _(grad_F, H, flat, S, K, D, activation):
    return grad_F.new_empty(S, K, D)


def _gather_activation_setup(ctx, inputs, output):
    W, flat, activation = inputs
    ctx.save_for_backward(flat, output[1])
    ctx.shape, ctx.activation = tuple(W.shape), activation


def _gather_activation_backward(ctx, grad_F, _grad_H):
    flat, H = ctx.saved_tensors
    S, K, D = ctx.shape
    grad_F = grad_F.contiguous()
    return _gather_activation_backward_op(grad_F, H, flat, S, K, D, ctx.activation), None, None


_gather_activation_op.register_autograd(_gather_activation_backward, setup_context=_gather_activation_setup)


def gather_first_layer(W: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """First layer of the Li2 net as a gather: ``W [S, K, D]``, offset ``idx [S, n, arity]`` (or shared
    ``[n, arity]``, int64, operand j value v -> column ``j*M + v``) -> ``H [S, n, K]``.

    Equal to ``one_hot_inputs(idx, D) @ W.transpose(1, 2)`` (tested); differentiable in W only.
    """
    if W.dim() != 3:
        raise ValueError(f"W must be [S, K, D], got {tuple(W.shape)}")
    return _GatherFirstLayer.apply(W, idx)


def gather_activation(W: torch.Tensor, idx: torch.Tensor, activation: str) -> torch.Tensor:
    """``activation(gather_first_layer(W, idx))`` with the activation's derivative folded into the scatter
    backward (the model's hot path): the backward makes one new ``[S, n, K]`` tensor where autograd's
    ``x*x`` makes three. ``activation`` in :data:`FUSED_ACTIVATIONS` (the model activations of
    :mod:`groklab.models.activations`). Implemented as the custom op ``groklab::gather_activation`` so that ``torch.compile`` keeps it
    opaque."""
    if W.dim() != 3:
        raise ValueError(f"W must be [S, K, D], got {tuple(W.shape)}")
    if activation not in FUSED_ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(FUSED_ACTIVATIONS)}, got {activation!r}")
    S, K, D = W.shape
    return _gather_activation_op(W, flat_index(idx, S, D), activation)[0]


def one_hot_inputs(idx: torch.Tensor, in_dim: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The dense input X ``[..., n, D]`` with ones at the offset indices (reference/benchmark only)."""
    X = torch.zeros(*idx.shape[:-1], in_dim, dtype=dtype, device=idx.device)
    return X.scatter_add_(-1, idx.to(torch.int64), torch.ones(idx.shape, dtype=dtype, device=idx.device))


def dense_first_layer(W: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The same function as :func:`gather_first_layer` as a dense one-hot ``bmm`` (the slow reference)."""
    S, K, D = W.shape
    X = one_hot_inputs(idx, D, W.dtype)
    if X.dim() == 2:
        X = X.unsqueeze(0).expand(S, -1, -1)
    return torch.bmm(X, W.transpose(1, 2))
