"""Negative controls of li2-ridge. Lemma 1's verdicts (no training): as measured they pass; with the two widths'
scans swapped G_F(∞) no longer shrinks with width, and outside small η (η ∈ [1, 10]) G_F(∞) is no longer linear.
"Still groks" (a few seconds of real training): it passes with W learning and fails with W frozen."""

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


def test_still_groks_fails_with_the_first_layer_frozen(tmp_path):
    """The ridge top layer on real runs (Z41, the reproduction's setting, 2 seeds, 40 epochs; a few seconds): with W
    learning every seed groks (measured: epoch 25); with W frozen (lr 1e-9: ridge regression on the random first
    layer's features, the mechanism removed) no seed does, fitting part of the training set and none of the test."""
    from groklab.train.cells import grok_epochs, train_cells

    base = ["task.group=Z41", "model.width=256", "task.train_fraction=0.8", "model.activation=sqr", "loss.kind=mse",
            "optim.kind=adam", "optim.weight_decay=5e-5", "train.eval_every=5", "train.epochs=40", "train.seeds=[0,1]",
            f"model.ridge_lambda={rd.LAMBDA}"]
    learning, frozen = train_cells(base, [("W learns", ["optim.lr=5e-3"]), ("W frozen", ["optim.lr=1e-9"])],
                                   str(tmp_path / "runs.sqlite"), progress=False)
    verdict = {c.label: rd.groks_verdict({41: grok_epochs(c)}, {41: c.values("final_test_acc")}, "") for c in (learning, frozen)}
    assert verdict["W learns"].passed is True, verdict["W learns"].measured
    assert verdict["W frozen"].passed is False, verdict["W frozen"].measured
    assert frozen.values("final_test_acc").max() < 0.1
