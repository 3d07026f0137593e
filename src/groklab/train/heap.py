"""Keep the step's large buffers on glibc's heap, and give freed heap memory back to the OS.

Every full-batch step allocates and frees activation buffers of tens of MB. glibc serves them from
its heap and, once the heap is fragmented, keeps the freed pages: a li2-fig3 run with Li2 diagnostics
grew from ~0.5 to 2.5 GB resident in 300 epochs (and to 11–13 GB in longer two-seed runs).
`malloc_trim(0)` returns the free pages every few epochs (same run: 0.9 GB peak, no measurable time
cost). Forcing large blocks onto mmap (`MALLOC_MMAP_THRESHOLD_`) also stops the growth but doubled
the epoch time, because every buffer is then faulted in and zeroed afresh.

glibc does exactly that by itself for blocks above its largest mmap threshold (32 MiB): at Z127,
K = 1024 with 15 members every [S, n, K] activation is 200 MB, so each step mapped and unmapped about
1 GB, 250,000 page faults, and the kernel's zeroing took 38 % of the run's CPU time. Serving every block
from the heap (`mallopt(M_MMAP_MAX, 0)`), and letting free() keep a freed block at the heap's top
instead of shrinking the heap (`M_TRIM_THRESHOLD`), reuses the pages; the periodic trim above still
bounds the resident size, at the cost of refaulting them once every TRIM_EVERY_EPOCHS epochs. Numbers are
unchanged: only where the buffers live changes. Any of USER_SETTINGS in the environment wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

TRIM_EVERY_EPOCHS = 10
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameter numbers (malloc.h)
KEEP_FREED_TOP = 2**31 - 1  # bytes of free heap top that free() keeps (mallopt's int maximum)
USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


@functools.lru_cache(maxsize=1)
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None  # musl has neither


def _malloc_trim():
    libc = _glibc()
    return None if libc is None else libc.malloc_trim


@functools.lru_cache(maxsize=1)
def keep_large_blocks_on_heap() -> bool:
    """Serve every allocation from glibc's heap instead of a fresh mmap (once per process; glibc only).
    Returns whether the setting is in force; False where the environment already chose."""
    libc = _glibc()
    if libc is None or any(name in os.environ for name in USER_SETTINGS):
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREED_TOP))


def release_free_heap(epoch: int) -> None:
    """Return the heap's free pages to the OS every TRIM_EVERY_EPOCHS epochs (glibc only; else a no-op)."""
    trim = _malloc_trim()
    if trim is not None and epoch % TRIM_EVERY_EPOCHS == 0:
        trim(0)
