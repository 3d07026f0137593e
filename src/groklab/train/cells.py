"""Training cells for experiments: train a list of cells, read a trained member's weights and curves back.

A *cell* is one ensemble: a base list of `key=value` overrides plus the cell's own; members inside a
cell differ only in seed, lr or weight decay (lists in `train.seeds`, `optim.lr`,
`optim.weight_decay`), everything else (group, width, init, depth, training fraction) makes a new
cell. Training goes through `groklab.train.loop.train`, so results land in the store named by
`store_path` and a re-run skips finished cells.

Reproductions (`groklab.reproduce`) and the boundary search (`groklab.sweep.boundary`) train through
here; measuring the trained nodes is analysis (`groklab.li2.experiments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from groklab.config import RunConfig, load_config
from groklab.errors import GroklabError
from groklab.runtime import torch_threads
from groklab.tasks.build import build_task, split_for
from groklab.train import checkpoint as ckpt
from groklab.train.loop import train

# Reproductions look only at the final weights: one snapshot at the end (dense early snapshots
# would cost disk and time for nothing) and no resume file in between unless a run is long.
QUIET = ["train.progress=false", "train.checkpoint_dense_until=0"]

# Below this many activations per step (members × training rows × width × layers) a second intra-op
# thread only adds synchronisation: measured on the 2-core CI machine, Z23/K=256/3 members trains
# 2.5–7× faster on one thread than on two (the gap grows with machine load), while Z71/K=2048 gains
# from both. So small cells run single-threaded and the thread count is restored afterwards.
SMALL_CELL = 2**21


@dataclass
class Cell:
    """One trained ensemble: its config and one result dict per member (as `train` returns)."""

    label: str
    cfg: RunConfig
    results: list[dict]

    def values(self, key: str) -> np.ndarray:
        """One summary value per member (None → nan), e.g. "final_test_acc" or "grok_epoch"."""
        return np.array([np.nan if r.get(key) is None else float(r[key]) for r in self.results])


def train_cells(base: Sequence[str], cells: Sequence[tuple[str, Sequence[str]]], store_path: str,
                progress: bool = True, echo: Callable[[str], None] | None = None) -> list[Cell]:
    """Train each (label, overrides) cell on top of `base` (store at `store_path`); return the cells.

    Cells already complete in the store are read back, not retrained."""
    out = []
    for label, overrides in cells:
        cfg = load_config(None, [*QUIET, *base, *overrides, f"store.path={store_path}"])
        if echo is not None:
            echo(f"  {label}: {cfg.task.group}, K={cfg.model.width}, {cfg.num_members} members, {cfg.train.epochs} epochs")
        with _threads_for(cfg):
            out.append(Cell(label, cfg, train(cfg, progress=progress)))
    return out


def _threads_for(cfg: RunConfig):
    """One intra-op thread while training a small cell (see SMALL_CELL), the caller's count otherwise."""
    task = build_task(cfg.task)
    rows = len(split_for(cfg.task, task, cfg.member_seeds()[0]).train)
    size = cfg.num_members * rows * cfg.model.width * (1 + cfg.model.extra_layers)
    return torch_threads(1 if size <= SMALL_CELL and torch.get_num_threads() > 1 else None)


def grok_epochs(cell: Cell, censored_as: float = np.inf) -> np.ndarray:
    """First epoch each member reached the grokking test accuracy; `censored_as` (default ∞) for
    members that never did within the budget (a censored time is a lower bound, never a value)."""
    g = cell.values("grok_epoch")
    return np.where(np.isnan(g), censored_as, g)


def member_weights(store, run_id: str, epoch: int | None = None) -> dict[str, torch.Tensor]:
    """Parameters of one trained member (W, V, U.*) from its ensemble's snapshots: the last snapshot,
    or the one at `epoch`. `store` is a `groklab.store.Store` (or anything whose `.run(id)` gives
    the row with `folder` and `member`). For the member as an nn.Module with its config and metrics, see
    `groklab.load_run`."""
    row = store.run(run_id)
    folder = ckpt.ensemble_folder(row, store.folder) if hasattr(store, "folder") else Path(row["folder"])
    snaps = ckpt.list_snapshots(folder, (row.get("summary") or {}).get("stopped_epoch"))
    if not snaps:
        raise GroklabError(f"run {run_id} has no weight snapshots in {folder}")
    if epoch is None:
        path = snaps[-1][1]
    else:
        found = [p for e, p in snaps if e == int(epoch)]
        if not found:
            raise GroklabError(f"run {run_id} has no snapshot at epoch {epoch}; saved epochs: {ckpt.epoch_ranges([e for e, _ in snaps])}")
        path = found[0]
    return ckpt.load_snapshot(path, member=int(row["member"]))


def first_layer_over_training(store, run_id: str) -> list[tuple[int, torch.Tensor]]:
    """(epoch, W) of one member at every snapshot it is in (to its stopped epoch), by epoch."""
    row = store.run(run_id)
    member = int(row["member"])
    return [(e, ckpt.load_snapshot(p, member=member)["W"]) for e, p in ckpt.run_snapshots(row, store.folder)]


def metric_curves(store, cell: Cell, column: str = "test_acc") -> tuple[np.ndarray, np.ndarray]:
    """(epochs [E], values [S, E]) of one metric for every member of a cell, on the epochs where
    all members have it (test metrics exist only on the evaluation schedule). A member that stopped
    early (`train.stop`) keeps its last value to the end of the others' curves."""
    ids = [r["run_id"] for r in cell.results]
    frame = store.metrics(ids)
    table = frame.pivot(index="epoch", columns="run_id", values=column)[ids].dropna(how="all")
    for run_id, r in zip(ids, cell.results):
        stopped = r.get("stopped_epoch")
        if stopped is not None:
            after = table.index > stopped
            table.loc[after, run_id] = table.loc[table.index <= stopped, run_id].dropna().iloc[-1:].squeeze()
    table = table.dropna()
    return table.index.to_numpy(), table.to_numpy().T
