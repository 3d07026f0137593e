"""Per-member early stopping: when each member of an ensemble has its answer.

`train.stop` names the rule: `never` (train to the budget), `grok` (stop at the first grok epoch) or
`sustained` (stop once the sustained-grok window has confirmed the grok: `train.sustain_evals` more
evaluations at or above `train.grok_acc`) or `plateau` (stop once test accuracy has settled, whatever its
level: see `PlateauWatch`). A member whose train loss is not finite stops as `diverged` under every rule.
A member still running at the last epoch stops as `budget`.

Stopping never changes a number that is reported: a member's grok epochs are decided by the same
evaluations `detect_grokking` reads (`GrokWatch` is its incremental form), and a stopped member's
stored series simply end at `stopped_epoch`. Under `grok`, `sustained_grok_epoch` is censored by
construction (the window is not observed); use `sustained` when the sustained epoch matters. `plateau`
answers a different question, the level a run's test accuracy settles at: a run that sits flat for the
whole window and groks later is stopped before its grok.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import torch

from groklab.config_schema import STOP_RULES as _STOP_RULES
from groklab.train.grokking import GrokThresholds, GrokWatch

STOP_RULES = tuple(_STOP_RULES)  # the registry is the config's (groklab.config_schema.STOP_RULES)
STOP_REASONS = ("grok", "sustained", "plateau", "diverged", "budget")


@dataclass(frozen=True)
class PlateauRule:
    evals: int = 100  # window length, in evaluations
    delta: float = 0.01  # largest change of the window mean that still counts as settled


class PlateauWatch:
    """Whether a member's test accuracy has settled: from its memorization epoch on (`GrokWatch` decides
    it), the mean test accuracy over the last `evals` evaluations differs from the mean over the `evals`
    before them by less than `delta`.

    Means over windows rather than a best-so-far: a curve that rises and then falls back has not settled
    either, and a single noisy evaluation moves a mean by 1/`evals` of its size.
    """

    def __init__(self, rule: PlateauRule = PlateauRule()):
        self.rule = rule
        self.recent: deque[float] = deque(maxlen=2 * rule.evals)  # test accuracies since memorization
        self.settled_epoch: int | None = None

    def update(self, epoch: int, test_acc: float, memorized: bool) -> None:
        if self.settled_epoch is not None or not memorized:
            return
        self.recent.append(float(test_acc))
        n = self.rule.evals
        if len(self.recent) == 2 * n:
            earlier, later = list(self.recent)[:n], list(self.recent)[n:]
            if abs(sum(later) - sum(earlier)) / n < self.rule.delta:
                self.settled_epoch = int(epoch)

    def state(self) -> dict:
        return dict(recent=list(self.recent), settled_epoch=self.settled_epoch)

    def load(self, state: dict) -> None:
        self.recent.clear()
        self.recent.extend(state["recent"])
        self.settled_epoch = state["settled_epoch"]


class MemberStops:
    """Stop decisions for the S members of one ensemble (indexed by original member, not stack position)."""

    def __init__(self, size: int, thresholds: GrokThresholds, rule: str = "never",
                 plateau: PlateauRule = PlateauRule()):
        self.rule = rule
        self.watches = [GrokWatch(thresholds) for _ in range(size)]
        self.plateaus = [PlateauWatch(plateau) for _ in range(size)] if rule == "plateau" else []
        self.stopped_epoch: list[int | None] = [None] * size
        self.reason: list[str | None] = [None] * size
        self.wall: list[float | None] = [None] * size
        self.diverged_at: list[int | None] = [None] * size

    def decide(self, epoch: int, alive: list[int], diverged: torch.Tensor, train_acc: torch.Tensor,
               test_acc: torch.Tensor, evaluated: bool, last: bool, wall: float) -> list[int]:
        """Record this epoch's evidence for the members on the stack (`alive[i]` at position i) and
        return the members that stop at this epoch."""
        div = diverged.tolist()
        train, test = train_acc.tolist(), test_acc.tolist()
        ending = []
        for pos, s in enumerate(alive):
            if div[pos]:
                reason = "diverged"
                self.diverged_at[s] = epoch
            else:
                if evaluated and math.isfinite(test[pos]):
                    self.watches[s].update(epoch, train[pos], test[pos])
                    if self.plateaus:
                        self.plateaus[s].update(epoch, test[pos], self.watches[s].memorization_epoch is not None)
                reason = self.rule if self._settled(s) else ("budget" if last else None)
            if reason is not None:
                self.stopped_epoch[s], self.reason[s], self.wall[s] = epoch, reason, wall
                ending.append(s)
        return ending

    def _settled(self, s: int) -> bool:
        if self.rule == "plateau":
            return self.plateaus[s].settled_epoch is not None
        return self.watches[s].settled(self.rule)

    def diverged_count(self) -> int:
        return sum(d is not None for d in self.diverged_at)

    def all_diverged(self) -> bool:
        return all(d is not None for d in self.diverged_at)

    def state(self) -> dict:
        return dict(stopped_epoch=list(self.stopped_epoch), reason=list(self.reason), wall=list(self.wall),
                    watches=[w.state() for w in self.watches], plateaus=[p.state() for p in self.plateaus])

    def load(self, state: dict | None, diverged_at: list[int | None]) -> None:
        """Restore from a resume checkpoint (`state` is None in checkpoints written before early stopping)."""
        self.diverged_at = list(diverged_at)
        if state is None:
            for s, epoch in enumerate(self.diverged_at):
                if epoch is not None:
                    self.stopped_epoch[s], self.reason[s] = epoch, "diverged"
            return
        self.stopped_epoch, self.reason, self.wall = list(state["stopped_epoch"]), list(state["reason"]), list(state["wall"])
        for watch, saved in zip(self.watches, state["watches"]):
            watch.load(saved)
        for watch, saved in zip(self.plateaus, state.get("plateaus", [])):
            watch.load(saved)
