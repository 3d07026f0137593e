"""Li₂ analysis: pure functions over tensors (Tian, arXiv 2509.21519; definitions in docs/li2-quantities.md).

    energy / energy_and_grad / ascend_energy / census     Thm 1–2, Cor 2: E(w) and its maxima
    closed_form_energy / isotypic_basis / isotypic_maximum Thm 2 values per irrep
    missing_feature_energy / ascend_missing_features      Thm 7
    memorization_data / memorization_shape / ...          Thm 5
    ridge_top_layer / gf_infinity / stage2_signal         Eqn 4, Lemma 1
    fourier_nodes / irrep_nodes / reconstruct             Thm 3
    critical_ratio / fit_critical_constant                Thm 4
    coupon_collector_T0 / muon_bound_Ta / simulate_collection   Thm 8
    gf_eta_scan / reconstruction_curve / random_nodes / random_energies / critical_ratio_theorem   (li2.scans)
    node_spectra / classify_nodes / coverage / coverage_over_training / missing_features (Thm 7)   (li2.features)
    backprop_gradient / gradient_stats / kernel_offdiag_ratio / update_cosine / sign_match   (li2.diagnostics: G_F, Thm 6)
    node_gradient / learned_missing_power                 Thm 7 in training: G_F's update on learned vs missing irreps   (li2.interactive)
    segment / StageRule                                    the three stages, each onset on its own   (li2.stages)

Energies are the definition as written, E = ½‖Ỹᵀσ(Xw)‖² (Z_M: M/4 per complex frequency, M/2 for
k = M/2); `paper_constants=True` gives the paper's 4× smaller numbers (docs/li2-quantities.md#energy-normalisation).
"""

from groklab.li2.energy import (
    ACTIVATIONS,
    PAPER_FACTOR,
    AscentResult,
    MemorizationData,
    activation_and_derivative,
    ascend_energy,
    ascend_memorization,
    ascend_missing_features,
    census,
    closed_form_energy,
    energy,
    energy_and_grad,
    fourier_vector,
    full_data,
    isotypic_basis,
    isotypic_maximum,
    memorization_data,
    memorization_optimum,
    memorization_shape,
    missing_feature_energy,
    missing_feature_projector,
    preactivations,
)
from groklab.li2.features import (
    active_nodes,
    classify_nodes,
    coverage,
    coverage_over_training,
    missing_features,
    node_spectra,
    readout_spectra,
)
from groklab.li2.theory import (
    collection_probabilities,
    cosine,
    coupon_collector_T0,
    critical_ratio,
    fit_critical_constant,
    fourier_nodes,
    gf_infinity,
    irrep_nodes,
    muon_bound_Ta,
    muon_expected_T,
    node_features,
    reconstruct,
    reconstruction_residual,
    ridge_top_layer,
    simulate_collection,
    stage2_signal,
)
from groklab.li2.scans import critical_ratio_theorem, gf_eta_scan, random_energies, random_nodes, reconstruction_curve

__all__ = [
    "ACTIVATIONS",
    "active_nodes",
    "classify_nodes",
    "coverage",
    "coverage_over_training",
    "missing_features",
    "node_spectra",
    "readout_spectra",
    "PAPER_FACTOR",
    "AscentResult",
    "MemorizationData",
    "activation_and_derivative",
    "ascend_energy",
    "ascend_memorization",
    "ascend_missing_features",
    "census",
    "closed_form_energy",
    "collection_probabilities",
    "cosine",
    "coupon_collector_T0",
    "critical_ratio",
    "energy",
    "energy_and_grad",
    "fit_critical_constant",
    "fourier_nodes",
    "fourier_vector",
    "full_data",
    "gf_infinity",
    "irrep_nodes",
    "isotypic_basis",
    "isotypic_maximum",
    "memorization_data",
    "memorization_optimum",
    "memorization_shape",
    "missing_feature_energy",
    "missing_feature_projector",
    "muon_bound_Ta",
    "muon_expected_T",
    "node_features",
    "preactivations",
    "reconstruct",
    "reconstruction_residual",
    "ridge_top_layer",
    "simulate_collection",
    "stage2_signal",
    "critical_ratio_theorem",
    "gf_eta_scan",
    "random_energies",
    "random_nodes",
    "reconstruction_curve",
]
