"""The optimizer kinds and routings: one registry for the builder and the config.

Each kind names its class in `groklab.optim` and the options it accepts (beyond the gradient
transforms every kind takes); `config.py` derives `optim.kind` and `optim.muon_routing` from these
keys. No torch here, so that the config reads the names without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptimKind:
    cls: str  # the class in groklab.optim (Muon also builds an Adam/AdamW group for the rest)
    options: tuple[str, ...]


KINDS: dict[str, OptimKind] = {
    "sgd": OptimKind("SGD", ("momentum", "nesterov")),
    "adam": OptimKind("Adam", ("betas", "eps")),
    "adamw": OptimKind("AdamW", ("betas", "eps")),
    "muon": OptimKind("Muon", (
        "muon_variant", "muon_lr", "aux_lr", "muon_weight_decay", "aux_weight_decay", "muon_head",
        "momentum", "nesterov", "ns_coefficients", "ns_steps", "ns_eps", "ns_dtype", "adjust_lr_fn",
        "aux_betas", "aux_eps",
    )),
}
# Muon routings: which parameters go to Muon (see groklab.optim.build).
ROUTINGS = {
    "li2": "W and extra hidden layers U.* on Muon, V on Adam (the Li2 reference)",
    "hidden": "stacked 2-D hidden matrices on Muon; embeddings, head and gains on AdamW (the Muon paper)",
}
MUON_VARIANTS = ("torch", "li2")  # groklab.optim.muon's module docstring describes both
ADJUST_LR_FNS = ("original", "match_rms_adamw")  # the torch variant's lr rescaling (None: "original")
