"""Project how long reproductions take on this machine, without running them: several at once.

    python benchmarks/reproduce_runtime.py li2-lr li2-ridge [--quick] [--probe-epochs 3] [--max-cells 12]

The same projection as `groklab reproduce NAME --estimate` (groklab.reproduce.estimate), for a list of names.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from groklab.reproduce import Context, load
from groklab.reproduce.estimate import project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--probe-epochs", type=int, default=3)
    parser.add_argument("--max-cells", type=int, default=12)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mode {'quick' if args.quick else 'full'}")
    for name in args.names:
        module = load(name)
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Context(name, args.quick, Path(tmp), f"{tmp}/store.sqlite", progress=False, echo=lambda _: None)
            if hasattr(module, "estimate"):
                print(module.estimate(ctx)["text"], flush=True)
            else:
                print(project(module, ctx, probe_epochs=args.probe_epochs, max_cells=args.max_cells)["text"], flush=True)


if __name__ == "__main__":
    sys.exit(main())
