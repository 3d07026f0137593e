"""Bridges from stored groklab runs to other tools (the top layer: it may import anything in groklab).

- `to_hooked_transformer(run_id)`: a trained transformer member as a TransformerLens `HookedTransformer`
  (`groklab.interop.tlens`; needs the `interp` extra).
"""

__all__ = ["to_hooked_transformer", "hooked_transformer"]


def __getattr__(name: str):
    if name in __all__:
        from groklab.interop import tlens

        return getattr(tlens, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
