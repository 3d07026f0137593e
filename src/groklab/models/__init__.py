"""Models, all ensemble-first (a leading member axis S; a single run is S=1).

- :class:`TwoLayerEnsemble`: the Li2 two-layer network (optionally with residual extra layers and complex
  weights), first layer computed as a gather of W's columns (:func:`gather_first_layer`).
"""

from groklab.models.gather import dense_first_layer, gather_first_layer
from groklab.models.two_layer import ACTIVATIONS, TwoLayerEnsemble

__all__ = ["TwoLayerEnsemble", "ACTIVATIONS", "gather_first_layer", "dense_first_layer"]
