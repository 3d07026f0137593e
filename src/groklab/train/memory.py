"""How much memory one ensemble member needs, estimated from shapes, and how much the machine has.

The estimate counts what training holds at once: parameters, their gradients and optimizer state,
the activations of one full-batch (or minibatch) step, and the integer data tensors. It is an
estimate — allocator slack and temporaries are not modelled — good for sizing ensembles and for
refusing a config that cannot fit before anything is allocated, not for promising that one fits.
"""

from __future__ import annotations

import os

from groklab.config import RunConfig
from groklab.errors import GroklabError
from groklab.models.kinds import MODEL_KINDS, Sizes
from groklab.optim.kinds import KINDS
from groklab.precisions import PRECISIONS

ITEMSIZE = PRECISIONS  # bytes per number of each train.dtype
# Optimizer state tensors per parameter, from each kind's registry entry (Adam two moments, SGD one
# momentum buffer, Muon a momentum for its matrices and Adam moments for the rest, counted as two).
OPTIM_STATE = {name: kind.state for name, kind in KINDS.items()}


def member_bytes(cfg: RunConfig, *, num_values: int, arity: int, num_classes: int, n_train: int, n_test: int,
                 seq_len: int | None = None, vocab: int | None = None) -> int:
    """Estimated bytes one member of `cfg` holds while training (see the module docstring)."""
    m, t = cfg.model, cfg.train
    item = ITEMSIZE[t.dtype]
    rows = n_train if t.batch_size is None else min(n_train, t.batch_size)
    sizes = Sizes(num_values=num_values, arity=arity, num_classes=num_classes, input_size=vocab or 0,
                  seq_len=seq_len or 0)
    params, train_per_row, eval_per_row = MODEL_KINDS[m.kind].floats(m, sizes)  # the kind's registry entry
    train_acts, eval_acts = rows * train_per_row, n_test * eval_per_row
    state = OPTIM_STATE[cfg.optim.kind] + (1 if cfg.optim.grokfast else 0)
    floats = params * (2 + state) + max(train_acts, eval_acts)
    data_bytes = (n_train + n_test) * ((seq_len or arity) + 1) * 8
    return int(floats * item + data_bytes)


def shapes_of(cfg: RunConfig) -> dict:
    """The task sizes `member_bytes` needs (builds the task once; cheap next to training)."""
    from groklab.tasks.build import build_task, split_for

    task = build_task(cfg.task)
    split = split_for(cfg.task, task, cfg.member_seeds()[0])
    return task_shapes(cfg, task, len(split.train), len(split.test))


def task_shapes(cfg: RunConfig, task, n_train: int, n_test: int) -> dict:
    """`member_bytes`'s keyword arguments for a built task and split sizes."""
    out = dict(num_values=int(task.num_values), arity=int(task.inputs.shape[1]), num_classes=int(task.num_classes),
               n_train=int(n_train), n_test=int(n_test))
    if MODEL_KINDS[cfg.model.kind].tokens:
        from groklab.tasks.encoding import token_sequences

        tokens, vocab = token_sequences(task)
        out.update(seq_len=int(tokens.shape[1]), vocab=int(vocab))
    return out


def system_memory() -> int:
    """Physical memory in bytes (8 GiB when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def available_memory(device: str) -> int:
    """Bytes a new allocation can use now: free CUDA memory on CUDA, else the OS's available memory
    (MemAvailable in /proc/meminfo on Linux; free pages, then physical memory, elsewhere)."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return system_memory()


def check_fits(cfg: RunConfig, per_member: int, members: int, device: str) -> None:
    """Refuse (GroklabError) when `members` members of `per_member` bytes exceed the available memory."""
    need = per_member * members
    have = available_memory(device)
    if need > have:
        raise GroklabError(
            f"this run needs an estimated {format_bytes(need)} ({members} member(s) of {format_bytes(per_member)}; "
            f"model.width={cfg.model.width}), more than the {format_bytes(have)} available on {device}; lower "
            "model.width, the number of members (train.seeds, optim.lr, optim.weight_decay) or train.batch_size")


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
