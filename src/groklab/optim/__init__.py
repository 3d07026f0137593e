"""Batched optimizers for ensembles: every parameter has a leading member axis S.

Members differ in learning rate and weight decay ([S] tensors), never in shapes; a member's
trajectory equals the same member optimised alone with torch.optim on its unstacked parameters.
`step(active)` leaves inactive members (params and state) untouched.

    from groklab.optim import build_optimizer
    opt = build_optimizer(dict(model.named_parameters()), kind="adam", lr=lr, weight_decay=wd)
"""

import importlib

from groklab.optim.kinds import KINDS as _KINDS

# Loaded on first use: the config reads the kinds (groklab.optim.kinds) without importing torch.
_EXPORTS = {
    "Adam": "adam", "AdamW": "adam", "BatchedOptimizer": "base", "CombinedOptimizer": "combined",
    "GradientTransform": "transforms", "GrokfastEMA": "transforms", "OrthoGrad": "transforms",
    "KINDS": "kinds", "ROUTINGS": "kinds", "build_optimizer": "build", "route": "build",
    "LI2_NS_COEFFICIENTS": "muon", "TORCH_NS_COEFFICIENTS": "muon", "Muon": "muon", "newton_schulz": "muon",
    "SGD": "sgd",
} | {entry.cls: entry.module for entry in _KINDS.values()}  # every registered kind's class

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"groklab.optim.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
