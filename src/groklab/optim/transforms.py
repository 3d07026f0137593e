"""Gradient transforms applied between `backward()` and the optimizer step, per member.

- `GrokfastEMA` (Lee et al. 2024, ironjr/grokfast `gradfilter_ema`): keeps an EMA of each
  gradient and adds it back amplified,

      ema <- alpha * ema + (1 - alpha) * g        (ema starts as the member's first gradient)
      g   <- g + lamb * ema                      (alpha 0.98, lamb 2.0)

- `OrthoGrad` (⊥Grad, Prieto et al. 2025, `orthograd.py`): per member and per tensor, with the
  member's slice θ flattened,

      g⊥ <- g - (θ·g / (θ·θ + 1e-30)) θ
      g⊥ <- g⊥ * ||g|| / (||g⊥|| + 1e-30)        (rescale=True, the repository's default)

Both modify `p.grad` in place. With a mask, inactive members' transform state (the EMA and its
"started" flag) is left untouched; their gradients may still be rewritten, which does not matter
because the optimizer does not apply them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from groklab.errors import GroklabError
from groklab.optim.base import (
    frozen_members,
    hyper_dtype,
    inactive_index,
    member_count,
    member_view,
    named_parameters,
)


class GradientTransform:
    """Base class: named stacked parameters, an `active` mask, state dicts."""

    kind = "transform"

    def __init__(self, params: Mapping[str, Tensor] | Iterable[Tensor], hyper: dict[str, Any]):
        self.params = named_parameters(params)
        self.num_members, self.device = member_count(self.params)
        self.hyper = dict(hyper)
        self.state: dict[str, dict[str, Tensor]] = {n: self._init_state(p) for n, p in self.params.items()}
        self.shared: dict[str, Tensor] = self._shared_state()

    def _init_state(self, p: Tensor) -> dict[str, Tensor]:
        return {}

    def _shared_state(self) -> dict[str, Tensor]:
        return {}

    def _transform(self, items) -> None:
        raise NotImplementedError

    def member_tensors(self) -> list[Tensor]:
        out = [t for st in self.state.values() for t in st.values()]
        return out + list(self.shared.values())

    @torch.no_grad()
    def apply(self, active: Tensor | None = None) -> None:
        """Transform the gradients in place (members with active[s] False keep their state)."""
        self.apply_except(inactive_index(active, self.num_members, self.device))

    __call__ = apply

    def apply_except(self, idx: Tensor | None) -> None:
        """Transform the gradients of every member but those at positions `idx` (from `inactive_index`, or
        None: all); what `apply` and the combined optimizer's step call."""
        items = []
        for name, p in self.params.items():
            if p.grad is None:
                continue
            if not p.grad.is_contiguous():
                p.grad = p.grad.contiguous()
            items.append((name, p, p.grad, self.state[name]))
        if items:
            with frozen_members(self.member_tensors(), idx):
                self._transform(items)

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "names": list(self.params),
            "hyper": dict(self.hyper),
            "state": {n: {k: v.clone() for k, v in st.items()} for n, st in self.state.items()},
            "shared": {k: v.clone() for k, v in self.shared.items()},
        }

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        if sd.get("kind") != self.kind or list(sd.get("names", [])) != list(self.params):
            raise GroklabError(
                f"state dict is for transform {sd.get('kind')!r} on {sd.get('names')}, "
                f"not {self.kind!r} on {list(self.params)}"
            )
        for n, st in self.state.items():
            for k, t in st.items():
                t.copy_(sd["state"][n][k])
        for k, t in self.shared.items():
            t.copy_(sd["shared"][k])
        self.hyper = dict(sd["hyper"])


class GrokfastEMA(GradientTransform):
    """Grokfast EMA filter: g <- g + lamb * EMA_alpha(g), per member."""

    kind = "grokfast_ema"

    def __init__(self, params, *, alpha: float = 0.98, lamb: float = 2.0):
        alpha, lamb = float(alpha), float(lamb)
        if not 0.0 <= alpha < 1.0:
            raise GroklabError(f"grokfast alpha must be in [0, 1); got {alpha!r}")
        if not lamb == lamb:  # NaN
            raise GroklabError(f"grokfast lamb must be a number; got {lamb!r}")
        super().__init__(params, {"alpha": alpha, "lamb": lamb})

    def _init_state(self, p: Tensor) -> dict[str, Tensor]:
        return {"ema": torch.zeros_like(p, memory_format=torch.contiguous_format)}

    def _shared_state(self) -> dict[str, Tensor]:
        return {"started": torch.zeros(self.num_members, dtype=torch.bool, device=self.device)}

    def _transform(self, items) -> None:
        alpha, lamb = self.hyper["alpha"], self.hyper["lamb"]
        started = self.shared["started"]
        # Members seeing their first gradient start the EMA at g: ema*0 + g*1.
        hd = hyper_dtype(self.device)
        one = torch.ones((), dtype=hd, device=self.device)
        keep = torch.where(started, one * alpha, one * 0.0)
        take = torch.where(started, one * (1.0 - alpha), one)
        cache: dict = {}
        for _name, p, g, st in items:
            key = (p.dtype, p.ndim)
            if key not in cache:
                cache[key] = (member_view(keep.to(p.dtype), p), member_view(take.to(p.dtype), p))
            k, t = cache[key]
            ema = st["ema"]
            ema.mul_(k).addcmul_(g, t)
            g.add_(ema, alpha=lamb)
        started.fill_(True)


class OrthoGrad(GradientTransform):
    """⊥Grad: remove, per member and per tensor, the gradient's component along the weights."""

    kind = "orthograd"

    def __init__(self, params, *, rescale: bool = True, eps: float = 1e-30):
        super().__init__(params, {"rescale": bool(rescale), "eps": float(eps)})

    def _transform(self, items) -> None:
        eps = self.hyper["eps"]
        rescale = self.hyper["rescale"]
        for _name, p, g, _st in items:
            S = p.shape[0]
            w = p.reshape(S, 1, -1)
            gv = g.view(S, 1, -1)
            ww = torch.bmm(w, w.mT)  # [S, 1, 1]
            wg = torch.bmm(w, gv.mT)
            proj = wg.div_(ww.add_(eps))
            if rescale:
                g_norm = torch.linalg.vector_norm(gv, dim=2, keepdim=True)
            gv.addcmul_(w, proj.neg_())
            if rescale:
                g_orth_norm = torch.linalg.vector_norm(gv, dim=2, keepdim=True).add_(eps)
                gv.mul_(g_norm.div_(g_orth_norm))
