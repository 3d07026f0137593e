"""The scaling law against a free power law (`groklab.li2.scaling_law`): each verdict and its negative control
on synthetic boundary sets (pure numpy, no training)."""

import numpy as np
import pytest

from groklab.errors import GroklabError
from groklab.li2.scaling_law import correction, fit_laws, law_shape
from groklab.tasks.splits import CRITICAL_RATIO_C

ORDERS = np.array([22, 23, 24, 28, 41, 60, 71, 127, 143])
D_MAX = np.array([2, 1, 3, 1, 1, 5, 1, 1, 1])  # D22, Z23, S4, Z4xZ7, Z41, A5, Z71, Z127, Z13xZ11
SD = 0.04  # spread of each boundary's ln over its bootstrap replicates


def _boundaries(truth_y, seed=0, shift_nonabelian=1.0):
    """Measured boundaries around corrected values `truth_y`: the estimate and its replicates scatter by SD in ln."""
    rng = np.random.default_rng(seed)
    p = truth_y * correction(D_MAX) * np.where(D_MAX > 1, shift_nonabelian, 1.0)
    estimate = p * np.exp(rng.normal(0, SD, p.size))
    samples = estimate[:, None] * np.exp(rng.normal(0, SD, (p.size, 2000)))
    return estimate, samples


def test_data_following_the_law_pass_every_verdict():
    estimate, samples = _boundaries(CRITICAL_RATIO_C * law_shape(ORDERS))
    fit = fit_laws(ORDERS, D_MAX, estimate, samples)
    assert all(fit["verdicts"].values()), fit
    assert fit["ln M/M"]["ci"][0] < CRITICAL_RATIO_C < fit["ln M/M"]["ci"][1]
    # over 22..143 the law behaves like M^-0.74: its local slope runs from 1 − 1/ln 22 to 1 − 1/ln 143
    assert 0.67 < fit["local slope of ln M/M at the ends"][0] < fit["law exponent over the range"] < \
        fit["local slope of ln M/M at the ends"][1] < 0.81
    assert fit["preferred"] != "power law"
    assert len(fit["residuals ln"]["ln M/M"]) == ORDERS.size


def test_a_power_law_with_another_exponent_fails_b():
    """Negative control for (b): boundaries following M^-0.5 (levelled to the law's values at M = 41)."""
    y = CRITICAL_RATIO_C * law_shape(41) * (ORDERS / 41) ** -0.5
    fit = fit_laws(ORDERS, D_MAX, *_boundaries(y, seed=1))
    assert not fit["verdicts"]["b: alpha's CI covers the law's exponent"], fit["power law"]
    assert fit["power law"]["alpha ci"][1] < 0.6
    assert fit["preferred"] == "power law"
    assert fit["leave-one-group-out rms ln"]["power law"] < fit["leave-one-group-out rms ln"]["ln M/M"]


def test_another_constant_fails_a_but_keeps_the_shape():
    """Negative control for (a): the law's shape with c = 4."""
    fit = fit_laws(ORDERS, D_MAX, *_boundaries(4.0 * law_shape(ORDERS), seed=2))
    assert not fit["verdicts"]["a: c's CI covers the reference"]
    assert fit["ln M/M"]["ci"][0] > 3.5
    assert fit["verdicts"]["b: alpha's CI covers the law's exponent"]


def test_shifted_non_abelian_groups_fail_c():
    """Negative control for (c): the non-abelian boundaries 30 % above the abelian line after the correction."""
    fit = fit_laws(ORDERS, D_MAX, *_boundaries(CRITICAL_RATIO_C * law_shape(ORDERS), seed=3, shift_nonabelian=1.3))
    assert not fit["verdicts"]["c: non-abelian on the abelian line"]
    assert fit["non-abelian / abelian c"]["ci"][0] > 1.1


def test_the_correction_is_the_reference_s():
    assert list(correction([1, 2, 3, 5])) == [1.0, 1.0, 1.5, 2.5]


def test_too_few_or_unbracketed_groups_are_refused():
    estimate, samples = _boundaries(CRITICAL_RATIO_C * law_shape(ORDERS))
    with pytest.raises(GroklabError, match="at least 3 groups"):
        fit_laws(ORDERS[:2], D_MAX[:2], estimate[:2], samples[:2])
    estimate[0] = np.nan
    with pytest.raises(GroklabError, match="positive number"):
        fit_laws(ORDERS, D_MAX, estimate, samples)


def _searched(truths, seed):
    """The full design's searches on the synthetic trainer (8 seeds, width 0.05 in ln p): estimates and replicates."""
    from groklab.li2.boundary import boundary_estimate, run_search, search_limits
    from groklab.li2.boundary_sim import SyntheticProbe

    rng = np.random.default_rng(seed)
    estimates, samples = [], []
    for order, truth in zip(ORDERS, truths):
        fractions, outcomes, status = run_search(SyntheticProbe(truth, 0.05, 8, rng), search_limits(int(order), 0.1))
        est = boundary_estimate(fractions, outcomes, boot=1000, seed=int(order))
        assert status == "found"
        estimates.append(est["estimate"])
        samples.append(est["samples"])
    return np.array(estimates), np.array(samples)


def test_the_design_s_searches_keep_the_verdicts_calibrated_and_tell_the_law_from_m_to_the_minus_half():
    """End to end on synthetic grok curves, 40 designs each: nine searched boundaries (the design's groups,
    8 seeds) that follow the law pass each of (a)-(c) in at least 85 % of designs (95 % CIs); boundaries
    that follow M^-0.5 fail (b) in every design."""
    law = CRITICAL_RATIO_C * law_shape(ORDERS) * correction(D_MAX)
    passed = np.array([list(fit_laws(ORDERS, D_MAX, *_searched(law, seed=s))["verdicts"].values()) for s in range(40)])
    assert (passed.mean(0) >= 0.85).all(), passed.mean(0)
    other = CRITICAL_RATIO_C * law_shape(41) * (ORDERS / 41) ** -0.5 * correction(D_MAX)
    fails_b = [not fit_laws(ORDERS, D_MAX, *_searched(other, seed=100 + s))["verdicts"]["b: alpha's CI covers the law's exponent"]
               for s in range(40)]
    assert all(fails_b)
