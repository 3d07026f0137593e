"""What the GPU script runs on, as JSON on stdout: Python, torch, CUDA and its device, where groklab was
imported from, and the version of every package wheels.txt names (None where it does not import).

    python benchmarks/gpu/env.py            # exit status 1 when groklab or a dependency is missing
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import platform
import re
import sys
from pathlib import Path

WHEELS = Path(__file__).with_name("wheels.txt")
MODULES = {"pyyaml": "yaml", "pydantic-core": "pydantic_core", "annotated-types": "annotated_types",
           "typing-inspection": "typing_inspection", "typing-extensions": "typing_extensions",
           "annotated-doc": "annotated_doc"}


def listed() -> list[str]:
    names = []
    for line in WHEELS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"==", line.split()[0])[0])
    return names


def main() -> int:
    out: dict = {"python": platform.python_version(), "executable": sys.executable}
    versions, missing = {}, []
    for name in listed():
        try:
            importlib.import_module(MODULES.get(name, name))
            versions[name] = md.version(name)
        except Exception as err:  # noqa: BLE001 - any failure to import counts as missing
            versions[name] = None
            missing.append(f"{name} ({type(err).__name__}: {err})")
    out["packages"] = versions
    try:
        import torch

        out["torch"] = torch.__version__
        out["torch_cuda"] = torch.version.cuda
        out["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            out["device"] = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                             "capability": f"{props.major}.{props.minor}", "multiprocessors": props.multi_processor_count,
                             "count": torch.cuda.device_count()}
    except Exception as err:  # noqa: BLE001
        missing.append(f"torch ({type(err).__name__}: {err})")
    try:
        import groklab

        out["groklab"] = {"file": groklab.__file__, "version": md.version("groklab") if _installed() else None}
    except Exception as err:  # noqa: BLE001
        missing.append(f"groklab ({type(err).__name__}: {err})")
    out["missing"] = missing
    print(json.dumps(out, indent=2))
    return 1 if missing else 0


def _installed() -> bool:
    try:
        md.version("groklab")
        return True
    except md.PackageNotFoundError:
        return False


if __name__ == "__main__":
    sys.exit(main())
