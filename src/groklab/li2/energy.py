"""The Li₂ energy E(w) of a hidden node and its local maxima (Thm 1, Thm 2, Cor 2, Thm 5, Thm 7).

Under Stage II each node ascends (Thm 1; docs/li2-quantities.md#energy)

    E(w) = ½ ‖Ỹᵀ σ(X w)‖²,   Ỹ = P₁⊥ Y (targets centred along the *sample* axis),  ‖w‖ = 1.

The pieces live in four modules, re-exported here:

    node_energy     E(w) and its gradient on any data subset, activations, the full table
    ascent          projected gradient ascent on the unit sphere from many starts
    maxima          Thm 2's closed forms, isotypic subspaces, the census of maxima, Thm 7's E_S
    memorization    Thm 5's single-target data, its ascent and closed-form optima

Normalisation (docs/li2-quantities.md#energy-normalisation). Every energy is, by default, the
**definition as written** above, with no 1/n and no other factor. With full data of Z_M and σ = x², a
maximiser in a complex-pair frequency has E = M/4, and for even M the real irrep k = M/2 has E = M/2.
The paper states M/16 and M/8, i.e. 4× smaller (most likely a dropped factor 2 in the cross term
2u_i v_j, on which E is quadratic). `paper_constants=True` divides E (and its gradient) by 4 to give
the paper's numbers; ratios between maxima and the maximisers themselves do not depend on the choice.

All functions are pure: they take tensors (or a group) and return tensors, floats or dicts.
"""

from groklab.li2.ascent import AscentResult, ascend_energy
from groklab.li2.maxima import (
    ascend_missing_features,
    census,
    closed_form_energy,
    fourier_vector,
    isotypic_basis,
    isotypic_maximum,
    missing_feature_energy,
    missing_feature_projector,
)
from groklab.li2.memorization import (
    MemorizationData,
    ascend_memorization,
    memorization_data,
    memorization_optimum,
    memorization_shape,
)
from groklab.li2.node_energy import (
    ACTIVATIONS,
    PAPER_FACTOR,
    activation_and_derivative,
    energy,
    energy_and_grad,
    full_data,
    preactivations,
)

__all__ = [
    "ACTIVATIONS",
    "PAPER_FACTOR",
    "AscentResult",
    "MemorizationData",
    "activation_and_derivative",
    "ascend_energy",
    "ascend_memorization",
    "ascend_missing_features",
    "census",
    "closed_form_energy",
    "energy",
    "energy_and_grad",
    "fourier_vector",
    "full_data",
    "isotypic_basis",
    "isotypic_maximum",
    "memorization_data",
    "memorization_optimum",
    "memorization_shape",
    "missing_feature_energy",
    "missing_feature_projector",
    "preactivations",
]
