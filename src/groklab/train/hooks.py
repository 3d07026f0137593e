"""Training hooks: what they are given, what they return, and the registry that builds them from a config.

A hook is called every `hook.every` epochs (and at the last epoch, and when a member stops) with a
`HookContext`, and returns `[S]` values under its own keys; the loop stores them as series. A hook may
also define `select_members(positions)` (the stack was compacted) and `summarise(rows)` (the summary
entries of one member from its finished series, e.g. the Li2 stage onsets), which the loop merges into
that member's result, so every path that stores an outcome stores them too.

Hooks are built from the config by `hooks_for(cfg)`: every registered builder gets the config and
returns its hooks (none when its section is off). Builders that live in a higher layer (the Li2
diagnostics in `groklab.li2.hook`) register themselves when their module is imported; `PROVIDERS`
names those modules, and `hooks_for` imports them first. So `train(cfg)` honours `li2.every` from
Python as from the CLI, while no module of `train/` imports `li2/` at load time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np
import torch

if TYPE_CHECKING:
    from groklab.config import RunConfig
    from groklab.train.setup import EnsembleData


@dataclass
class HookContext:
    epoch: int
    cfg: RunConfig
    model: torch.nn.Module
    data: EnsembleData
    active: torch.Tensor


class Hook(Protocol):
    every: int

    def __call__(self, ctx: HookContext) -> dict[str, torch.Tensor | np.ndarray]: ...


HookBuilder = Callable[["RunConfig"], tuple]

# Modules that register hook builders on import (a higher layer's hooks; imported by `hooks_for`).
PROVIDERS: tuple[str, ...] = ("groklab.li2.hook", "groklab.li2.features_hook")

_BUILDERS: dict[str, HookBuilder] = {}


def register_hooks(name: str, builder: HookBuilder) -> None:
    """Make `builder(cfg) -> tuple of hooks` part of every run built from a config (`name` identifies it;
    registering the same name again replaces the builder)."""
    _BUILDERS[name] = builder


def hooks_for(cfg: RunConfig) -> tuple:
    """The hooks `cfg` asks for, from every registered builder, in registration order. A builder refuses a
    config it cannot serve with a GroklabError (e.g. li2.every with a transformer)."""
    for module in PROVIDERS:
        importlib.import_module(module)
    return tuple(hook for builder in _BUILDERS.values() for hook in builder(cfg))


def hook_summaries(hooks, rows: list[tuple]) -> dict:
    """The summary entries the hooks derive from one member's series rows (epoch, key, value)."""
    out: dict = {}
    for hook in hooks:
        summarise = getattr(hook, "summarise", None)
        if summarise is not None:
            out.update(summarise(rows))
    return out
