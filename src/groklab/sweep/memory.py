"""How much memory one ensemble member needs, estimated from shapes, and the default budget per device.

The estimate counts what training holds at once: parameters, their gradients and optimizer state,
the activations of one full-batch (or minibatch) step, and the integer data tensors. It is an
estimate — allocator slack and temporaries are not modelled — good for sizing ensembles, not for
promising that one fits.
"""

from __future__ import annotations

import os
from pathlib import Path

from groklab.config import RunConfig

ITEMSIZE = {"float32": 4, "float64": 8}
# Optimizer state per parameter: Adam keeps two moments, SGD one momentum buffer, Muon a momentum
# for its matrices and Adam moments for the rest (counted as two, the larger).
OPTIM_STATE = {"sgd": 1, "adam": 2, "adamw": 2, "muon": 2}
CPU_BUDGET_FLOOR = 16 * 2**20


def member_bytes(cfg: RunConfig, *, num_values: int, arity: int, num_classes: int, n_train: int, n_test: int,
                 seq_len: int | None = None, vocab: int | None = None) -> int:
    """Estimated bytes one member of `cfg` holds while training (see the module docstring)."""
    m, t = cfg.model, cfg.train
    item = ITEMSIZE[t.dtype]
    K, C = m.width, num_classes
    rows = n_train if t.batch_size is None else min(n_train, t.batch_size)
    if m.kind == "two_layer":
        params = K * arity * num_values + C * K + m.extra_layers * K * K
        if m.complex_weights:
            params *= 2
        # hidden pre-activation, activation and both gradients per layer; logits, target and gradient
        train_acts = rows * (4 * K * (1 + m.extra_layers) + 3 * C)
        eval_acts = n_test * (2 * K * (1 + m.extra_layers) + C)
    else:
        L, V, D = seq_len or arity + 1, vocab or num_values + 2, m.depth
        params = V * K + C * K + D * 12 * K * K  # attention 4K², SwiGLU-sized MLP ≈ 8K²
        per_row_layer = L * K * 16 + m.heads * L * L * 2
        train_acts = rows * (D * per_row_layer + 3 * C)
        eval_acts = n_test * (D * L * K * 4 + C)
    state = OPTIM_STATE[cfg.optim.kind] + (1 if cfg.optim.grokfast else 0)
    floats = params * (2 + state) + max(train_acts, eval_acts)
    data_bytes = (n_train + n_test) * ((seq_len or arity) + 1) * 8
    return int(floats * item + data_bytes)


def shapes_of(cfg: RunConfig) -> dict:
    """The task sizes `member_bytes` needs (builds the task once; cheap next to training)."""
    from groklab.tasks.build import build_task, split_for

    task = build_task(cfg.task)
    split = split_for(cfg.task, task, cfg.member_seeds()[0])
    out = dict(num_values=int(task.num_values), arity=int(task.inputs.shape[1]), num_classes=int(task.num_classes),
               n_train=len(split.train), n_test=len(split.test))
    if cfg.model.kind == "transformer":
        from groklab.tasks.encoding import token_sequences

        tokens, vocab = token_sequences(task)
        out.update(seq_len=int(tokens.shape[1]), vocab=int(vocab))
    return out


def default_budget(device: str, workers: int) -> int:
    """Bytes one ensemble may use by default.

    CPU: stacking members pays only while the ensemble's working set stays in the last-level cache
    (docs/architecture.md#performance-guidance: Z23/K=512 gains from a stack, Z71/K=2048 stacks of 32 run ~2×
    slower per member), so the budget is the L3 size shared among the workers, at least 16 MiB.
    CUDA: half the device memory shared among the workers on it. MPS: a quarter of system memory.
    """
    workers = max(1, workers)
    if device == "cuda":
        import torch

        return int(0.5 * torch.cuda.get_device_properties(0).total_memory) // workers
    if device == "mps":
        return int(0.25 * _system_memory()) // workers
    return max(CPU_BUDGET_FLOOR, _last_level_cache() // workers)


def _last_level_cache() -> int:
    caches = sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"))
    best = 0
    for index in caches:
        try:
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:].upper(), 1)
        digits = size.rstrip("KMGkmg")
        if digits.isdigit():
            best = max(best, int(digits) * scale)
    return best or 32 * 2**20


def _system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
