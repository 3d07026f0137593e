"""Batched AdEMAMix (Pagliardini, Ablin and Grangier 2024): Adam with a second, slow gradient EMA.

Per member, with decoupled weight decay (the paper's AdamW form) and step t counted per member:

    alpha_t = min(t alpha / T, alpha)                     (alpha without warm-up, T = None)
    beta3_t = min(exp(ln b1 ln b3 / ((1 - t/T) ln b3 + (t/T) ln b1)), b3)     (b3 without warm-up)
    p    <- p (1 - lr wd)
    m1   <- lerp(m1, g, 1 - b1)
    v    <- b2 v + (1 - b2) g^2
    m2   <- lerp(m2, g, 1 - beta3_t)
    p    <- p - lr (m1 / (1 - b1^t) + alpha_t m2) / (sqrt(v) / sqrt(1 - b2^t) + eps)

which is `pytorch_optimizer.AdEMAMix(weight_decouple=True)` step for step (tests/test_ademamix.py). The
schedules depend on each member's own step count, so they are [S] tensors like lr and weight decay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from groklab.errors import GroklabError
from groklab.optim.base import BatchedOptimizer, HyperValue, hyper_dtype


class AdEMAMix(BatchedOptimizer):
    """AdEMAMix over stacked parameters [S, ...] with per-member lr and (decoupled) weight decay."""

    kind = "ademamix"
    elementwise = True

    def __init__(
        self,
        params: Mapping[str, Tensor] | Iterable[Tensor],
        *,
        lr: HyperValue,
        weight_decay: HyperValue = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        beta3: float = 0.9999,
        alpha: float = 5.0,
        warmup: int | None = None,
        eps: float = 1e-8,
    ) -> None:
        try:
            b1, b2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise GroklabError(f"betas must be two numbers in [0, 1); got {betas!r}") from None
        for name, b in (("beta1", b1), ("beta2", b2), ("beta3", float(beta3))):
            if not 0.0 <= b < 1.0:
                raise GroklabError(f"{name} must be in [0, 1); got {b!r}")
        if not float(alpha) >= 0.0:
            raise GroklabError(f"alpha must be >= 0; got {alpha!r}")
        if warmup is not None and not (isinstance(warmup, int) and warmup >= 1):
            raise GroklabError(f"warmup must be a number of steps >= 1 or None; got {warmup!r}")
        if not float(eps) >= 0.0:
            raise GroklabError(f"eps must be >= 0; got {eps!r}")
        super().__init__(params, lr=lr, weight_decay=weight_decay, hyper={
            "betas": (b1, b2), "beta3": float(beta3), "alpha": float(alpha), "warmup": warmup, "eps": float(eps)})

    def _init_state(self, name: str, p: Tensor) -> dict[str, Tensor]:
        z = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format)  # noqa: E731
        return {"exp_avg": z(), "exp_avg_sq": z(), "exp_avg_slow": z()}

    def _shared_state(self) -> dict[str, Tensor]:
        return {"step": torch.zeros(self.num_members, dtype=hyper_dtype(self.device), device=self.device)}

    def _schedules(self, step: Tensor) -> tuple[Tensor, Tensor]:
        """(alpha_t, beta3_t) per member."""
        b1, _ = self.hyper["betas"]
        alpha, beta3, warmup = self.hyper["alpha"], self.hyper["beta3"], self.hyper["warmup"]
        if warmup is None:
            return torch.full_like(step, alpha), torch.full_like(step, beta3)
        frac = step / warmup
        alpha_t = torch.clamp(frac * alpha, max=alpha)
        if b1 == 0.0 or beta3 == 0.0:  # a zero log: no interpolation between the two decays
            return alpha_t, torch.full_like(step, beta3)
        log1, log3 = math.log(b1), math.log(beta3)
        beta3_t = torch.exp(log1 * log3 / ((1 - frac) * log3 + frac * log1))
        return alpha_t, torch.clamp(beta3_t, max=beta3)

    def _update(self, items) -> None:
        b1, b2 = self.hyper["betas"]
        eps = self.hyper["eps"]
        step = self.shared["step"]
        step.add_(1)
        alpha_t, beta3_t = self._schedules(step)
        consts = {
            "bc1": 1 - torch.pow(b1, step),
            "bc2_sqrt": (1 - torch.pow(b2, step)).sqrt(),
            "alpha": alpha_t,
            "one_minus_beta3": 1 - beta3_t,
            "neg_lr": -self._lr,
        }
        if self._wd_nonzero:
            consts["decay"] = 1 - self._lr * self._wd
        cache: dict = {}
        for _name, p, g, st in items:
            c = self._cast_views(consts, p, cache)
            if self._wd_nonzero:
                p.mul_(c["decay"])
            exp_avg, exp_avg_sq, slow = st["exp_avg"], st["exp_avg_sq"], st["exp_avg_slow"]
            exp_avg.lerp_(g, 1 - b1)
            exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
            slow.lerp_(g, c["one_minus_beta3"])
            denom = torch.sqrt(exp_avg_sq, out=self._scratch("denom", p))
            denom.div_(c["bc2_sqrt"]).add_(eps)
            update = torch.div(exp_avg, c["bc1"], out=self._scratch("update", p))
            update.addcmul_(slow, c["alpha"])
            update.div_(denom)
            p.addcmul_(update, c["neg_lr"])
