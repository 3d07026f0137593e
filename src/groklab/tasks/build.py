"""From a validated `TaskConfig` to a dataset and its per-seed split."""

from __future__ import annotations

import numpy as np

from groklab.config import TaskConfig
from groklab.errors import GroklabError
from groklab.tasks.datasets import OPS, TaskData, make_task
from groklab.tasks.splits import Split, critical_fraction, split_rows

# Used when a config names no split (the registry's fractions, groklab.tasks.datasets.OPS).
DEFAULT_TRAIN_FRACTION = {name: op.train_fraction for name, op in OPS.items()}


def build_task(cfg: TaskConfig) -> TaskData:
    group = None
    if cfg.op == "compose":
        from groklab.groups import get_group

        try:
            group = get_group(cfg.group)
        except GroklabError as err:  # name the config key, as every other config error does
            raise GroklabError(f"invalid task.group: {err}") from None
    return make_task(op=cfg.op, group=group, modulus=cfg.modulus, arity=cfg.arity, parity_bits=cfg.parity_bits)


def max_irrep_degree(task: TaskData) -> int:
    if task.group is None or task.group.is_abelian:
        return 1
    from groklab.groups.irreps import irreps

    return int(irreps(task.group).degrees.max())


def train_fraction_for(cfg: TaskConfig, task: TaskData) -> float | None:
    """The training fraction a config asks for (None when it gives a row count)."""
    if cfg.train_size is not None:
        return None
    if cfg.critical_ratio is not None:
        size = task.group.order if task.group is not None else task.num_values
        return critical_fraction(size, c=cfg.critical_ratio, delta=cfg.critical_delta, d_max=max_irrep_degree(task))
    if cfg.train_fraction is not None:
        return cfg.train_fraction
    return DEFAULT_TRAIN_FRACTION[cfg.op]


def split_for(cfg: TaskConfig, task: TaskData, seed: int) -> Split:
    n = len(task.labels)
    if cfg.train_size is not None and cfg.train_size >= n:
        raise GroklabError(f"invalid task.train_size: must be below the {n} examples of {task.name}, got {cfg.train_size}")
    return split_rows(n, seed=seed, train_fraction=train_fraction_for(cfg, task), train_size=cfg.train_size, mode=cfg.split)


def describe_task(cfg: TaskConfig, task: TaskData, seed: int = 0) -> dict:
    split = split_for(cfg, task, seed)
    return {
        "task": task.name,
        "op": task.op,
        "examples": int(len(task.labels)),
        "train": int(len(split.train)),
        "test": int(len(split.test)),
        "train_fraction": round(len(split.train) / len(task.labels), 6),
        "classes": int(task.num_classes),
        "operand_values": int(task.num_values),
        "arity": int(task.inputs.shape[1]),
        "split": cfg.split,
        "seed": seed,
        "labels_seen_in_train": int(np.unique(task.labels[split.train]).size),
    }
