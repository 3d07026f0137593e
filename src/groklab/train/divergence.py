"""When a member counts as diverged (a runaway), so that training stops it and its summary says so.

A member diverges at the first epoch whose train loss is
  * not finite (NaN or ±inf), or
  * above `EXPLOSION_FACTOR` (10^6) times its epoch-0 train loss, the reference taken as at least
    `REFERENCE_FLOOR` (1) so that a tiny initial loss does not make ordinary noise count.
Six orders of magnitude is far beyond anything a converging or memorising run does on these
tasks (their losses stay within a small multiple of the initial one), so a member past it has run
away even while its numbers are still finite: e.g. Adam at lr 1e3 reaches train losses of 1e19.
From that epoch on the member is frozen (no more steps) and stored with `diverged: true` and
`diverged_epoch`.
"""

from __future__ import annotations

import numpy as np
import torch

EXPLOSION_FACTOR = 1e6
REFERENCE_FLOOR = 1.0


def diverging(train_loss: torch.Tensor, initial_loss: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Per member ([S] bool): has `train_loss` run away from `initial_loss` (the epoch-0 train loss)?"""
    bad = ~torch.isfinite(train_loss)
    if initial_loss is None:
        return bad
    initial = torch.as_tensor(np.asarray(initial_loss, dtype=np.float64), device=train_loss.device)
    reference = torch.nan_to_num(initial, nan=REFERENCE_FLOOR, posinf=REFERENCE_FLOOR).clamp(min=REFERENCE_FLOOR)
    return bad | (train_loss.to(torch.float64) > EXPLOSION_FACTOR * reference)
