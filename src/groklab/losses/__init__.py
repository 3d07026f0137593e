"""Per-member losses for ensembles (`groklab.losses.functions`) and their registry (`groklab.losses.kinds`).

The names below load on first use: the config reads the loss kinds without importing torch.
"""

import importlib

_EXPORTS = ("mse_class_centred", "mse_sample_centred", "cross_entropy", "stablemax", "stablemax_cross_entropy",
            "sparsemax_loss", "softmax_collapse_fraction", "zero_loss_fraction", "LOSSES", "CENTRINGS",
            "LOSS_DTYPES", "get_loss")

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module("groklab.losses.functions"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
