import ctypes
import os
import subprocess
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


_FAULTS_PER_STEP = """
import resource, sys, torch
import torch.nn.functional as F
from groklab.models.two_layer import TwoLayerEnsemble
from groklab.train import heap
if sys.argv[1] == "heap":
    assert heap.keep_large_blocks_on_heap()
torch.manual_seed(0)
model = TwoLayerEnsemble(61, 2, 61, 1024, "sqr", [0, 1, 2, 3])  # [4, 3721, 1024] activations: 61 MB each
idx = torch.randint(0, 61, (3721, 2))
y = ((idx[:, 0] + idx[:, 1]) % 61).repeat(4)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
def step():
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(idx).reshape(-1, 61), y).backward()
    optimizer.step()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 4, model.W.double().sum().item(),
      model.V.double().sum().item())
"""


@pytest.mark.skipif(heap._glibc() is None, reason="needs glibc")
def test_large_blocks_on_heap_spare_the_page_faults_of_every_step():
    """A full-batch step whose activations exceed glibc's largest mmap threshold maps, faults in and unmaps
    each of them afresh by default; once keep_large_blocks_on_heap ran, the steps reuse heap pages, and
    train to the same weights."""
    env = {k: v for k, v in os.environ.items() if k not in heap.USER_SETTINGS} | {"OMP_NUM_THREADS": "1"}
    runs = {mode: subprocess.run([sys.executable, "-c", _FAULTS_PER_STEP, mode], env=env, capture_output=True,
                                 text=True, check=True).stdout.split() for mode in ("mmap", "heap")}
    faults = {mode: int(out[0]) for mode, out in runs.items()}
    assert faults["mmap"] > 3 * 61 * 2**20 // 4096  # at least three 61 MB buffers faulted in per step
    assert faults["heap"] < faults["mmap"] / 2  # 6x fewer on an idle machine, 2.9x in a loaded test run
    assert runs["mmap"][1:] == runs["heap"][1:]  # the same weights to the last bit: only where buffers live changed


def test_an_explicit_environment_setting_wins(monkeypatch):
    heap.keep_large_blocks_on_heap.cache_clear()
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    try:
        assert heap.keep_large_blocks_on_heap() is False
    finally:
        heap.keep_large_blocks_on_heap.cache_clear()
