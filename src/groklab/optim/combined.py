"""Several batched optimizers, one per parameter group (Muon on hidden matrices, Adam on the rest), and
the gradient transforms that run before them, behind the one optimizer API the training loop uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from groklab.errors import GroklabError
from groklab.optim.base import BatchedOptimizer, HyperValue, inactive_index


class CombinedOptimizer:
    """Several batched optimizers (one per parameter group) and gradient transforms, one API.

    `step(active)` applies the gradient transforms in order (each sees the gradients left by the
    previous one), then steps every group. The inactive-member indices are computed once.
    """

    def __init__(self, optimizers: Mapping[str, BatchedOptimizer], transforms: Sequence[Any] = ()):
        if not optimizers:
            raise GroklabError("a combined optimizer needs at least one group")
        self.optimizers = dict(optimizers)
        self.transforms = list(transforms)
        sizes = {o.num_members for o in self.optimizers.values()}
        if len(sizes) != 1:
            raise GroklabError(f"all groups must have the same number of members; got {sorted(sizes)}")
        self.num_members = sizes.pop()
        self.device = next(iter(self.optimizers.values())).device
        seen: dict[str, str] = {}
        for gname, opt in self.optimizers.items():
            for pname in opt.params:
                if pname in seen:
                    raise GroklabError(f"parameter {pname!r} is in groups {seen[pname]!r} and {gname!r}")
                seen[pname] = gname
        self.routing: dict[str, str] = seen  # parameter name -> group name

    @property
    def params(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for opt in self.optimizers.values():
            out.update(opt.params)
        return out

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none)

    @torch.no_grad()
    def step(self, active: Tensor | None = None) -> None:
        idx = inactive_index(active, self.num_members, self.device)
        if idx is not None and idx.numel() == self.num_members:
            return
        for t in self.transforms:
            t.apply_except(idx)
        for opt in self.optimizers.values():
            opt.step_except(idx)

    def set_lr_scale(self, scale: HyperValue) -> None:
        """Multiply every group's base lr by `scale` (a number or [S] tensor)."""
        for opt in self.optimizers.values():
            opt.set_lr_scale(scale)

    def state_dict(self) -> dict[str, Any]:
        return {
            "groups": {g: o.state_dict() for g, o in self.optimizers.items()},
            "transforms": [t.state_dict() for t in self.transforms],
        }

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        groups = sd["groups"]
        if set(groups) != set(self.optimizers):
            raise GroklabError(f"state dict groups {sorted(groups)} do not match {sorted(self.optimizers)}")
        if len(sd.get("transforms", [])) != len(self.transforms):
            raise GroklabError(
                f"state dict has {len(sd.get('transforms', []))} gradient transforms, "
                f"this optimizer has {len(self.transforms)}"
            )
        for g, o in self.optimizers.items():
            o.load_state_dict(groups[g])
        for t, tsd in zip(self.transforms, sd.get("transforms", [])):
            t.load_state_dict(tsd)

    def __repr__(self) -> str:
        parts = [f"{g}: {o.kind}[{', '.join(o.params)}]" for g, o in self.optimizers.items()]
        tr = [type(t).__name__ for t in self.transforms]
        return f"CombinedOptimizer(S={self.num_members}; {'; '.join(parts)}; transforms={tr})"
