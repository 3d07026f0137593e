"""The Li2 two-layer network (and its residual deeper variant) as an ensemble of S members.

Per member s, for operand values ``a_1..a_k`` (k = arity, each in ``0..M-1``)::

    H = sum_j W[s][:, j*M + a_j]          # = W x for the concatenated one-hot input x (gather)
    F = sigma(H)
    F <- sigma(F + U_l[s] F)  for l = 1..L' # extra residual layers, bias-free
    logits = beta * Re(V[s] F)              # [C]

Parameters (names are what the optimizer router matches: "W" and "U.*" to Muon, "V" to Adam):

- ``W``  ``[S, K, D]`` with D = arity*M: per member the ``nn.Linear`` (out, in) weight of the reference.
- ``U``  ``nn.ParameterList`` of ``[S, K, K]`` (named ``U.0``, ``U.1``, ...), (out, in) layout.
- ``V``  ``[S, C, K]``: per member the reference's ``V.weight``; the paper's V (K x C) is ``V[s].T``.

Initialisation: member s draws from ``torch.Generator().manual_seed(seeds[s])`` in the order W, U_1..U_L',
V, with PyTorch's default Linear init (``kaiming_uniform_(a=sqrt(5))``, bound 1/sqrt(fan_in)), in float32 on
the CPU, then casts to the working dtype/device. So a member equals a stand-alone S=1 model with the same
seed (and the same dtype), and the float32 and float64 models start from the same (rounded) weights; W
equals ``nn.Linear(D, K, bias=False).weight`` after ``torch.manual_seed(seed)``. ``top_init_scale``
multiplies V after drawing (0 gives the paper's zero-init). Complex weights start as these real values
with zero imaginary part, as in the reference (which casts the initialised real weights to cfloat). Note
that from such an init the gradient of Re(output) in the imaginary parts is exactly zero (tested), so
SGD/Adam/Muon keep the weights real: the reference's complex mode computes the real network at 4x the
cost unless something else breaks the symmetry.

``complex_init=True`` (with complex weights) breaks it at the start: each member first draws the real
init as above, then, from the same generator and in the same order W, U_1..U_L', V, an imaginary part of
the same shape and law, and both parts are divided by sqrt(2). So Re and Im are i.i.d. uniform on
[-b/sqrt(2), b/sqrt(2)] (b = 1/sqrt(fan_in)) and E|w|^2 = b^2/3, the real init's second moment: every
node starts with the norm a real node has, which is what weight decay, the energy E(w/|w|) and the
pre-activation scale see. (The phase is not exactly uniform, as a circular Gaussian's would be; we keep
the reference's uniform law so that Re(w) is the real init scaled by 1/sqrt(2), tested.) With x^2 the
output's initial spread is then about 1/sqrt(3) of the real net's (E|h|^4 = 2 instead of 3 variances
squared, and Re halves a circular variance; measured 0.61 at Z71, K = 2048).

End-to-end cost of forward + backward (sigma=x^2, class-centred MSE, float32, 2-core CI-like CPU, torch
2.13; best of 15-60 interleaved steps, quiet machine):

=====================================  ==========================  ===========  ==========
case                                   fused gather (this model)   gather+act   dense bmm
=====================================  ==========================  ===========  ==========
S=1, Z71, K=2048, n=2016               20-22 ms (fwd 6.6 ms)       21-25 ms     35-41 ms
S=8, Z23, K=512, n=212                 2.7 ms (0.34 ms/member)     2.7 ms       3.3-3.6 ms
S=1, Z23, K=512, n=212                 0.50 ms                     0.50 ms      0.55 ms
S=1, Z71, K=2048, n=2016, float64      40 ms                       42 ms        65 ms
=====================================  ==========================  ===========  ==========

At Z71 the three output-layer GEMMs are ~15 ms of the step (the floor); the lower ends of the ranges are
with glibc's malloc told to keep large blocks (``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` or
``mallopt``), which removes the page faults of fresh 16 MiB activations on every step.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from groklab.dtypes import resolve_dtype
from groklab.errors import GroklabError
from groklab.models.activations import ACTIVATIONS as _ACTIVATIONS
from groklab.models.activations import MODEL_ACTIVATIONS, get_activation
from groklab.models.gather import gather_activation

__all__ = ["TwoLayerEnsemble", "ACTIVATIONS", "activation_fn", "resolve_dtype"]


# name -> σ, for the model's activations (the registry in groklab.models.activations)
ACTIVATIONS = {name: _ACTIVATIONS[name].fn for name in MODEL_ACTIVATIONS}


def activation_fn(name: str):
    """The element-wise activation called `name`; GroklabError for unknown names."""
    return get_activation(name, MODEL_ACTIVATIONS).fn


def _uniform_linear_init(out_f: int, in_f: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's default nn.Linear weight init (kaiming-uniform, a=sqrt(5): bound 1/sqrt(in_f))."""
    w = torch.empty(out_f, in_f, dtype=torch.float32)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
    return w


class TwoLayerEnsemble(nn.Module):
    """S independent Li2 networks with a leading member axis (see module docstring).

    Args:
        num_values: M, the operand alphabet size (|G| for group tasks).
        arity: number of operands k (input dim D = k*M).
        num_classes: C, number of output classes.
        width: K, hidden width.
        activation: one of `groklab.models.activations.MODEL_ACTIVATIONS`.
        seeds: one seed per member; S = len(seeds).
        top_init_scale: multiplies V at init (0 -> V = 0).
        output_scale: beta, multiplies the output.
        extra_layers: L', residual blocks x <- sigma(x + U x).
        complex_weights: complex W, U, V; logits are the real part of the output.
        complex_init: (complex_weights only) draw imaginary parts too; see the module docstring.
        dtype: 'float32' | 'float64' (complex64/complex128 with complex_weights).
        device: where the parameters live.
    """

    def __init__(
        self,
        num_values: int,
        arity: int,
        num_classes: int,
        width: int,
        activation: str = "sqr",
        seeds: Sequence[int] = (0,),
        top_init_scale: float = 1.0,
        output_scale: float = 1.0,
        extra_layers: int = 0,
        complex_weights: bool = False,
        dtype="float32",
        device=None,
        complex_init: bool = False,
    ):
        super().__init__()
        for key, val, lo in (("num_values", num_values, 1), ("arity", arity, 1), ("num_classes", num_classes, 1),
                             ("width", width, 1), ("extra_layers", extra_layers, 0)):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise GroklabError(f"model.{key}={val!r} must be an integer >= {lo}")
        seeds = [int(s) for s in seeds]
        if complex_init and not complex_weights:
            raise GroklabError("model.complex_init=true draws imaginary parts and needs model.complex_weights=true")
        if not seeds:
            raise GroklabError("seeds=[] must list at least one seed (one per ensemble member)")
        self.act = activation_fn(activation)
        if complex_weights and not _ACTIVATIONS[activation].complex_ok:
            allowed = [name for name in MODEL_ACTIVATIONS if _ACTIVATIONS[name].complex_ok]
            raise GroklabError(
                f"model.activation={activation!r} is not defined for complex weights; allowed: {', '.join(allowed)}"
            )
        real_dtype = resolve_dtype(dtype)
        pdtype = {torch.float32: torch.complex64, torch.float64: torch.complex128}[real_dtype] if complex_weights else real_dtype

        self.num_values, self.arity, self.num_classes, self.width = num_values, arity, num_classes, width
        self.activation, self.extra_layers, self.complex_weights = activation, extra_layers, bool(complex_weights)
        self.seeds = seeds
        self.top_init_scale, self.output_scale = float(top_init_scale), float(output_scale)
        self.real_dtype = real_dtype
        D, K, C = arity * num_values, width, num_classes

        self.complex_init = bool(complex_init)
        Ws, Us, Vs = [], [[] for _ in range(extra_layers)], []
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            w, us, v = self._draw(gen, D, K, C)
            if self.complex_init:  # imaginary parts after all real ones, so Re(w) = real init / sqrt(2)
                wi, usi, vi = self._draw(gen, D, K, C)
                w, v = torch.complex(w, wi) / math.sqrt(2), torch.complex(v, vi) / math.sqrt(2)
                us = [torch.complex(a, b) / math.sqrt(2) for a, b in zip(us, usi)]
            Ws.append(w)
            for layer in range(extra_layers):
                Us[layer].append(us[layer])
            Vs.append(v.zero_() if self.top_init_scale == 0 else v * self.top_init_scale)

        def param(ts):
            return nn.Parameter(torch.stack(ts).to(device=device, dtype=pdtype))

        self.W = param(Ws)
        self.U = nn.ParameterList([param(u) for u in Us])
        self.V = param(Vs)
        # operand j's one-hot block starts at column j*M
        self.register_buffer("operand_offsets", torch.arange(arity, device=device) * num_values, persistent=False)

    def _draw(self, gen: torch.Generator, D: int, K: int, C: int):
        """One member's real W, [U_1..U_L'], V from `gen`, in that order (the reference's Linear init)."""
        w = _uniform_linear_init(K, D, gen)
        us = [_uniform_linear_init(K, K, gen) for _ in range(self.extra_layers)]
        return w, us, _uniform_linear_init(C, K, gen)

    # ----------------------------------------------------------------------------------------------
    @property
    def num_members(self) -> int:
        return self.W.shape[0]

    @property
    def in_dim(self) -> int:
        return self.arity * self.num_values

    def offset_index(self, idx: torch.Tensor) -> torch.Tensor:
        """Operand values ``[..., arity]`` in 0..M-1 -> first-layer column indices ``j*M + a_j``."""
        if idx.shape[-1] != self.arity or idx.dim() not in (2, 3):
            raise ValueError(f"idx must be [n, {self.arity}] or [S, n, {self.arity}], got {tuple(idx.shape)}")
        return idx.to(torch.int64) + self.operand_offsets

    def hidden(self, idx: torch.Tensor, all_layers: bool = False, members: slice | None = None):
        """Post-activation hidden features F ``[S, n, K]`` (the input of V; complex with complex
        weights). ``idx``: operand values ``[n, arity]`` (shared by all members) or ``[S, n, arity]``.
        With ``all_layers=True``, the list ``[F_1, ..., F_{1+L'}]`` of every layer's output. With
        ``members`` (a slice of the member axis), only those members' features, so that a caller
        working in chunks never holds all S members' ``[n, K]`` features at once."""
        W, Us = self.W, list(self.U)
        if members is not None:
            W, Us = W[members], [U[members] for U in Us]
            if idx.dim() == 3:
                idx = idx[members]
        x = gather_activation(W, self.offset_index(idx), self.activation)
        outs = [x]
        for U in Us:
            x = self.act(torch.baddbmm(x, x, U.transpose(1, 2)))
            outs.append(x)
        return outs if all_layers else x

    def readout(self, F_: torch.Tensor) -> torch.Tensor:
        """Logits ``[S, n, C]`` (real) from final hidden features."""
        out = torch.bmm(F_, self.V.transpose(1, 2))
        if out.is_complex():
            out = out.real
        return out * self.output_scale if self.output_scale != 1.0 else out

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``[S, n, C]`` for operand values ``idx`` (``[n, arity]`` shared or ``[S, n, arity]``)."""
        return self.readout(self.hidden(idx))

    # ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def ridge_top_layer_(self, idx: torch.Tensor, labels: torch.Tensor, lam: float) -> torch.Tensor:
        """Ridge top-layer mode (Li2 reference ``set_weight_reg``): overwrite V, per member, with the ridge
        fit of the class-centred one-hot targets ``Y_c = e_y - 1/C`` on the current, uncentred features F:
        with ``F = U diag(s) Vt``, ``V^T = Vt^H diag(s/(s^2+lam)) U^H Y_c``. Returns the new V.

        Decisions: F are the features that feed V (with extra layers this is the last residual layer; the
        reference code used the first layer's output, which is the same when ``extra_layers=0``); with
        ``output_scale`` beta != 1 the solution is divided by beta, so that the network's output is the ridge
        prediction. ``labels``: ``[n]`` shared or ``[S, n]``.
        """
        if lam < 0:
            raise GroklabError(f"ridge lambda={lam!r} must be >= 0")
        F_ = self.hidden(idx)  # [S, n, K]
        S, n, _ = F_.shape
        labels = labels.to(torch.int64)
        if labels.dim() == 1:
            labels = labels.unsqueeze(0).expand(S, -1)
        Yc = F.one_hot(labels, self.num_classes).to(F_.dtype) - 1.0 / self.num_classes  # [S, n, C]
        Uu, s, Vt = torch.linalg.svd(F_, full_matrices=False)  # [S,n,r], [S,r], [S,r,K]
        coef = s / (s * s + lam)  # real
        proj = (Uu.mH @ Yc) * coef.unsqueeze(-1).to(Uu.dtype)  # [S, r, C]
        Vsol_T = Vt.mH @ proj  # [S, K, C] = V^T (paper's V)
        if self.output_scale != 1.0:
            Vsol_T = Vsol_T / self.output_scale
        self.V.copy_(Vsol_T.transpose(1, 2))
        return self.V

    def member(self, s: int) -> "TwoLayerEnsemble":
        """A stand-alone S=1 copy of member s (same config and weights)."""
        m = TwoLayerEnsemble(
            self.num_values, self.arity, self.num_classes, self.width, self.activation, [self.seeds[s]],
            self.top_init_scale, self.output_scale, self.extra_layers, self.complex_weights, self.real_dtype,
            self.W.device, self.complex_init,
        )
        with torch.no_grad():
            m.W.copy_(self.W[s : s + 1])
            m.V.copy_(self.V[s : s + 1])
            for mu, u in zip(m.U, self.U):
                mu.copy_(u[s : s + 1])
        return m

    def extra_repr(self) -> str:
        return (
            f"S={self.num_members}, M={self.num_values}, arity={self.arity}, C={self.num_classes}, K={self.width}, "
            f"activation={self.activation}, extra_layers={self.extra_layers}, complex={self.complex_weights}, "
            f"complex_init={self.complex_init}, "
            f"top_init_scale={self.top_init_scale}, output_scale={self.output_scale}, dtype={self.W.dtype}"
        )
