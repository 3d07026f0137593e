"""The model kinds and rope modes the config names: one registry entry per model kind, without torch.

An entry says how the kind's inputs are encoded (operand indices or token sequences), builds the ensemble
from a model config section and the task's sizes, checks the section's kind-specific rules, gives the
floats one member holds (preflight's memory estimate, `train.memory`) and the smallest width its
constructor accepts (preflight builds every model at that width). `config_schema` takes `model.kind`'s
allowed values from it; `train.setup`, `train.memory` and `train.preflight` read the entry. The model
classes load on first use, so that the config reads the registry without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

ROPE_MODES = ("sequence", "none", "heads")  # groklab.models.rope's module docstring describes each


@dataclass(frozen=True)
class Sizes:
    """What a model is built for: the task's sizes and its encoded inputs' (`input_size` columns of the
    first layer or vocabulary, `seq_len` tokens per example; 0 for operand inputs)."""

    num_values: int
    arity: int
    num_classes: int
    input_size: int
    seq_len: int


@dataclass(frozen=True)
class ModelKind:
    tokens: bool  # inputs are token sequences (groklab.tasks.encoding) rather than operand indices
    build: Callable[..., Any]  # (model section, sizes, seeds, device, dtype) -> the ensemble module
    check: Callable[[Any], str | None]  # model section -> why it is invalid for this kind, or None
    # (model section, sizes) -> floats per member: (parameters, training activations per row, eval per row)
    floats: Callable[[Any, Sizes], tuple[int, int, int]]
    probe_width: Callable[[Any], int]  # model section -> the smallest width the constructor accepts
    routes_li2: bool  # optim.muon_routing=li2 (W and U.* on Muon) applies to its parameter names


def _build_two_layer(m, sizes: Sizes, seeds, device, dtype):
    from groklab.models.two_layer import TwoLayerEnsemble

    return TwoLayerEnsemble(
        num_values=sizes.num_values, arity=sizes.arity, num_classes=sizes.num_classes, width=m.width,
        activation=m.activation, top_init_scale=m.top_init_scale, output_scale=m.output_scale,
        extra_layers=m.extra_layers, complex_weights=m.complex_weights, seeds=seeds, dtype=dtype, device=device,
        complex_init=m.complex_init,
    )


def _two_layer_floats(m, s: Sizes) -> tuple[int, int, int]:
    K, C, layers = m.width, s.num_classes, 1 + m.extra_layers
    params = K * s.arity * s.num_values + C * K + m.extra_layers * K * K
    if m.complex_weights:
        params *= 2
    # hidden pre-activation, activation and both gradients per layer; logits, target and gradient
    return params, 4 * K * layers + 3 * C, 2 * K * layers + C


def _build_transformer(m, sizes: Sizes, seeds, device, dtype):
    from groklab.models.transformer import TransformerEnsemble

    return TransformerEnsemble(
        vocab_size=sizes.input_size, seq_len=sizes.seq_len, num_classes=sizes.num_classes, width=m.width,
        depth=m.depth, heads=m.heads, dropout=m.dropout, rope=m.rope, rope_base=m.rope_base, seeds=seeds,
        dtype=dtype, device=device, head_classes=sizes.input_size if m.head_classes == "vocab" else None,
    )


def _transformer_check(m) -> str | None:
    if m.width % m.heads:
        return f"model.width={m.width} must be divisible by model.heads={m.heads}"
    if m.rope != "none" and (m.width // m.heads) % 2:
        return (f"RoPE needs an even head dim, got model.width/model.heads={m.width // m.heads}; "
                "change model.width or model.heads, or set model.rope=none")
    return None


def _transformer_floats(m, s: Sizes) -> tuple[int, int, int]:
    K, C, D = m.width, s.num_classes, m.depth
    L, V = s.seq_len or s.arity + 1, s.input_size or s.num_values + 2
    params = V * K + C * K + D * 12 * K * K  # attention 4K², SwiGLU-sized MLP ≈ 8K²
    per_row_layer = L * K * 16 + m.heads * L * L * 2
    return params, D * per_row_layer + 3 * C, D * L * K * 4 + C


MODEL_KINDS: dict[str, ModelKind] = {
    "two_layer": ModelKind(tokens=False, build=_build_two_layer, check=lambda m: None, floats=_two_layer_floats,
                           probe_width=lambda m: 2, routes_li2=True),
    "transformer": ModelKind(tokens=True, build=_build_transformer, check=_transformer_check,
                             floats=_transformer_floats, probe_width=lambda m: 2 * m.heads, routes_li2=False),
}
