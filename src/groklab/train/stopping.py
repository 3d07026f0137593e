"""Per-member early stopping: when each member of an ensemble has its answer.

`train.stop` names the rule: `never` (train to the budget), `grok` (stop at the first grok epoch) or
`sustained` (stop once the sustained-grok window has confirmed the grok: `train.sustain_evals` more
evaluations at or above `train.grok_acc`). A member whose train loss is not finite stops as
`diverged` under every rule. A member still running at the last epoch stops as `budget`.

Stopping never changes a number that is reported: a member's grok epochs are decided by the same
evaluations `detect_grokking` reads (`GrokWatch` is its incremental form), and a stopped member's
stored series simply end at `stopped_epoch`. Under `grok`, `sustained_grok_epoch` is censored by
construction (the window is not observed); use `sustained` when the sustained epoch matters.
"""

from __future__ import annotations

import math

import torch

from groklab.train.grokking import GrokThresholds, GrokWatch

STOP_RULES = ("never", "grok", "sustained")
STOP_REASONS = ("grok", "sustained", "diverged", "budget")


class MemberStops:
    """Stop decisions for the S members of one ensemble (indexed by original member, not stack position)."""

    def __init__(self, size: int, thresholds: GrokThresholds, rule: str = "never"):
        self.rule = rule
        self.watches = [GrokWatch(thresholds) for _ in range(size)]
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
                reason = self.rule if self.watches[s].settled(self.rule) else ("budget" if last else None)
            if reason is not None:
                self.stopped_epoch[s], self.reason[s], self.wall[s] = epoch, reason, wall
                ending.append(s)
        return ending

    def diverged_count(self) -> int:
        return sum(d is not None for d in self.diverged_at)

    def all_diverged(self) -> bool:
        return all(d is not None for d in self.diverged_at)

    def state(self) -> dict:
        return dict(stopped_epoch=list(self.stopped_epoch), reason=list(self.reason), wall=list(self.wall),
                    watches=[w.state() for w in self.watches])

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
