"""Grokking detection from a run's evaluation history (pure numpy).

Definitions (thresholds are config parameters; defaults from the Muon paper and its critics):
- memorization epoch: first evaluation with train accuracy >= `memorize_acc` (0.99);
- grok epoch: first evaluation with test accuracy >= `grok_acc` (0.95) at which train accuracy has
  stayed >= `memorize_acc` for the last `stable_evals` (5) evaluations, this one included — the
  paper's "after training accuracy has stabilised" made operational;
- sustained grok epoch: the first grok-qualifying evaluation after which test accuracy stays
  >= `grok_acc` for the next `sustain_evals` (10) evaluations; a run that ends before those
  evaluations exist is not counted as sustained (censored for that metric);
- collapsed: grokked, then test accuracy later fell below `collapse_acc` (0.9);
- censored: no grok epoch within the budget. Censored runs are reported as such, never as the budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class GrokThresholds:
    memorize_acc: float = 0.99
    grok_acc: float = 0.95
    stable_evals: int = 5
    sustain_evals: int = 10
    collapse_acc: float = 0.9


@dataclass(frozen=True)
class GrokSummary:
    memorization_epoch: int | None
    grok_epoch: int | None
    sustained_grok_epoch: int | None
    censored: bool
    sustained_censored: bool
    collapsed: bool
    best_test_acc: float

    def to_dict(self) -> dict:
        return asdict(self)


def detect_grokking(epochs, train_acc, test_acc, thresholds: GrokThresholds = GrokThresholds()) -> GrokSummary:
    """Grokking milestones of one run from its evaluation epochs and accuracies (1-D arrays)."""
    epochs = np.asarray(epochs)
    train_acc = np.asarray(train_acc, dtype=float)
    test_acc = np.asarray(test_acc, dtype=float)
    t = thresholds
    if len(epochs) == 0:
        return GrokSummary(None, None, None, True, True, False, float("nan"))

    memorized = train_acc >= t.memorize_acc
    mem_idx = np.flatnonzero(memorized)
    memorization_epoch = int(epochs[mem_idx[0]]) if mem_idx.size else None

    # run length of consecutive memorized evaluations ending at each index
    run = np.zeros(len(epochs), dtype=int)
    for i, m in enumerate(memorized):
        run[i] = (run[i - 1] + 1 if i else 1) if m else 0
    qualifies = (test_acc >= t.grok_acc) & (run >= t.stable_evals)
    grok_idx = np.flatnonzero(qualifies)
    grok_epoch = int(epochs[grok_idx[0]]) if grok_idx.size else None

    sustained = None
    high = test_acc >= t.grok_acc
    for i in grok_idx:
        window = high[i + 1 : i + 1 + t.sustain_evals]
        if len(window) == t.sustain_evals and window.all():
            sustained = int(epochs[i])
            break

    collapsed = bool(grok_idx.size and (test_acc[grok_idx[0] + 1 :] < t.collapse_acc).any())
    best = float(np.nanmax(test_acc)) if np.isfinite(test_acc).any() else float("nan")
    return GrokSummary(memorization_epoch, grok_epoch, sustained, grok_epoch is None, sustained is None, collapsed, best)


class GrokWatch:
    """`detect_grokking` one evaluation at a time, for deciding when a member may stop training.

    After `update` has seen the evaluations of a run in order, `memorization_epoch`, `grok_epoch` and
    `sustained_epoch` equal what `detect_grokking` returns for the same evaluations (tested on random histories), at
    O(1) cost per evaluation instead of re-scanning the history.
    """

    def __init__(self, thresholds: GrokThresholds = GrokThresholds()):
        self.t = thresholds
        self.memorized_run = 0  # consecutive evaluations with train accuracy >= memorize_acc
        self.memorization_epoch: int | None = None
        self.grok_epoch: int | None = None
        self.sustained_epoch: int | None = None
        self._candidate: int | None = None  # earliest grok-qualifying epoch since the last low test accuracy
        self._high_since = 0

    def update(self, epoch: int, train_acc: float, test_acc: float) -> None:
        t = self.t
        self.memorized_run = self.memorized_run + 1 if train_acc >= t.memorize_acc else 0
        if self.memorized_run and self.memorization_epoch is None:
            self.memorization_epoch = int(epoch)
        high = test_acc >= t.grok_acc
        qualifies = high and self.memorized_run >= t.stable_evals
        if qualifies and self.grok_epoch is None:
            self.grok_epoch = int(epoch)
        if self.sustained_epoch is not None:
            return
        if self._candidate is not None:
            if high:
                self._high_since += 1
            else:
                self._candidate = None
        elif qualifies:
            self._candidate, self._high_since = int(epoch), 0
        if self._candidate is not None and self._high_since >= t.sustain_evals:
            self.sustained_epoch = self._candidate

    def settled(self, rule: str) -> bool:
        """Whether a member under stopping rule `rule` (never | grok | sustained) has its answer."""
        if rule == "grok":
            return self.grok_epoch is not None
        if rule == "sustained":
            return self.sustained_epoch is not None
        return False

    def state(self) -> dict:
        return dict(vars(self), t=None)

    def load(self, state: dict) -> None:
        for key, value in state.items():
            if key != "t":
                setattr(self, key, value)
