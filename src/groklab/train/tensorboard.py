"""Optional TensorBoard logging (`train.tensorboard=true`): the scalars the store records, live.

One event file per member, under <ensemble folder>/tensorboard/<run_id>, so TensorBoard lists the
members as separate runs with shared tags: train/loss, train/accuracy, test/loss, test/accuracy,
train/softmax_collapse (CE runs) and every hook series (li2.gf_norm -> li2/gf_norm). Values off the
evaluation schedule (NaN) are skipped, as the store skips them. The store stays the source of truth;
this is a viewer's convenience and never feeds results back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from groklab.errors import GroklabError

INSTALL_HINT = "train.tensorboard=true needs the tensorboard package: pip install tensorboard (or pip install 'groklab[report]')"
METRIC_TAGS = (("train_loss", "train/loss"), ("train_acc", "train/accuracy"), ("test_loss", "test/loss"),
               ("test_acc", "test/accuracy"), ("collapse", "train/softmax_collapse"))


def require_tensorboard() -> None:
    """Fail early, with the install command, when TensorBoard logging is asked for but unavailable."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise GroklabError(INSTALL_HINT) from None


def series_tag(key: str) -> str:
    """`li2.gf_norm` -> `li2/gf_norm`: TensorBoard groups tags by their first path component."""
    head, _, rest = key.partition(".")
    return f"{head}/{rest}" if rest else key


class TensorBoardLogger:
    """Writes one member's scalars per SummaryWriter; `log(epoch, history)` after each epoch."""

    def __init__(self, folder: Path, run_ids: list[str], history=None):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.root = Path(folder) / "tensorboard"
        self.writers = [SummaryWriter(log_dir=str(self.root / run_id), flush_secs=10) for run_id in run_ids]
        # A resumed run's earlier series were logged before the interruption.
        self._series_seen = len(history.series) if history is not None else 0

    def log(self, epoch: int, history) -> None:
        """The metrics appended to `history` for `epoch`, and the hook series added since the last call."""
        for name, tag in METRIC_TAGS:
            values = getattr(history, name)
            if values:
                self._scalars(tag, values[-1], epoch)
        for series_epoch, key, values in history.series[self._series_seen :]:
            self._scalars(series_tag(key), values, series_epoch)
        self._series_seen = len(history.series)

    def _scalars(self, tag: str, values, epoch: int) -> None:
        values = np.asarray(values, dtype=float).reshape(-1)
        for writer, value in zip(self.writers, values):
            if np.isfinite(value):
                writer.add_scalar(tag, float(value), global_step=epoch)

    def close(self) -> None:
        for writer in self.writers:
            writer.flush()
            writer.close()
