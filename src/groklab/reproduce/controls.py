"""The negative control of every verdict: where it is tested that the verdict can come out false.

A verdict is worth something only if it could have failed. For each reproduction, `CONTROLS` maps the
start of each verdict's claim to one of

- a test, `"tests/FILE.py::TEST"`, which runs or replays (from a small stored fixture or a cheap quick
  setting) a case where the claim must not hold — the arms swapped, weight decay 0, the mechanism removed —
  and asserts that this verdict comes out false there;
- `MEASUREMENT`: the reproduction reports it with `pass: null` and a one-line reason (no control can exist);
- `NONE_YET`: no control has been built for it yet. No verdict may be left so: `tests/test_verdict_controls.py`
  asserts there are none, and a new verdict cannot be added without an entry here.

docs/reproductions.md ("How verdicts are built") lists every verdict with its control.
"""

from __future__ import annotations

MEASUREMENT = "measurement"
NONE_YET = "none yet"

_FIG3 = "tests/test_reproduce_li2_fig3.py::"
_FEATURES = "tests/test_reproduce_muon_features.py::"
_ENERGY = "tests/test_reproduce_li2_energy.py::test_energy_verdicts_fail_in_their_controls"
_RIDGE = "tests/test_reproduce_li2_ridge.py::test_lemma1_verdicts_fail_with_widths_swapped_and_large_eta"
_REPLAY = "tests/test_reproduce_controls_replayed.py::"
_MUON_ITSELF = "tests/test_reproduce_li2.py::test_li2_muon_map_and_mechanism_are_measured_and_thm8_holds"
_MUON_ARMS = "tests/test_muon_grokking.py::test_negative_controls_every_verdict_fails_with_identical_or_swapped_arms"
_WIDTH_BATCH = "tests/test_muon_width_batch.py::test_negative_controls_identical_and_swapped_arms_fail"
_RECON = "tests/test_reproduce_li2_reconstruction.py::test_reconstruction_verdicts_fail_with_the_nodes_swapped"
_SCALING = "tests/test_li2_scaling_controls.py::"
_LR = "tests/test_reproduce_li2_lr.py::"

CONTROLS: dict[str, dict[str, str]] = {
    "li2-fig3": {
        "wd 2e-4 groks": _FIG3 + "test_fig3_verdicts_fail_with_the_arms_swapped",
        "wd 0 does not grok": _FIG3 + "test_fig3_verdicts_fail_with_the_arms_swapped",
        "‖G_F‖ rises early and stays more elevated with weight decay": _FIG3 + "test_fig3_verdicts_fail_with_the_arms_swapped",
        "V's update direction settles before W's": _FIG3 + "test_v_before_w_fails_with_the_layers_swapped",
        "F̃ᵀF̃ stays near-diagonal": MEASUREMENT,
        "stages I < II < III in the grokking arm": _FIG3 + "test_stage_verdict_fails_on_the_wd0_arm_and_with_arms_swapped",
    },
    "li2-interactive": {
        "G_F's update puts more than the missing irreps' share": "tests/test_reproduce_li2_interactive.py::test_verdict_and_its_control",
    },
    "li2-energy": {
        "full Z_M data: every maximum is a single frequency": _ENERGY,
        "the operand blocks of a maximum have equal norms": _ENERGY,
        "random unit vectors score far below the maxima": _ENERGY,
        "non-abelian group: every maximum lies in one isotypic subspace": _ENERGY,
        "below the critical ratio the maxima memorise": _ENERGY,
        "Fourier starts are destroyed below p* and kept above it": _ENERGY,
        "Thm 5: memorisation is focused for x² and spread": _ENERGY,
    },
    "li2-scaling": {
        "sharp transition": _SCALING + "test_each_quick_verdict_fails_in_its_control",
        "a sharp boundary exists for every group": _SCALING + "test_a_boundary_exists_fails_with_no_crossing",
        "the boundary is that of the data, not of the budget":
            _SCALING + "test_the_budget_verdict_fails_where_the_budget_sets_the_boundary",
        "the law can be fitted": _SCALING + "test_the_law_cannot_be_fitted_on_fewer_than_three_bracketed_groups",
        "(a) the constant is the reference's": "tests/test_scaling_law.py::test_another_constant_fails_a_but_keeps_the_shape",
        "(b) the shape is ln M/M": "tests/test_scaling_law.py::test_a_power_law_with_another_exponent_fails_b",
        "(c) non-abelian groups lie on the abelian line": "tests/test_scaling_law.py::test_shifted_non_abelian_groups_fail_c",
        "the data prefer ln M/M to a free power law": "tests/test_scaling_law.py::test_a_power_law_with_another_exponent_fails_b",
        "prime, composite, product and non-abelian groups fall on one curve": "tests/test_li2_scaling_controls.py::test_each_quick_verdict_fails_in_its_control",
        "the fitted constant is of the reference's order": "tests/test_li2_scaling_controls.py::test_each_quick_verdict_fails_in_its_control",
        "the boundary p* decreases with |G|": "tests/test_li2_scaling_controls.py::test_each_quick_verdict_fails_in_its_control",
    },
    "li2-muon": {
        "at small K Muon reaches a lower test loss than Adam": _MUON_ITSELF,
        "Muon covers more features with fewer nodes": _MUON_ITSELF,
        "Thm 8 toy model": MEASUREMENT,
    },
    "li2-zero-init": {
        "zero init groks earlier than the default init at every training fraction": _REPLAY + "test_zero_init_verdicts_fail_with_the_inits_swapped",
        "the speed-up is largest with scarce data": _REPLAY + "test_zero_init_verdicts_fail_with_the_inits_swapped",
        "seed for seed (same split, same W(0)), zero init groks no later":
            _REPLAY + "test_zero_init_verdicts_fail_with_the_inits_swapped",
    },
    "li2-zero-init-deep": {
        "seed for seed (same split, W(0) and blocks), zero init groks no later":
            "tests/test_reproduce_li2_zero_init_deep.py::test_paired_verdict_fails_with_the_inits_swapped",
        "the speed-up of zero init by depth": MEASUREMENT,
    },
    "li2-lr": {
        "every run's test accuracy settles within the": _LR + "test_settle_verdict_fails_where_the_runs_meet_the_budget",
        "generalisation falls as the learning rate rises": "tests/test_reproduce_li2_training.py::test_quick_training_reproductions_pass",
        "every run fits its training set": _LR + "test_fit_verdict_fails_on_runs_stopped_before_they_fit",
        "the larger lr ends at nodes of higher energy": _REPLAY + "test_lr_verdicts_fail_with_the_lrs_reversed",
    },
    "li2-depth": {
        "deeper networks grok later": _REPLAY + "test_depth_verdicts_fail_with_depths_reversed_and_the_untrained_layer",
        "the bottom layer is near-Fourier after training at every depth":
            _REPLAY + "test_depth_verdicts_fail_with_depths_reversed_and_the_untrained_layer",
    },
    "li2-ridge": {
        "with the top layer replaced by its ridge solution every step, the network still groks":
            "tests/test_reproduce_li2_ridge.py::test_still_groks_fails_with_the_first_layer_frozen",
        "ridge V is slower than a trained V for M = 23 and faster for M ≥ 41":
            "tests/test_reproduce_li2_training.py::test_quick_training_reproductions_pass",
        "Lemma 1: for a wide random first layer G_F(∞) is linear in η": _RIDGE,
        "G_F(∞) shrinks as the layer widens": _RIDGE,
    },
    "li2-complex": {
        "complex weights grok faster than real weights": _REPLAY + "test_complex_verdict_fails_with_the_arms_swapped",
        "complex-initialised weights stay complex through training": _REPLAY + "test_complexness_verdict_fails_on_real_weights",
    },
    "li2-reconstruction": {
        "2M−2 complex Fourier nodes reconstruct Ỹ exactly": _RECON,
        "with one ± pair fewer (2M−4 nodes) the reconstruction fails": _RECON,
        "exactness is a complex-domain statement": _RECON,
        "generic (random) nodes need ≈ M² − 1 to reconstruct": _RECON,
        "non-abelian groups: the 2Σd_k³ irrep nodes reconstruct exactly": _RECON,
    },
    "muon-features": {
        "features are acquired before the test-accuracy jump": _FEATURES + "test_verdicts_fail_on_the_stored_runs_with_controls",
        "Muon covers more irreps sooner": _FEATURES + "test_verdicts_fail_on_the_stored_runs_with_controls",
        "Muon covers more irreps at matched progress": _FEATURES + "test_matched_progress_fails_where_muon_is_ahead_only_by_grokking_sooner",
        "Muon groks sooner": _FEATURES + "test_verdicts_fail_on_the_stored_runs_with_controls",
        "after grokking the key irreps carry the computation":
            "tests/test_features_cli.py::test_the_key_irreps_check_fails_at_initialisation",
    },
    "muon-grokking": {
        "primary: Muon groks sooner counting never-grokked runs as censored": _MUON_ARMS,
        "primary: Muon groks first in more seed-matched": _MUON_ARMS,
        "Muon groks sooner counting never-grokked runs as censored": _MUON_ARMS,  # committed medium results
        "Muon's mean grok epoch is below AdamW's": _MUON_ARMS,
        "the difference is significant (Welch": _MUON_ARMS,
        "Muon's grok epochs are more tightly distributed": _MUON_ARMS,
    },
    "muon-width-batch": {
        "Muon's KM median grok epoch is below AdamW's in every": _WIDTH_BATCH,
        "in at least one cell Muon groks sooner beyond chance": _WIDTH_BATCH,
    },
}


def control_of(name: str, claim: str) -> str | None:
    """The control declared for a verdict (its claim starts with the key), or None when none is declared."""
    for prefix, control in CONTROLS.get(name, {}).items():
        if claim.startswith(prefix):
            return control
    return None
