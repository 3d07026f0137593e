"""The floating-point precisions groklab trains and computes losses in: one registry, no torch.

`train.dtype` and `loss.dtype` take its keys, `groklab.dtypes.DTYPES` maps them to torch dtypes and the
memory estimate (`train.memory`) reads the bytes per number.
"""

PRECISIONS = {"float32": 4, "float64": 8}  # name -> bytes per number
