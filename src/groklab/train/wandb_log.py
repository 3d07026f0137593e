"""Optional Weights & Biases logging (`train.wandb=true`): the scalars TensorBoard gets, with each run's config.

One W&B run per member, named by its run id and grouped by its ensemble, with the member's config (the one
the store holds) as the W&B config. Tags and values are those of the TensorBoard option
(`groklab.train.tensorboard`): train/loss, train/accuracy, test/loss, test/accuracy, train/softmax_collapse and
every hook series (li2/gf_norm, ...), each at its epoch as the W&B step; NaN (off the evaluation schedule) is
not logged.

**Offline unless configured.** W&B runs offline (files under the ensemble folder's `wandb/`, or `WANDB_DIR`;
upload later with `wandb sync`) unless the user has chosen otherwise: `WANDB_MODE` set, or an API key from
`wandb login` (in `~/.netrc`) or in `WANDB_API_KEY`. The project is `WANDB_PROJECT` or "groklab". The store
stays the source of truth; nothing read from W&B feeds results.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

import numpy as np

from groklab.errors import GroklabError
from groklab.train.tensorboard import METRIC_TAGS, series_tag

INSTALL_HINT = "train.wandb=true needs the wandb package: pip install 'groklab[wandb]'"
DEFAULT_PROJECT = "groklab"


def require_wandb() -> None:
    """Fail early, with the install command, when W&B logging is asked for but unavailable."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise GroklabError(INSTALL_HINT) from None


def wandb_mode() -> str:
    """WANDB_MODE when set; "online" when an API key is configured; "offline" otherwise."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        logged_in = netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        logged_in = False
    return "online" if logged_in else "offline"


class WandbLogger:
    """One W&B run per member; `log(epoch, history)` after each epoch, `close()` at the end."""

    def __init__(self, folder: Path, run_ids: list[str], members: list, ensemble_id: str, history=None):
        require_wandb()
        import wandb

        directory = os.environ.get("WANDB_DIR") or str(Path(folder) / "wandb")
        Path(directory).mkdir(parents=True, exist_ok=True)
        mode = wandb_mode()
        self.runs = [wandb.init(project=os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT), name=run_id[:8],
                                group=ensemble_id, job_type=member.name, config=dict(member.model_dump(mode="json"),
                                                                                    run_id=run_id),
                                dir=directory, mode=mode, reinit="create_new", settings=wandb.Settings(quiet=True))
                     for run_id, member in zip(run_ids, members)]
        # A resumed run's earlier series were logged before the interruption.
        self._series_seen = len(history.series) if history is not None else 0

    def log(self, epoch: int, history) -> None:
        """The metrics appended to `history` for `epoch` and the hook series added since the last call."""
        rows = [{} for _ in self.runs]
        for name, tag in METRIC_TAGS:
            values = getattr(history, name)
            if values:
                self._put(rows, tag, values[-1])
        for _, key, values in history.series[self._series_seen:]:
            self._put(rows, series_tag(key), values)
        self._series_seen = len(history.series)
        for run, row in zip(self.runs, rows):
            if row:
                run.log(row, step=epoch)

    @staticmethod
    def _put(rows: list[dict], tag: str, values) -> None:
        for row, value in zip(rows, np.asarray(values, dtype=float).reshape(-1)):
            if np.isfinite(value):
                row[tag] = float(value)

    def close(self) -> None:
        for run in self.runs:
            run.finish()
