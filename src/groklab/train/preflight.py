"""Everything about a config that can be wrong, checked before training writes its first row.

`preflight(cfg)` resolves the device, builds the task and every member's split, estimates the
memory the ensemble needs against what the machine has (before anything large is allocated), and
builds the model and optimizer at a tiny width so that their constructors see every other setting.
It raises a `GroklabError` for bad input and allocates nothing that scales with model.width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groklab.config import RunConfig
from groklab.dtypes import DTYPES
from groklab.errors import GroklabError
from groklab.models.kinds import MODEL_KINDS
from groklab.train.hooks import hooks_for
from groklab.train.memory import check_fits, member_bytes, task_shapes
from groklab.train.setup import EnsembleData, build_loss, build_model, build_optim, resolve_device


@dataclass
class Preflight:
    device: torch.device
    shapes: dict  # member_bytes' keyword arguments
    member_bytes: int  # estimated bytes per member


def preflight(cfg: RunConfig) -> Preflight:
    """Check `cfg` completely without training (see the module docstring); return what was learnt."""
    from groklab.tasks.build import build_task, split_for

    device = resolve_device(cfg.train.device)
    task = build_task(cfg.task)
    seeds = cfg.member_seeds()
    first = split_for(cfg.task, task, seeds[0])
    n_train, n_test = len(first.train), len(first.test)
    shapes = task_shapes(cfg, task, n_train, n_test)
    per_member = member_bytes(cfg, **shapes)
    check_fits(cfg, per_member, len(seeds), device.type)  # before the other members' splits: at once
    sizes = {seeds[0]: (n_train, n_test)}
    for seed in dict.fromkeys(seeds[1:]):
        split = split_for(cfg.task, task, seed)
        sizes[seed] = (len(split.train), len(split.test))
    if len(set(sizes.values())) > 1:
        raise GroklabError(
            f"members got different train sizes {sorted(set(sizes.values()))} (task.split={cfg.task.split}); "
            "use task.split=reference or random, or one seed per run")
    _probe_constructors(cfg, task, shapes, seeds)
    hooks_for(cfg)  # a hook refuses what it cannot serve (li2.every with a transformer) before anything is stored
    if cfg.train.tensorboard:
        from groklab.train.tensorboard import require_tensorboard

        require_tensorboard()
    if cfg.train.wandb:
        from groklab.train.wandb_log import require_wandb

        require_wandb()
    return Preflight(device, shapes, per_member)


def _probe_constructors(cfg: RunConfig, task, shapes: dict, seeds: list[int]) -> None:
    """Build model, loss and optimizer at the smallest width the config allows, on the CPU."""
    probe = cfg.model_copy(deep=True)
    probe.model.width = MODEL_KINDS[cfg.model.kind].probe_width(cfg.model)
    S, L = len(seeds), shapes.get("seq_len", shapes["arity"])
    empty = torch.zeros((S, 0, L), dtype=torch.long)
    input_size = shapes.get("vocab", shapes["arity"] * shapes["num_values"])
    data = EnsembleData(x_train=empty, y_train=empty[..., 0], x_test=empty, y_test=empty[..., 0],
                        num_classes=shapes["num_classes"], input_size=input_size)
    cpu, dtype = torch.device("cpu"), DTYPES[cfg.train.dtype]
    model = build_model(probe, task, data, seeds, cpu, dtype)
    build_loss(probe)
    build_optim(probe, model, cpu, dtype)
