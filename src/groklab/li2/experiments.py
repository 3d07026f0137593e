"""Small building blocks the Li₂ reproductions share: train a list of cells, read a trained member's
weights back, and measure its hidden nodes (energy on the training set, irrep purity, coverage).

A *cell* is one ensemble: a base list of `key=value` overrides plus the cell's own; members inside a
cell differ only in seed, lr or weight decay (lists in `train.seeds`, `optim.lr`,
`optim.weight_decay`), everything else (group, width, init, depth, training fraction) makes a new
cell. Training goes through `groklab.train.loop.train`, so results land in the store named by
`store_path` and a re-run skips finished cells.

The store is passed in (anything with `.run(run_id)` returning the stored row, as
`groklab.store.Store`), so this module depends on train/ and li2/ only.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from groklab.config import RunConfig, load_config
from groklab.errors import GroklabError
from groklab.li2.energy import energy
from groklab.li2.features import classify_nodes, coverage
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


@contextmanager
def _threads_for(cfg: RunConfig):
    """One intra-op thread while training a small cell (see SMALL_CELL), the caller's count otherwise."""
    task = build_task(cfg.task)
    rows = len(split_for(cfg.task, task, cfg.member_seeds()[0]).train)
    size = cfg.num_members * rows * cfg.model.width * (1 + cfg.model.extra_layers)
    before = torch.get_num_threads()
    if size <= SMALL_CELL and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def grok_epochs(cell: Cell, censored_as: float = np.inf) -> np.ndarray:
    """First epoch each member reached the grokking test accuracy; `censored_as` (default ∞) for
    members that never did within the budget (a censored time is a lower bound, never a value)."""
    g = cell.values("grok_epoch")
    return np.where(np.isnan(g), censored_as, g)


def member_weights(store, run_id: str, epoch: int | None = None) -> dict[str, torch.Tensor]:
    """Parameters of one trained member (W, V, U.*) from its ensemble's snapshots: the last snapshot,
    or the one at `epoch`. `store` is a `groklab.store.Store` (or anything whose `.run(id)` gives
    the row with `folder` and `member`)."""
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
            from groklab.li2.snapshot_features import epoch_ranges

            raise GroklabError(f"run {run_id} has no snapshot at epoch {epoch}; saved epochs: {epoch_ranges([e for e, _ in snaps])}")
        path = found[0]
    return ckpt.load_snapshot(path, member=int(row["member"]))


def training_rows(cfg: RunConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(idx [n, arity], labels [n], num_classes) of a member's training set (the split of `seed`)."""
    task = build_task(cfg.task)
    split = split_for(cfg.task, task, int(seed))
    return torch.from_numpy(task.inputs[split.train]), torch.from_numpy(task.labels[split.train]), task.num_classes


def node_energies(W, idx, labels, num_classes: int, activation: str = "sqr") -> torch.Tensor:
    """E(w_j/‖w_j‖) of every first-layer row W [K, arity·M] on a dataset (definition as written):
    the energy each node's direction has in the landscape it climbed (Thm 1, unit-norm form)."""
    W = torch.as_tensor(W).detach().to(torch.float64)
    unit = W / W.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return energy(unit, idx, labels, num_classes, activation)


def node_summary(W, group, idx=None, labels=None, activation: str = "sqr") -> dict:
    """Per-member node statistics of a first layer W [K, arity·M]: mean energy of the active nodes'
    directions on (idx, labels) when given, median irrep purity of the active nodes, and the
    number / fraction of non-trivial irreps covered (`groklab.li2.features`)."""
    W = torch.as_tensor(W).detach().to(torch.float64)
    nodes = classify_nodes(W, group)
    cov = coverage(W, group, nodes=nodes)
    active = cov["active"]
    out = {
        "active": int(active.sum()),
        "purity_median": float(nodes["purity"][active].median()),
        "coverage": int(cov["count"]),
        "coverage_fraction": float(cov["fraction"]),
    }
    if idx is not None:
        e = node_energies(W, idx, labels, group.order, activation)
        out["energy_mean"] = float(e[active].mean())
    return out


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
