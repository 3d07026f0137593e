"""The live stack of an ensemble, and its compaction when members stop.

A member that stops (its grok confirmed, or diverged) leaves the stack: parameters, optimizer state,
minibatch RNG streams, data, per-member hyperparameters and hook state are sliced along the member
axis, so the survivors run at the speed of a smaller ensemble. Members never interact, so a
survivor's trajectory is the one it would have had alone (tested for Adam and Muon).

Compaction rebuilds the model and optimizer for the survivors through the same builders `setup`
uses (with a config listing only their seeds, lrs and weight decays) and loads the sliced states
into them: shapes are checked by `load_state_dict`, so a state that is not member-stacked fails
loudly instead of being silently shared.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from groklab.config import RunConfig
from groklab.train.setup import EnsembleData, build_model, build_optim


def take_members(obj, keep: torch.Tensor, size: int, skip: tuple[str, ...] = ("hyper",)):
    """`obj` (a tensor, or dicts/lists/tuples of them) with every tensor sliced to the member positions
    `keep` along its leading member axis of length `size`; non-tensor values and keys in `skip` (shared
    scalar hyperparameters) unchanged. A tensor without that member axis is an error, not shared silently."""
    if isinstance(obj, torch.Tensor):
        if obj.ndim == 0 or obj.shape[0] != size:
            raise ValueError(f"cannot compact a tensor of shape {tuple(obj.shape)}: expected a leading member axis of {size}")
        return obj.index_select(0, keep.to(obj.device))
    if isinstance(obj, dict):
        return {k: v if k in skip else take_members(v, keep, size, skip) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(take_members(v, keep, size, skip) for v in obj)
    return obj


def subset_config(cfg: RunConfig, positions: list[int]) -> RunConfig:
    """The ensemble config of the members at `positions` (their seeds, lrs and weight decays)."""
    pick = lambda values: [values[i] for i in positions]  # noqa: E731
    sub = cfg.model_copy(deep=True)
    sub.train.seeds = pick(cfg.member_seeds())
    sub.optim.lr = pick(cfg.member_values("lr"))
    sub.optim.weight_decay = pick(cfg.member_values("weight_decay"))
    return sub


@dataclass
class Stack:
    """What trains together now: `alive[i]` is the original member index of stack position i."""

    cfg: RunConfig
    alive: list[int]
    data: EnsembleData
    model: torch.nn.Module
    optimizer: object
    generators: list[torch.Generator]  # minibatch order, one per position

    @property
    def size(self) -> int:
        return len(self.alive)


def compact(stack: Stack, survivors: list[int], task, device, dtype, hooks=()) -> Stack:
    """The stack holding only the original members `survivors` (a subset of `stack.alive`, in order)."""
    positions = [stack.alive.index(s) for s in survivors]
    keep = torch.tensor(positions, dtype=torch.long)
    size = stack.size
    cfg = subset_config(stack.cfg, positions)
    data = replace(stack.data, **{name: take_members(getattr(stack.data, name), keep, size)
                                  for name in ("x_train", "y_train", "x_test", "y_test")})
    model = build_model(cfg, task, data, cfg.member_seeds(), device, dtype)
    model.load_state_dict(take_members(stack.model.state_dict(), keep, size))
    optimizer = build_optim(cfg, model, device, dtype)
    optimizer.load_state_dict(take_members(stack.optimizer.state_dict(), keep, size))
    for hook in hooks:
        select = getattr(hook, "select_members", None)
        if select is not None:
            select(positions)
    return Stack(cfg, list(survivors), data, model, optimizer, [stack.generators[i] for i in positions])
