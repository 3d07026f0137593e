"""Measure the hidden nodes of trained Li₂ members: energy on the training set, irrep purity, coverage.

Pure analysis over weights and datasets. Training the cells these come from, and reading a member's
weights and curves back from the store, is `groklab.train.cells` (its names are re-exported here, so
older imports keep working).
"""

from __future__ import annotations

import torch

from groklab.config import RunConfig
from groklab.li2.energy import energy
from groklab.li2.features import classify_nodes, coverage
from groklab.tasks.build import build_task, split_for
from groklab.train.cells import QUIET, SMALL_CELL, Cell, grok_epochs, member_weights, metric_curves, train_cells

__all__ = ["Cell", "QUIET", "SMALL_CELL", "grok_epochs", "member_weights", "metric_curves", "node_energies",
           "node_summary", "train_cells", "training_rows"]


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
