"""The activations σ, one registry for the model, the energy analysis, figures and the config.

Each entry carries every form a caller needs: the element-wise σ (extra layers), (σ(z), σ'(z)) for the
energy ascent in `groklab.li2`, and — for the activations the model trains with — the fused pair
(forward on the pre-activation H, backward g ↦ g·σ'(H)) of the gather in `groklab.models.gather`.
`config_schema.py` derives `model.activation`'s allowed values from `MODEL_ACTIVATIONS`.

This module imports no torch (it only calls tensor methods), so that the config can read the names
without loading torch; `silu` imports torch's functional form when first called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from groklab.errors import GroklabError, closest


@dataclass(frozen=True)
class Activation:
    label: str  # how figures name it
    fn: Callable  # σ(x), element-wise
    value_and_derivative: Callable  # z ↦ (σ(z), σ'(z)), for the energy's gradient
    # (forward(H), backward(H, g) = g·σ'(H)) of the model's fused gather; None: analysis only. The backward
    # makes one new [S, n, K] tensor where autograd's x*x makes three (page faults on CPU).
    fused: tuple[Callable, Callable] | None = None
    complex_ok: bool = False  # defined for complex weights (relu and relusqr need an order on the values)


def _silu(x):
    if x.is_complex():
        return x * x.sigmoid()
    from torch.nn.functional import silu

    return silu(x)


def _relu_squared(x):
    r = x.relu()
    return r * r


def _d_sqr(H, g):
    return g.mul(H.conj() if H.is_complex() else H).mul_(2)


def _d_silu(H, g):
    sig = H.sigmoid()
    d = sig * (1 + H * (1 - sig))
    return g * (d.conj() if H.is_complex() else d)


def _silu_value_and_derivative(z):
    s = z.sigmoid()
    return z * s, s * (1 + z * (1 - s))


def _tanh_value_and_derivative(z):
    t = z.tanh()
    return t, 1 - t * t


def _sigmoid_value_and_derivative(z):
    s = z.sigmoid()
    return s, s * (1 - s)


ACTIVATIONS: dict[str, Activation] = {
    "sqr": Activation("x²", lambda x: x * x, lambda z: (z * z, 2 * z),
                      fused=(lambda H: H * H, _d_sqr), complex_ok=True),
    "relu": Activation("ReLU", lambda x: x.relu(), lambda z: (z.relu(), (z > 0).to(z.dtype)),
                       fused=(lambda H: H.relu(), lambda H, g: g.where(H > 0, 0.0))),
    "silu": Activation("SiLU", _silu, _silu_value_and_derivative, fused=(_silu, _d_silu), complex_ok=True),
    "relusqr": Activation("ReLU²", _relu_squared, lambda z: (_relu_squared(z), 2 * z.relu()),
                          fused=(lambda H: H.relu().square_(), lambda H, g: g.mul(H.clamp(min=0)).mul_(2))),
    "linear": Activation("x", lambda x: x, lambda z: (z, z.new_ones(z.shape)),
                         fused=(lambda H: H, lambda H, g: g), complex_ok=True),
    "tanh": Activation("tanh", lambda x: x.tanh(), _tanh_value_and_derivative),
    "sigmoid": Activation("sigmoid", lambda x: x.sigmoid(), _sigmoid_value_and_derivative),
}
MODEL_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.fused is not None)


def get_activation(name: str, allowed=None, what: str = "model.activation") -> Activation:
    """The registry entry `name`, or a one-line GroklabError listing `allowed` (default: every activation)."""
    allowed = tuple(ACTIVATIONS if allowed is None else allowed)
    if name not in allowed:
        hint = closest(str(name), allowed)
        raise GroklabError(f"{what}={name!r} is not known; allowed: {', '.join(allowed)}"
                           + (f" (did you mean {hint!r}?)" if hint else ""))
    return ACTIVATIONS[name]
