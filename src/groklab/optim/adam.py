"""Batched Adam (coupled L2 weight decay) and AdamW (decoupled weight decay).

Per member exactly `torch.optim.Adam` / `torch.optim.AdamW` (amsgrad off):

    t   <- t + 1                                   (per member: frozen members do not count)
    Adam:  g <- g + wd * p                         (coupled L2, as in the Li2 reference)
    AdamW: p <- p * (1 - lr * wd)                  (decoupled)
    m   <- lerp(m, g, 1 - beta1)
    v   <- beta2 * v + (1 - beta2) * g^2
    p   <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The last line is evaluated as p - [lr sqrt(bc2) / bc1] * m / (sqrt(v) + eps sqrt(bc2)), the same
number up to rounding, with the per-member factors in brackets computed once per step.

The step counter `t` is one [S] tensor per optimizer (not per parameter): a parameter whose
gradient is None in some step keeps its moments but the counter still advances (torch.optim keeps
one counter per parameter); in a full-batch ensemble every parameter has a gradient every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from groklab.errors import GroklabError
from groklab.optim.base import BatchedOptimizer, HyperValue, hyper_dtype


class Adam(BatchedOptimizer):
    """Adam over stacked parameters [S, ...]; weight decay is coupled L2 (torch.optim.Adam)."""

    kind = "adam"
    elementwise = True
    decoupled = False

    def __init__(
        self,
        params: Mapping[str, Tensor] | Iterable[Tensor],
        *,
        lr: HyperValue,
        weight_decay: HyperValue = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        try:
            b1, b2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise GroklabError(f"betas must be two numbers in [0, 1); got {betas!r}") from None
        for name, b in (("beta1", b1), ("beta2", b2)):
            if not 0.0 <= b < 1.0:
                raise GroklabError(f"{name} must be in [0, 1); got {b!r}")
        eps = float(eps)
        if not eps >= 0.0:
            raise GroklabError(f"eps must be >= 0; got {eps!r}")
        super().__init__(
            params, lr=lr, weight_decay=weight_decay, hyper={"betas": (b1, b2), "eps": eps}
        )

    def _init_state(self, name: str, p: Tensor) -> dict[str, Tensor]:
        z = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format)  # noqa: E731
        return {"exp_avg": z(), "exp_avg_sq": z()}

    def _shared_state(self) -> dict[str, Tensor]:
        return {"step": torch.zeros(self.num_members, dtype=hyper_dtype(self.device), device=self.device)}

    def _update(self, items) -> None:
        b1, b2 = self.hyper["betas"]
        eps = self.hyper["eps"]
        step = self.shared["step"]
        step.add_(1)
        bc1 = 1 - torch.pow(b1, step)
        bc2_sqrt = (1 - torch.pow(b2, step)).sqrt()
        consts = {
            "eps": eps * bc2_sqrt,
            "neg_step": -(self._lr / bc1) * bc2_sqrt,
        }
        if self._wd_nonzero:
            if self.decoupled:
                consts["decay"] = 1 - self._lr * self._wd
            else:
                consts["wd"] = self._wd
        cache: dict = {}
        for _name, p, g, st in items:
            c = self._cast_views(consts, p, cache)
            work = self._scratch("adam", p)
            if self._wd_nonzero:
                if self.decoupled:
                    p.mul_(c["decay"])
                else:
                    g = torch.addcmul(g, p, c["wd"], out=work)
            exp_avg, exp_avg_sq = st["exp_avg"], st["exp_avg_sq"]
            exp_avg.lerp_(g, 1 - b1)
            exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = torch.sqrt(exp_avg_sq, out=work)  # g is no longer needed
            denom.add_(c["eps"])
            torch.div(exp_avg, denom, out=denom)
            p.addcmul_(denom, c["neg_step"])


class AdamW(Adam):
    """AdamW over stacked parameters [S, ...]: decoupled weight decay (torch.optim.AdamW)."""

    kind = "adamw"
    decoupled = True
