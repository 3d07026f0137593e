"""Negative controls of li2-ridge's Lemma 1 verdicts (no training): as measured they pass; with the two widths'
scans swapped G_F(∞) no longer shrinks with width, and outside small η (η ∈ [1, 10]) G_F(∞) is no longer linear."""

import numpy as np

from groklab.reproduce import li2_ridge as rd


def test_lemma1_verdicts_fail_with_widths_swapped_and_large_eta():
    scans = rd.lemma_scans()
    small = rd.ETAS <= 1e-2
    linear, shrinks = (v.passed for v in rd.lemma_verdicts(scans, small))
    assert linear and shrinks
    narrow, wide = min(scans), max(scans)
    swapped = {narrow: scans[wide], wide: scans[narrow]}
    assert rd.lemma_verdicts(swapped, small)[1].passed is False
    large = rd.ETAS >= 1.0
    assert np.any(large) and rd.lemma_verdicts(scans, large)[0].passed is False
