"""Process-wide state, set in one place: how many threads torch and BLAS may use.

Thread counts are per process and outlive any one call, so every change here is a context manager
that restores what it found (or, for a worker process that owns its threads, a plain setter).
torch and threadpoolctl are imported on first use: `groklab.groups` uses this module without torch.
"""

from __future__ import annotations

from contextlib import contextmanager


def set_torch_threads(count: int | None) -> None:
    """torch's intra-op threads for the rest of this process (a worker's own setting); None: unchanged."""
    if count:
        import torch

        torch.set_num_threads(count)


@contextmanager
def torch_threads(count: int | None):
    """torch's intra-op threads set to `count` inside the block (None: unchanged), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def single_threaded_blas():
    """numpy's BLAS (OpenBLAS, MKL, ...) on one thread inside the block, as found by threadpoolctl."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
