"""Shared test set-up.

- Tests marked `@pytest.mark.gap` skip (with the install hint) when GAP is absent.
- Tests marked `@pytest.mark.ray_cluster` (heavier real-cluster tests) run only when selected with
  `-m ray_cluster`; one quick real-cluster test stays in the default run.
- Torch runs on one thread: the suite's models are small, and on a shared 2-core machine two
  intra-op threads waiting on each other made small-model steps 10-20x slower. Numbers are unaffected.
  `make test` runs the suite in two processes (pytest-xdist, `-n 2`), each on one thread; OMP_NUM_THREADS=1
  (unless set) reaches the subprocesses tests start too, so that two workers never oversubscribe two cores.
- `--dist loadfile` hands whole files to the workers, so that a module-scoped fixture (a trained run, a quick
  reproduction) is built once, in one worker.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    from groklab.groups.gap import GAP_INSTALL_HINT, gap_available

    if "ray_cluster" not in (config.getoption("markexpr") or ""):
        heavy = pytest.mark.skip(reason="heavier real-cluster test: run it with pytest -m ray_cluster")
        for item in items:
            if "ray_cluster" in item.keywords:
                item.add_marker(heavy)
    if gap_available():
        return
    skip = pytest.mark.skip(reason=GAP_INSTALL_HINT)
    for item in items:
        if "gap" in item.keywords:
            item.add_marker(skip)
