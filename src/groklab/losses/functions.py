"""Per-member losses for ensembles.

Every loss takes ``logits [S, n, C]`` (real) and ``labels [S, n]`` (int64; a shared ``[n]`` is broadcast to
all members) and returns the **per-member** loss ``[S]``, a mean over that member's samples (except where
stated). Members never mix, so ``loss.sum().backward()`` gives every member its own gradient, identical to
the one it would get trained alone.

Losses:

- ``mse_class_centred``: the Li2 reference code's MSE (``loss_func=mse``): centre each output across classes,
  target ``e_y - 1/C``, squared error summed over classes, averaged over samples, no 1/2.
- ``mse_sample_centred``: the Li2 paper's ``1/2 ||P_perp (Y - Yhat)||_F^2`` with ``P_perp`` centring across
  the *sample* axis (per member, per class). The paper has no 1/n; ``normalise=True`` (default) divides by n
  so learning rates are comparable with the averaged losses; ``normalise=False`` is the paper's scale.
- ``cross_entropy``: softmax cross-entropy computed in float32 or float64.
- ``stablemax_cross_entropy``: Prieto et al.'s StCE, always computed in float64.
- ``sparsemax_loss``: Martins & Astudillo's sparsemax (Fenchel-Young) loss via ``entmax``; gradient
  ``sparsemax(z) - e_y``.

Every loss is returned in the logits' dtype (computations done at a higher precision are cast back).
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F

from groklab.dtypes import DTYPES, resolve_dtype
from groklab.errors import GroklabError, closest
from groklab.losses.kinds import CENTRINGS, LOSS_DTYPES, LOSS_KINDS

__all__ = [
    "mse_class_centred",
    "mse_sample_centred",
    "cross_entropy",
    "stablemax",
    "stablemax_cross_entropy",
    "sparsemax_loss",
    "softmax_collapse_fraction",
    "zero_loss_fraction",
    "LOSSES",
    "CENTRINGS",
    "LOSS_DTYPES",
    "get_loss",
]

assert set(LOSS_DTYPES) == set(DTYPES)  # the registry names the precisions groklab computes in


def _labels(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Labels as int64 ``[S, n]`` matching ``logits [S, n, C]`` (a shared ``[n]`` is expanded)."""
    if logits.dim() != 3:
        raise ValueError(f"logits must be [S, n, C], got {tuple(logits.shape)}")
    labels = labels.to(torch.int64)
    if labels.dim() == 1:
        labels = labels.unsqueeze(0).expand(logits.shape[0], -1)
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    return labels


def _resolve_dtype(dtype) -> torch.dtype:
    return resolve_dtype(dtype, what="loss dtype")


def _one_hot(labels: torch.Tensor, C: int, dtype: torch.dtype) -> torch.Tensor:
    Y = torch.zeros(*labels.shape, C, dtype=dtype, device=labels.device)
    return Y.scatter_(-1, labels.unsqueeze(-1), 1.0)


# ---------------------------------------------------------------------------------------------------
# MSE
def mse_class_centred(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Li2 reference MSE: ``mean_i || o_i - mean_c(o_i) - (e_{y_i} - 1/C) ||^2`` per member ``[S]``."""
    labels = _labels(labels, logits)
    C = logits.shape[-1]
    target = _one_hot(labels, C, logits.dtype).sub_(1.0 / C)
    resid = logits - logits.mean(dim=-1, keepdim=True) - target
    return resid.square().sum(dim=-1).mean(dim=-1)


def mse_sample_centred(logits: torch.Tensor, labels: torch.Tensor, normalise: bool = True) -> torch.Tensor:
    """Li2 paper MSE: ``1/2 || P_perp (Y - Yhat) ||_F^2`` per member ``[S]``, with ``P_perp = I - 11^T/n`` centring
    the residual across the member's n samples (per class). ``normalise=True`` divides by n (not in the paper)
    so that the scale matches a per-sample mean; ``normalise=False`` is the paper's sum."""
    labels = _labels(labels, logits)
    resid = _one_hot(labels, logits.shape[-1], logits.dtype) - logits
    resid = resid - resid.mean(dim=1, keepdim=True)
    loss = 0.5 * resid.square().sum(dim=(1, 2))
    return loss / logits.shape[1] if normalise else loss


# ---------------------------------------------------------------------------------------------------
# Softmax family
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, dtype="float32") -> torch.Tensor:
    """Softmax cross-entropy per member ``[S]``, computed in ``dtype`` ('float32' | 'float64') and cast back."""
    labels = _labels(labels, logits)
    S, n, C = logits.shape
    z = logits.to(_resolve_dtype(dtype))
    loss = F.cross_entropy(z.reshape(S * n, C), labels.reshape(S * n), reduction="none")
    return loss.view(S, n).mean(dim=-1).to(logits.dtype)


def _ramp(x: torch.Tensor) -> torch.Tensor:
    """Prieto's s(x): x + 1 for x >= 0 and 1/(1 - x + 1e-30) for x < 0 (the negative branch is evaluated on
    min(x, 0), so its value is the official code's where selected and its gradient is finite everywhere)."""
    neg = 1.0 / (1.0 - x.clamp(max=0.0) + 1e-30)
    return torch.where(x >= 0, x + 1.0, neg)


def stablemax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """StableMax(z)_i = s(z_i) / sum_j s(z_j), in the input's dtype."""
    s = _ramp(logits)
    return s / s.sum(dim=dim, keepdim=True)


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """StableMax cross-entropy per member ``[S]``: ``-log(s(z_y) / sum_j s(z_j))`` averaged over samples,
    computed in float64 (as the official code) and cast back to the logits' dtype."""
    labels = _labels(labels, logits)
    s = _ramp(logits.to(torch.float64))
    p_y = s.gather(-1, labels.unsqueeze(-1)).squeeze(-1) / s.sum(dim=-1)
    return (-torch.log(p_y)).mean(dim=-1).to(logits.dtype)


def sparsemax_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sparsemax (Fenchel-Young) loss per member ``[S]`` via ``entmax.sparsemax_loss``.

    ``entmax.sparsemax_loss`` takes 2-D ``(N, C)`` input and returns the unreduced per-row loss ``(N,)``
    (only the ``SparsemaxLoss`` module reduces, with ``reduction="elementwise_mean"``), so members are
    flattened into rows and each member's rows are averaged. Gradient: ``(sparsemax(z) - e_y) / n``.
    """
    from entmax import sparsemax_loss as _entmax_sparsemax_loss

    labels = _labels(labels, logits)
    S, n, C = logits.shape
    loss = _entmax_sparsemax_loss(logits.reshape(S * n, C), labels.reshape(S * n))
    return loss.view(S, n).mean(dim=-1)


# ---------------------------------------------------------------------------------------------------
# Diagnostics (no gradients)
@torch.no_grad()
def softmax_collapse_fraction(logits: torch.Tensor, dtype="float32") -> torch.Tensor:
    """Per member ``[S]``: the fraction of samples whose ``sum_k exp(z_k - max z)`` is exactly 1 at the
    working precision ``dtype`` (Prieto's softmax-collapse metric). Returned as float32."""
    z = logits.detach().to(_resolve_dtype(dtype))
    total = torch.exp(z - z.amax(dim=-1, keepdim=True)).sum(dim=-1)
    return (total == 1).to(torch.float32).mean(dim=-1)


@torch.no_grad()
def zero_loss_fraction(logits: torch.Tensor, labels: torch.Tensor, dtype="float32") -> torch.Tensor:
    """Per member ``[S]``: the fraction of samples whose cross-entropy is exactly 0 at precision ``dtype``."""
    labels = _labels(labels, logits)
    S, n, C = logits.shape
    z = logits.detach().to(_resolve_dtype(dtype))
    loss = F.cross_entropy(z.reshape(S * n, C), labels.reshape(S * n), reduction="none").view(S, n)
    return (loss == 0).to(torch.float32).mean(dim=-1)


# ---------------------------------------------------------------------------------------------------
# Registry
LOSSES: dict[str, Callable[..., torch.Tensor]] = {kind: globals()[k.impl] for kind, k in LOSS_KINDS.items()}


def get_loss(kind: str, centring: str = "class", dtype="float32", normalise: bool = True) -> Callable:
    """The loss ``(logits [S, n, C], labels) -> [S]`` for a config's ``loss.kind``.

    ``centring`` ('class' | 'sample') selects the MSE variant (reference vs paper) and ``normalise`` the
    paper MSE's 1/n; ``dtype`` ('float32' | 'float64') is the precision of 'ce'. StableMax is always
    float64 and sparsemax runs in the logits' dtype; ``centring`` and ``dtype`` are validated but unused there.
    """
    if kind not in LOSSES:
        hint = closest(str(kind), LOSSES)
        raise GroklabError(
            f"loss.kind={kind!r} is not known; allowed: {', '.join(LOSSES)}" + (f" (did you mean {hint!r}?)" if hint else "")
        )
    if centring not in CENTRINGS:
        raise GroklabError(f"loss.centring={centring!r} is not known; allowed: {', '.join(CENTRINGS)}")
    _resolve_dtype(dtype)
    if kind == "mse":
        if centring == "sample":
            return functools.partial(mse_sample_centred, normalise=normalise)
        return mse_class_centred
    if kind == "ce":
        return functools.partial(cross_entropy, dtype=dtype)
    return LOSSES[kind]
