"""The optimizer kinds: one registry entry per kind, read by everything that depends on the kind.

An entry names the class that implements the kind, the options `build_optimizer` accepts for it, the
config keys those options are read from (`train.setup.build_optim`), the config keys the kind adds to
the `optim` section (`config_schema.OptimConfig` gains them), how many state tensors it keeps per
parameter (preflight's memory estimate, `train.memory`), whether its update is elementwise (complex
weights are allowed only then) and whether it routes parameters into groups (Muon). Adding a kind is a
class in its own module and one entry here. No torch here, so that the config reads the registry
without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groklab.config_fields import added


@dataclass(frozen=True)
class OptimKind:
    module: str  # groklab.optim.<module> defines `cls`
    cls: str  # the batched optimizer class (Muon also builds an Adam/AdamW group for the rest)
    options: tuple[str, ...]  # build_optimizer's options for this kind (beyond the gradient transforms)
    # build_optimizer option <- config key optim.<key>; a key set to None passes nothing (the class default)
    config: dict[str, str]
    state: int  # optimizer-state tensors per parameter (the memory estimate; Muon counts its Adam group's two)
    elementwise: bool  # the update acts entry by entry, so complex weights step as (re, im) pairs
    routed: bool = False  # splits the parameters by optim.muon_routing (see groklab.optim.build.route)
    # config keys this kind adds to the optim section: name -> (type, field); `added` keys, so that
    # every run stored before the kind existed keeps its id
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)


KINDS: dict[str, OptimKind] = {
    "sgd": OptimKind("sgd", "SGD", ("momentum", "nesterov"), {"momentum": "momentum", "nesterov": "nesterov"},
                     state=1, elementwise=True),
    "adam": OptimKind("adam", "Adam", ("betas", "eps"), {"betas": "betas", "eps": "eps"}, state=2, elementwise=True),
    "adamw": OptimKind("adam", "AdamW", ("betas", "eps"), {"betas": "betas", "eps": "eps"}, state=2,
                       elementwise=True),
    "muon": OptimKind(
        "muon", "Muon",
        ("muon_variant", "muon_lr", "aux_lr", "muon_weight_decay", "aux_weight_decay", "muon_head", "momentum",
         "nesterov", "ns_coefficients", "ns_steps", "ns_eps", "ns_dtype", "adjust_lr_fn", "aux_betas", "aux_eps"),
        {"ns_steps": "ns_steps", "muon_head": "muon_head", "muon_variant": "muon_variant", "muon_lr": "muon_lr",
         "momentum": "muon_momentum", "nesterov": "nesterov", "adjust_lr_fn": "adjust_lr_fn", "ns_dtype": "ns_dtype"},
        state=2, elementwise=False, routed=True),
    "ademamix": OptimKind(
        "ademamix", "AdEMAMix", ("betas", "eps", "alpha", "beta3", "warmup"),
        {"betas": "betas", "eps": "eps", "alpha": "ademamix_alpha", "beta3": "ademamix_beta3",
         "warmup": "ademamix_warmup"},
        state=3, elementwise=True,
        fields={"ademamix_alpha": (float, added(5.0, ge=0)),  # weight of the slow EMA
                "ademamix_beta3": (float, added(0.9999, ge=0, lt=1)),  # the slow EMA's decay
                # steps over which alpha and beta3 warm up (None: no warm-up)
                "ademamix_warmup": (int | None, added(None, ge=1))}),
}
# Muon routings: which parameters go to Muon (see groklab.optim.build).
ROUTINGS = {
    "li2": "W and extra hidden layers U.* on Muon, V on Adam (the Li2 reference)",
    "hidden": "stacked 2-D hidden matrices on Muon; embeddings, head and gains on AdamW (the Muon paper)",
}
MUON_VARIANTS = ("torch", "li2")  # groklab.optim.muon's module docstring describes both
ADJUST_LR_FNS = ("original", "match_rms_adamw")  # the torch variant's lr rescaling (None: "original")


def kind_fields() -> dict[str, tuple[Any, Any]]:
    """The config keys every kind adds to the optim section (a key two kinds add is an error)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name, kind in KINDS.items():
        for key, spec in kind.fields.items():
            if key in out:
                raise TypeError(f"optim.{key} is added by two optimizer kinds (the second: {name})")
            out[key] = spec
    return out


def elementwise_kinds() -> tuple[str, ...]:
    return tuple(k for k, v in KINDS.items() if v.elementwise)
