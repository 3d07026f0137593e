"""Batched SGD with momentum (dampening 0), optional Nesterov and coupled weight decay.

Per member exactly `torch.optim.SGD(lr, momentum, dampening=0, weight_decay, nesterov)`:

    g   <- g + wd * p                      (coupled L2, when wd != 0)
    buf <- momentum * buf + g              (buf starts at 0; torch starts at g: the same with dampening 0)
    u   <- g + momentum * buf  if nesterov else buf
    p   <- p - lr * u
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from groklab.errors import GroklabError
from groklab.optim.base import BatchedOptimizer, HyperValue


class SGD(BatchedOptimizer):
    """SGD over stacked parameters [S, ...] with per-member lr and weight decay ([S] tensors)."""

    kind = "sgd"
    elementwise = True

    def __init__(
        self,
        params: Mapping[str, Tensor] | Iterable[Tensor],
        *,
        lr: HyperValue,
        weight_decay: HyperValue = 0.0,
        momentum: float = 0.9,
        nesterov: bool = False,
    ) -> None:
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise GroklabError(f"momentum must be in [0, 1]; got {momentum!r}")
        if nesterov and momentum == 0:
            raise GroklabError("nesterov=True needs momentum > 0; got momentum 0")
        super().__init__(
            params, lr=lr, weight_decay=weight_decay,
            hyper={"momentum": momentum, "nesterov": bool(nesterov)},
        )

    def _init_state(self, name: str, p: Tensor) -> dict[str, Tensor]:
        if self.hyper["momentum"] == 0:
            return {}
        return {"momentum_buffer": torch.zeros_like(p, memory_format=torch.contiguous_format)}

    def _update(self, items) -> None:
        mu = self.hyper["momentum"]
        nesterov = self.hyper["nesterov"]
        consts = {"neg_lr": -self._lr, "wd": self._wd}
        cache: dict = {}
        for _name, p, g, st in items:
            c = self._cast_views(consts, p, cache)
            if self._wd_nonzero:
                g = torch.addcmul(g, p, c["wd"], out=self._scratch("g", p))
            if mu != 0:
                buf = st["momentum_buffer"]
                buf.mul_(mu).add_(g)
                if nesterov:
                    g = torch.add(g, buf, alpha=mu, out=self._scratch("g", p))
                else:
                    g = buf
            p.addcmul_(g, c["neg_lr"])
