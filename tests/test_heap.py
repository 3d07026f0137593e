import ctypes
import sys

import pytest

from groklab.train import heap


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux") or heap._malloc_trim() is None, reason="needs glibc")
def test_release_free_heap_returns_fragmented_free_pages():
    """Free 128 MiB of heap chunks below a live one (so free() cannot shrink the heap top): RSS stays up
    until the periodic trim gives the pages back, and only on its epochs."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    chunks = [libc.malloc(64 * 1024) for _ in range(2048)]
    for c in chunks:
        ctypes.memset(c, 1, 64 * 1024)
    pin = libc.malloc(64 * 1024)
    for c in chunks:
        libc.free(c)
    before = _rss_mib()
    heap.release_free_heap(heap.TRIM_EVERY_EPOCHS + 1)  # not a trim epoch
    assert _rss_mib() > before - 16
    heap.release_free_heap(heap.TRIM_EVERY_EPOCHS)
    assert _rss_mib() < before - 96
    libc.free(pin)
