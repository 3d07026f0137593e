"""Per-epoch metrics of an ensemble while it trains (the rows `groklab.train.loop` stores at the end)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class History:
    """Per-epoch metrics of every member ([S] arrays per entry); test values NaN off the eval schedule."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[np.ndarray] = field(default_factory=list)
    train_acc: list[np.ndarray] = field(default_factory=list)
    test_loss: list[np.ndarray] = field(default_factory=list)
    test_acc: list[np.ndarray] = field(default_factory=list)
    collapse: list[np.ndarray] = field(default_factory=list)
    series: list[tuple[int, str, np.ndarray]] = field(default_factory=list)  # (epoch, key, [S])

    def metric_rows(self, member: int, until: int | None = None) -> list[tuple]:
        f = lambda a: None if not np.isfinite(a[member]) else float(a[member])  # noqa: E731
        return [(e, f(tl), f(ta), f(vl), f(va), f(c)) for e, tl, ta, vl, va, c in
                zip(self.epochs, self.train_loss, self.train_acc, self.test_loss, self.test_acc, self.collapse)
                if until is None or e <= until]

    def series_rows(self, member: int, until: int | None = None) -> list[tuple]:
        return [(e, k, float(v[member])) for e, k, v in self.series
                if np.isfinite(v[member]) and (until is None or e <= until)]

    ARRAYS = ("train_loss", "train_acc", "test_loss", "test_acc", "collapse")

    def state(self) -> dict:
        """Plain lists and tensors only, so the resume state loads with torch's `weights_only` unpickler."""
        out = {name: [torch.from_numpy(np.ascontiguousarray(a)) for a in getattr(self, name)] for name in self.ARRAYS}
        out["epochs"] = [int(e) for e in self.epochs]
        out["series"] = [(int(e), str(k), torch.from_numpy(np.ascontiguousarray(v))) for e, k, v in self.series]
        return out

    @classmethod
    def from_state(cls, state: dict) -> "History":
        h = cls(epochs=list(state["epochs"]), series=[(e, k, v.numpy()) for e, k, v in state["series"]])
        for name in cls.ARRAYS:
            setattr(h, name, [a.numpy() for a in state[name]])
        return h

    def evaluated(self, member: int):
        """Epochs with a test evaluation and the train/test accuracy there."""
        e = np.array(self.epochs)
        va = np.array([a[member] for a in self.test_acc])
        ta = np.array([a[member] for a in self.train_acc])
        keep = np.isfinite(va)
        return e[keep], ta[keep], va[keep]
