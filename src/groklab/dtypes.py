"""The floating-point precisions groklab computes in, named as configs name them."""

from __future__ import annotations

import torch

from groklab.errors import GroklabError
from groklab.precisions import PRECISIONS

DTYPES = {name: getattr(torch, name) for name in PRECISIONS}


def resolve_dtype(dtype, what: str = "dtype") -> torch.dtype:
    """'float32' | 'float64' | torch.float32 | torch.float64 -> torch.dtype; GroklabError otherwise."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise GroklabError(f"{what}={dtype!r} is not supported; allowed: {', '.join(DTYPES)}")
