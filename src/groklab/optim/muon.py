"""Batched Muon over stacked matrices [S, A, B] (nn.Linear layout per member), two variants.

variant="torch" — exactly `torch.optim.Muon` (torch 2.9+), per member:

    buf <- lerp(buf, g, 1 - momentum)                         (momentum 0.95)
    u   <- lerp(g, buf, momentum) if nesterov else buf         (nesterov on)
    O   <- NS5(u): cast to ns_dtype, transpose if A > B, divide by max(||X||_F, eps) (eps 1e-7),
           5 x { G = X X^T;  X <- a X + (b G + c G^2) X } with (a, b, c) = (3.4445, -4.775, 2.0315),
           transpose back
    p   <- p (1 - lr wd) - adjusted_lr O                       (decay uses the UNADJUSTED lr)

    adjusted_lr = lr sqrt(max(1, A/B))    for adjust_lr_fn None / "original" (Keller Jordan)
                = lr 0.2 sqrt(max(A, B))  for "match_rms_adamw" (Moonlight)

  torch runs Newton-Schulz in bfloat16, so `ns_dtype` defaults to "bfloat16" here too (faithful).
  "float32" / "float64" give a more exact polar-like factor; None means the parameter's dtype.
  The batched bf16 matmuls are not guaranteed to round exactly like torch's 2-D ones, so bf16
  results agree with torch.optim.Muon to bf16 accuracy, not bit for bit (see tests).

variant="li2" — the Li2 reference `MuonEnhanced` (yuandong-tian/understanding, cogo/muon_opt.py,
as configured by modular_addition_simple2.py: beta2=0.99, nesterov=False, use_bf16=False, no
rms/spectral compensation, decay before the update), per member:

    p   <- p (1 - lr wd)                                       (decoupled, before the update)
    m   <- lerp(m, g, 1 - 0.99)                                (EMA momentum, no Nesterov)
    O   <- NS(m) in the parameter's dtype: transpose if A > B, X / (||X||_F + 1e-7), then 5 steps
           X <- a X + (b G + c G^2) X, G = X X^T, with per-step coefficients LI2_NS_COEFFICIENTS
    p   <- p - lr O                                            (no shape or RMS rescaling)

  The literals (4.01, -9.22, 5.80), ... and the eps 1e-7 (added to the norm, not clamped) are those
  of `zeropower_via_newtonschulz5` in the reference muon_opt.py.

Newton-Schulz runs batched over the member axis with torch.bmm / torch.baddbmm into reusable
work buffers; the stack is never flattened.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from groklab.errors import GroklabError, closest
from groklab.optim.base import BatchedOptimizer, HyperValue, member_view
from groklab.optim.kinds import ADJUST_LR_FNS as _ADJUST_LR_FNS
from groklab.optim.kinds import MUON_VARIANTS, elementwise_kinds

TORCH_NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)
LI2_NS_COEFFICIENTS = (
    (4.01, -9.22, 5.80),
    (3.49, -6.38, 3.23),
    (3.34, -6.21, 3.20),
    (3.64, -7.48, 4.43),
    (3.46, -5.35, 2.85),
)
VARIANTS = MUON_VARIANTS
ADJUST_LR_FNS = (None, *_ADJUST_LR_FNS)
NS_DTYPES = {
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    None: None,
}

_VARIANT_DEFAULTS = {
    "torch": {"momentum": 0.95, "nesterov": True, "ns_coefficients": TORCH_NS_COEFFICIENTS,
              "ns_steps": 5, "eps": 1e-7, "eps_mode": "clamp", "ns_dtype": "bfloat16"},
    "li2": {"momentum": 0.99, "nesterov": False, "ns_coefficients": LI2_NS_COEFFICIENTS,
            "ns_steps": None, "eps": 1e-7, "eps_mode": "add", "ns_dtype": None},
}


def _coefficient_schedule(coefficients, ns_steps: int | None) -> tuple[tuple[float, float, float], ...]:
    """One (a, b, c) triple per step: a single triple repeated ns_steps times, or a list of triples."""
    try:
        if len(coefficients) == 3 and all(isinstance(x, (int, float)) for x in coefficients):
            steps = 5 if ns_steps is None else int(ns_steps)
            sched = (tuple(float(x) for x in coefficients),) * steps
        else:
            sched = tuple(tuple(float(x) for x in abc) for abc in coefficients)
            if ns_steps is not None and int(ns_steps) != len(sched):
                raise GroklabError(
                    f"ns_steps={ns_steps} does not match the {len(sched)} per-step coefficient triples"
                )
    except (TypeError, ValueError):
        raise GroklabError(
            f"ns_coefficients must be one (a, b, c) triple or a list of triples; got {coefficients!r}"
        ) from None
    if any(len(abc) != 3 for abc in sched):
        raise GroklabError(f"each Newton-Schulz coefficient entry needs 3 values; got {coefficients!r}")
    if not 1 <= len(sched) < 100:
        raise GroklabError(f"ns_steps must be in [1, 99]; got {len(sched)}")
    return sched


def adjusted_lr_ratio(adjust_lr_fn: str | None, rows: int, cols: int) -> float:
    """torch.optim.Muon's shape factor for a (rows, cols) matrix."""
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    if adjust_lr_fn == "none":
        return 1.0
    raise GroklabError(f"adjust_lr_fn must be one of None, 'original', 'match_rms_adamw'; got {adjust_lr_fn!r}")


def newton_schulz(
    G: Tensor,
    coefficients: Sequence[tuple[float, float, float]],
    *,
    eps: float = 1e-7,
    eps_mode: str = "clamp",
    dtype: torch.dtype | None = None,
    workspace: dict | None = None,
) -> Tensor:
    """Batched Newton-Schulz orthogonalisation of G [S, A, B]; returns [S, A, B] in `dtype`.

    X = G (cast), transposed to wide if A > B, divided per member by its Frobenius norm (clamped
    below at eps for eps_mode="clamp" as torch does, plus eps for "add" as the Li2 reference does),
    then for each (a, b, c): X <- a X + (b XX^T + c (XX^T)^2) X. The result may live in a work
    buffer of `workspace` (reused by the next call): consume it before calling again.
    """
    if G.ndim != 3:
        raise GroklabError(f"newton_schulz needs a stack of matrices [S, A, B]; got shape {tuple(G.shape)}")
    S, A, B = G.shape
    dtype = G.dtype if dtype is None else dtype
    tall = A > B
    m, n = (B, A) if tall else (A, B)
    ws = {} if workspace is None else workspace

    def buf(key, shape):
        full = (key, shape, dtype, G.device)
        t = ws.get(full)
        if t is None:
            t = torch.empty(shape, dtype=dtype, device=G.device)
            ws[full] = t
        return t

    X = buf("X", (S, m, n))
    X2 = buf("X2", (S, m, n))
    gram = buf("gram", (S, m, m))
    gram2 = buf("gram2", (S, m, m))
    X.copy_(G.mT if tall else G)
    norm = torch.linalg.vector_norm(X, dim=(1, 2), keepdim=True)
    if eps_mode == "clamp":
        X.div_(norm.clamp_(min=eps))
    else:
        X.div_(norm.add_(eps))
    for a, b, c in coefficients:
        torch.bmm(X, X.mT, out=gram)
        torch.baddbmm(gram, gram, gram, beta=b, alpha=c, out=gram2)
        torch.baddbmm(X, gram2, X, beta=a, out=X2)
        X, X2 = X2, X
    return X.mT if tall else X


class Muon(BatchedOptimizer):
    """Muon over stacked matrices [S, A, B] with per-member lr and weight decay ([S] tensors).

    Args:
        params: name -> tensor [S, A, B] (or an iterable of such tensors).
        lr, weight_decay: numbers or [S] tensors.
        variant: "torch" (torch.optim.Muon semantics) or "li2" (the Li2 reference MuonEnhanced).
        momentum, nesterov, ns_coefficients, ns_steps, eps, ns_dtype: override the variant's
            defaults (see the module docstring). ns_coefficients is one (a, b, c) triple repeated
            ns_steps times or a list of per-step triples. ns_dtype is "bfloat16", "float32",
            "float64", "float16" or None (the parameter's dtype).
        adjust_lr_fn: torch variant only: None / "original" or "match_rms_adamw".
    """

    kind = "muon"

    def __init__(
        self,
        params: Mapping[str, Tensor] | Iterable[Tensor],
        *,
        lr: HyperValue,
        weight_decay: HyperValue = 0.0,
        variant: str = "torch",
        momentum: float | None = None,
        nesterov: bool | None = None,
        ns_coefficients=None,
        ns_steps: int | None = None,
        eps: float | None = None,
        adjust_lr_fn: str | None = None,
        ns_dtype: str | None = "default",
    ) -> None:
        if variant not in VARIANTS:
            hint = closest(str(variant), VARIANTS)
            raise GroklabError(
                f"muon variant must be one of {', '.join(VARIANTS)}; got {variant!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
        d = _VARIANT_DEFAULTS[variant]
        momentum = d["momentum"] if momentum is None else float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise GroklabError(f"muon momentum must be in [0, 1]; got {momentum!r}")
        nesterov = d["nesterov"] if nesterov is None else bool(nesterov)
        if variant == "li2" and nesterov:
            raise GroklabError("the li2 Muon variant has no Nesterov momentum; use variant 'torch'")
        if adjust_lr_fn not in ADJUST_LR_FNS:
            raise GroklabError(
                f"adjust_lr_fn must be one of None, 'original', 'match_rms_adamw'; got {adjust_lr_fn!r}"
            )
        if variant == "li2" and adjust_lr_fn is not None:
            raise GroklabError("the li2 Muon variant does not rescale the update; leave adjust_lr_fn unset")
        if ns_dtype == "default":
            ns_dtype = d["ns_dtype"]
        if isinstance(ns_dtype, torch.dtype):
            ns_dtype = str(ns_dtype).removeprefix("torch.")
        if ns_dtype not in NS_DTYPES:
            raise GroklabError(
                f"ns_dtype must be one of bfloat16, float16, float32, float64 or None; got {ns_dtype!r}"
            )
        coeffs = _coefficient_schedule(
            d["ns_coefficients"] if ns_coefficients is None else ns_coefficients,
            ns_steps if ns_steps is not None else d["ns_steps"],
        )
        eps = d["eps"] if eps is None else float(eps)
        if not eps >= 0:
            raise GroklabError(f"muon eps must be >= 0; got {eps!r}")
        named = params if isinstance(params, Mapping) else {str(i): p for i, p in enumerate(params)}
        for name, p in named.items():
            if not isinstance(p, Tensor) or p.ndim != 3:
                shape = tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__
                raise GroklabError(
                    f"Muon takes stacked matrices [S, A, B] only; parameter {name!r} has shape "
                    f"{shape}: route it to the auxiliary optimizer (AdamW/Adam) instead"
                )
            if p.is_complex():  # Newton-Schulz (X Xᵀ, not X Xᴴ) would silently orthogonalise the wrong matrix
                raise GroklabError(f"Muon takes real matrices; parameter {name!r} is {p.dtype} "
                                   f"(train complex weights with an elementwise kind: {', '.join(elementwise_kinds())})")
        super().__init__(
            named, lr=lr, weight_decay=weight_decay,
            hyper={
                "variant": variant, "momentum": momentum, "nesterov": nesterov,
                "ns_coefficients": coeffs, "eps": eps, "eps_mode": d["eps_mode"],
                "adjust_lr_fn": adjust_lr_fn, "ns_dtype": ns_dtype,
            },
        )

    def _init_state(self, name: str, p: Tensor) -> dict[str, Tensor]:
        return {"momentum_buffer": torch.zeros_like(p, memory_format=torch.contiguous_format)}

    def _update(self, items) -> None:
        h = self.hyper
        mu = h["momentum"]
        ns_dtype = NS_DTYPES[h["ns_dtype"]]
        consts = {"neg_lr": -self._lr}
        if self._wd_nonzero:
            consts["decay"] = 1 - self._lr * self._wd
        cache: dict = {}
        for _name, p, g, st in items:
            c = self._cast_views(consts, p, cache)
            buf = st["momentum_buffer"]
            buf.lerp_(g, 1 - mu)
            u = torch.lerp(g, buf, mu, out=self._scratch("u", p)) if h["nesterov"] else buf
            O = newton_schulz(
                u, h["ns_coefficients"], eps=h["eps"], eps_mode=h["eps_mode"],
                dtype=ns_dtype, workspace=self._workspace,
            )
            if self._wd_nonzero:
                p.mul_(c["decay"])  # with the unadjusted lr, as torch.optim.Muon
            scale = c["neg_lr"]
            if h["variant"] == "torch":
                ratio = adjusted_lr_ratio(h["adjust_lr_fn"], p.shape[1], p.shape[2])
                if ratio != 1.0:
                    scale = member_view((-self._lr * ratio).to(p.dtype), p)
            p.addcmul_(O, scale)
