"""Grokking milestones from synthetic accuracy curves with known answers."""

import numpy as np

from groklab.train.grokking import GrokThresholds, detect_grokking


def curves(n=100, mem_at=10, grok_at=40, drop_at=None):
    epochs = np.arange(n)
    train = np.where(epochs >= mem_at, 1.0, 0.5)
    test = np.where(epochs >= grok_at, 0.99, 0.02)
    if drop_at is not None:
        test = np.where(epochs >= drop_at, 0.3, test)
    return epochs, train, test


def test_memorization_then_grok():
    s = detect_grokking(*curves())
    assert (s.memorization_epoch, s.grok_epoch, s.sustained_grok_epoch) == (10, 40, 40)
    assert not s.censored and not s.collapsed


def test_grok_waits_for_stable_memorization():
    # test accuracy is high as soon as train memorizes: the grok epoch waits for 5 stable evaluations
    s = detect_grokking(*curves(mem_at=10, grok_at=10))
    assert s.grok_epoch == 14


def test_never_groks_is_censored_not_budget():
    s = detect_grokking(*curves(grok_at=1000))
    assert s.censored and s.grok_epoch is None and s.sustained_censored


def test_collapse_after_grok_and_sustained_variant():
    epochs, train, test = curves(grok_at=40, drop_at=45)
    test[60:] = 0.99
    s = detect_grokking(epochs, train, test)
    assert s.grok_epoch == 40 and s.collapsed
    assert s.sustained_grok_epoch == 60


def test_sustained_needs_enough_future_evaluations():
    s = detect_grokking(*curves(n=45, grok_at=40))
    assert s.grok_epoch == 40 and s.sustained_grok_epoch is None and s.sustained_censored


def test_thresholds_are_parameters():
    epochs, train, test = curves()
    test = np.where(test > 0.5, 0.9, test)
    assert detect_grokking(epochs, train, test).censored
    assert detect_grokking(epochs, train, test, GrokThresholds(grok_acc=0.85)).grok_epoch == 40
