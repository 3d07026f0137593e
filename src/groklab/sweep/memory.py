"""The default memory budget of one sweep ensemble, per device.

Bytes per member are estimated from shapes by `groklab.train.memory` (re-exported here).
"""

from __future__ import annotations

from pathlib import Path

from groklab.train.memory import ITEMSIZE, OPTIM_STATE, format_bytes, member_bytes, shapes_of, system_memory

__all__ = ["CPU_BUDGET_FLOOR", "ITEMSIZE", "OPTIM_STATE", "default_budget", "format_bytes", "member_bytes", "shapes_of"]

CPU_BUDGET_FLOOR = 16 * 2**20


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
        return int(0.25 * system_memory()) // workers
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
