"""A synthetic trainer for the boundary search: grok or not by a known logistic curve, no training.

`SyntheticProbe(truth, width, seeds, rng)` answers a probe at training fraction p with each seed's
outcome drawn independently, grokking with probability 1/(1 + exp(−ln(p/truth)/width)): the grok rate
crosses 1/2 exactly at `truth`, and `width` (in ln p) is how gradual the crossing is (seed noise;
width 0 is a sharp boundary). It counts probes and the member-epochs they would cost with a budget of
`budget` epochs: a seed that does not grok trains to the budget, one that groks stops at its grok,
drawn here as `grok_share`·budget. Used by the tests of the search and by
`benchmarks/cost_per_answer.py`.
"""

from __future__ import annotations

import numpy as np


class SyntheticProbe:
    def __init__(self, truth: float, width: float, seeds: int, rng: np.random.Generator, budget: int = 3000,
                 grok_share: float = 0.6):
        self.truth, self.width, self.seeds, self.rng = float(truth), float(width), int(seeds), rng
        self.budget, self.grok_share = int(budget), float(grok_share)
        self.probes, self.member_epochs = 0, 0

    def rate(self, p) -> np.ndarray:
        z = np.log(np.asarray(p, dtype=float) / self.truth)
        if self.width == 0:
            return (z >= 0).astype(float)
        return 1 / (1 + np.exp(-z / self.width))

    def __call__(self, p: float) -> np.ndarray:
        grokked = self.rng.random(self.seeds) < self.rate(p)
        self.probes += 1
        self.member_epochs += int(np.where(grokked, round(self.grok_share * self.budget), self.budget).sum())
        return grokked
