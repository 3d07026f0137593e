"""Models, all ensemble-first (a leading member axis S; a single run is S=1).

- :class:`TwoLayerEnsemble`: the Li2 two-layer network (optionally with residual extra layers and complex
  weights), first layer computed as a gather of W's columns (:func:`gather_first_layer`).
- :mod:`groklab.models.activations`: the registry of activations (model, energy analysis, config).

The names below load on first use: the config reads the activation registry without importing torch.
"""

import importlib

_EXPORTS = {
    "TwoLayerEnsemble": "groklab.models.two_layer",
    "ACTIVATIONS": "groklab.models.two_layer",
    "gather_first_layer": "groklab.models.gather",
    "dense_first_layer": "groklab.models.gather",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
