"""Assemble an ensemble run from a config: device, data tensors, model, loss, optimizer, hooks.

Each piece is built by the layer that owns it; this file only wires config values to them. `setup(cfg)`
builds a run for training: the training loop, and through it sweeps' workers and reproductions. Two
other places assemble parts of a run from these builders: preflight (`preflight.py`, model and
optimizer at a tiny width, without data) and the snapshot feature reader (`li2/snapshot_features.py`,
which builds the transformer itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from groklab.config import RunConfig
from groklab.dtypes import DTYPES
from groklab.errors import GroklabError
from groklab.models.kinds import MODEL_KINDS, Sizes
from groklab.tasks.build import build_task, split_for
from groklab.tasks.datasets import TaskData
from groklab.tasks.encoding import token_sequences
from groklab.train.hooks import hooks_for


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GroklabError("train.device=cuda but no CUDA device is available; use train.device=auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GroklabError("train.device=mps but MPS is not available; use train.device=auto or cpu")
    return torch.device(name)


@dataclass
class EnsembleData:
    """Per-member train/test inputs stacked on a leading member axis (members share sizes)."""

    x_train: torch.Tensor  # [S, n, L] model inputs (operand column indices or tokens)
    y_train: torch.Tensor  # [S, n]
    x_test: torch.Tensor  # [S, m, L]
    y_test: torch.Tensor  # [S, m]
    num_classes: int
    input_size: int  # columns of the first layer (two-layer) or vocabulary size (transformer)

    @property
    def members(self) -> int:
        return self.x_train.shape[0]


def build_data(cfg: RunConfig, task: TaskData, seeds: list[int], device: torch.device) -> EnsembleData:
    if MODEL_KINDS[cfg.model.kind].tokens:
        inputs, input_size = token_sequences(task)
    else:
        inputs = task.inputs  # operand values; the model offsets operand j by j·M itself
        input_size = task.inputs.shape[1] * task.num_values
    splits = [split_for(cfg.task, task, seed) for seed in seeds]
    sizes = {(len(s.train), len(s.test)) for s in splits}
    if len(sizes) > 1:
        raise GroklabError(
            f"members got different train sizes {sorted(sizes)} (task.split={cfg.task.split}); "
            "use task.split=reference or random, or one seed per run")
    as_tensor = lambda a: torch.as_tensor(np.stack(a), device=device)  # noqa: E731
    return EnsembleData(
        x_train=as_tensor([inputs[s.train] for s in splits]),
        y_train=as_tensor([task.labels[s.train] for s in splits]),
        x_test=as_tensor([inputs[s.test] for s in splits]),
        y_test=as_tensor([task.labels[s.test] for s in splits]),
        num_classes=task.num_classes,
        input_size=int(input_size),
    )


def build_model(cfg: RunConfig, task: TaskData, data: EnsembleData, seeds: list[int], device, dtype) -> torch.nn.Module:
    """The ensemble of `cfg.model.kind`, built by its registry entry (`groklab.models.kinds`)."""
    sizes = Sizes(num_values=int(task.num_values), arity=int(task.inputs.shape[1]), num_classes=int(task.num_classes),
                  input_size=int(data.input_size), seq_len=int(data.x_train.shape[-1]))
    return MODEL_KINDS[cfg.model.kind].build(cfg.model, sizes, seeds, device, dtype)


def build_loss(cfg: RunConfig):
    from groklab.losses import get_loss

    return get_loss(cfg.loss.kind, centring=cfg.loss.centring, dtype=cfg.loss.dtype)


def build_optim(cfg: RunConfig, model: torch.nn.Module, device, dtype):
    """The combined per-member optimizer (gradient transforms such as Grokfast/⊥Grad run inside it)."""
    from groklab.optim import build_optimizer

    from groklab.optim.kinds import KINDS

    o, entry = cfg.optim, KINDS[cfg.optim.kind]
    per_member = lambda key: torch.tensor(cfg.member_values(key), device=device, dtype=torch.float64)  # noqa: E731
    hyper: dict = dict(grokfast=o.grokfast, grokfast_alpha=o.grokfast_alpha, grokfast_lamb=o.grokfast_lamb,
                       orthograd=o.orthograd)
    # the kind's options, read from the config keys its registry entry names (None: the class's default)
    options = {option: getattr(o, key) for option, key in entry.config.items()}
    hyper.update({k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v is not None})
    routing = o.muon_routing if entry.routed else None
    return build_optimizer(dict(model.named_parameters()), kind=o.kind, lr=per_member("lr"),
                           weight_decay=per_member("weight_decay"), routing=routing, **hyper)


@dataclass
class Run:
    """Everything a training loop needs, built from one config (`setup`)."""

    device: torch.device
    dtype: torch.dtype
    seeds: list[int]  # one per member
    task: TaskData
    data: EnsembleData
    model: torch.nn.Module
    loss_fn: Callable
    optimizer: object  # the combined per-member optimizer (`groklab.optim.build_optimizer`)
    hooks: tuple  # what the config asks for (`groklab.train.hooks.hooks_for`), e.g. the Li2 diagnostics


def setup(cfg: RunConfig) -> Run:
    """Build the run `cfg` describes, in data-flow order."""
    device = resolve_device(cfg.train.device)
    dtype = DTYPES[cfg.train.dtype]
    seeds = cfg.member_seeds()
    task = build_task(cfg.task)
    data = build_data(cfg, task, seeds, device)
    model = build_model(cfg, task, data, seeds, device, dtype)
    return Run(device, dtype, seeds, task, data, model, build_loss(cfg), build_optim(cfg, model, device, dtype),
               hooks_for(cfg))
