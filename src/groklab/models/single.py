"""One ensemble member as an ordinary PyTorch model: named layers, no member axis.

The ensembles (`TwoLayerEnsemble`, `TransformerEnsemble`) are laid out for training many members at once:
stacked ``[S, ...]`` parameters, gains folded into matrices, RoPE folded into the q/k projections. For
looking at one trained model — in a notebook, with hooks, or handed to other tools — :func:`standalone`
copies member s into the textbook form of the same network:

- :class:`TwoLayerNet`: ``W`` (``nn.Linear(arity·M, K)``), residual ``U`` layers, ``V`` (``nn.Linear(K, C)``);
  ``forward(inputs [n, arity])`` takes operand values and returns logits ``[n, C]``.
- :class:`Transformer`: ``embed`` (``nn.Embedding``), ``blocks[l]`` with ``attn_norm`` / ``ffn_norm``
  (``nn.RMSNorm``), ``attn.q/k/v/o`` and ``ffn.gate/up/down`` (``nn.Linear``), ``final_norm``, ``head``;
  ``forward(tokens [n, L])`` returns the logits ``[n, head_classes]`` at the last position.

Same function as the member (tested to float32 rounding on every input of a task): only the order of
floating-point operations differs. Dropout runs as ``nn.Dropout``, so in training mode its masks are
torch's, not the ensemble's per-member stream; the copies come back in eval mode.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from groklab.models.activations import get_activation
from groklab.models.rope import apply_rope, rope_angles

__all__ = ["TwoLayerNet", "Transformer", "standalone"]


def _linear(weight: torch.Tensor) -> nn.Linear:
    """A bias-free nn.Linear holding a copy of `weight` [out, in] (any dtype, complex included)."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device="meta")
    layer.weight = nn.Parameter(weight.detach().clone())
    return layer


class TwoLayerNet(nn.Module):
    """One Li2 network: ``logits = β · Re(V σ(… σ(h + U h) …))`` with ``h = σ(W x)``, x the concatenated
    one-hot operands. Built by :func:`standalone` from a trained `TwoLayerEnsemble` member."""

    def __init__(self, W: torch.Tensor, V: torch.Tensor, U: list[torch.Tensor], num_values: int,
                 activation: str = "sqr", output_scale: float = 1.0):
        super().__init__()
        self.num_values, self.arity = num_values, W.shape[1] // num_values
        self.activation, self.output_scale = activation, float(output_scale)
        self.W, self.V = _linear(W), _linear(V)
        self.U = nn.ModuleList(_linear(u) for u in U)
        self.act = get_activation(activation).fn

    def one_hot(self, inputs: torch.Tensor) -> torch.Tensor:
        """Operand values [n, arity] -> the concatenated one-hot input [n, arity·M] the first layer reads."""
        offsets = torch.arange(self.arity, device=inputs.device) * self.num_values
        columns = inputs.to(torch.int64) + offsets
        return F.one_hot(columns, self.arity * self.num_values).sum(-2).to(self.W.weight.dtype)

    def hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        """The features V reads, [n, K] (complex with complex weights)."""
        h = self.act(self.W(self.one_hot(inputs)))
        for layer in self.U:
            h = self.act(h + layer(h))
        return h

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out = self.V(self.hidden(inputs))
        out = out.real if out.is_complex() else out
        return out * self.output_scale if self.output_scale != 1.0 else out


class Attention(nn.Module):
    """Causal multi-head self-attention with RoPE (interleaved pairs) on q and k, no biases."""

    def __init__(self, wq, wk, wv, wo, heads: int, rope: str, rope_base: float, seq_len: int):
        super().__init__()
        self.q, self.k, self.v, self.o = (_linear(w) for w in (wq, wk, wv, wo))
        self.heads, self.head_dim, self.rope = heads, wq.shape[0] // heads, rope
        angles = rope_angles(rope, seq_len, heads, self.head_dim, rope_base)  # [L or 1, 1 or H, hd/2]
        dtype = wq.dtype
        self.register_buffer("rope_cos", None if angles is None else angles.cos().to(dtype), persistent=False)
        self.register_buffer("rope_sin", None if angles is None else angles.sin().to(dtype), persistent=False)

    def _heads(self, x: torch.Tensor, rotate: bool) -> torch.Tensor:
        n, L, _ = x.shape
        x = x.view(n, L, self.heads, self.head_dim)
        if rotate and self.rope_cos is not None:
            cos, sin = (t[:L] if self.rope == "sequence" else t for t in (self.rope_cos, self.rope_sin))
            x = apply_rope(x, cos, sin)
        return x.transpose(1, 2)  # [n, H, L, hd]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.q(x), True), self._heads(self.k(x), True), self._heads(self.v(x), False)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(out.transpose(1, 2).flatten(2))


class FeedForward(nn.Module):
    """SwiGLU: ``down(dropout(SiLU(gate x) ⊙ up x))`` (the ensemble's w1, w3, w2)."""

    def __init__(self, w1, w3, w2, dropout: float):
        super().__init__()
        self.gate, self.up, self.down = _linear(w1), _linear(w3), _linear(w2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.dropout(F.silu(self.gate(x)) * self.up(x)))


def _rms_norm(gain: torch.Tensor) -> nn.RMSNorm:
    from groklab.models.transformer import RMS_EPS

    norm = nn.RMSNorm(gain.shape[0], eps=RMS_EPS, device="meta")
    norm.weight = nn.Parameter(gain.detach().clone())
    return norm


class Block(nn.Module):
    """Pre-norm block: ``x + attn(attn_norm x)``, then ``x + ffn(ffn_norm x)``."""

    def __init__(self, p: dict[str, torch.Tensor], heads: int, dropout: float, rope: str, rope_base: float,
                 seq_len: int):
        super().__init__()
        self.attn_norm, self.ffn_norm = _rms_norm(p["attn_norm"]), _rms_norm(p["ffn_norm"])
        self.attn = Attention(p["wq"], p["wk"], p["wv"], p["wo"], heads, rope, rope_base, seq_len)
        self.ffn = FeedForward(p["w1"], p["w3"], p["w2"], dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.ffn(self.ffn_norm(x))


class Transformer(nn.Module):
    """One decoder-only transformer of the Muon-grokking base code (see `groklab.models.transformer`)."""

    def __init__(self, params: dict[str, torch.Tensor], depth: int, heads: int, dropout: float, rope: str,
                 rope_base: float, seq_len: int):
        super().__init__()
        self.seq_len, self.heads, self.rope, self.rope_base = seq_len, heads, rope, float(rope_base)
        self.embed = nn.Embedding.from_pretrained(params["embed"].detach().clone(), freeze=False)
        names = ("attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3")
        self.blocks = nn.ModuleList(
            Block({k: params[f"blocks.{l}.{k}"] for k in names}, heads, dropout, rope, rope_base, seq_len)
            for l in range(depth))
        self.final_norm = _rms_norm(params["final_norm"])
        self.head = _linear(params["head"])

    def residual(self, tokens: torch.Tensor) -> torch.Tensor:
        """The residual stream after the last block at every position, [n, L, width]."""
        x = self.embed(tokens.to(torch.int64))
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.final_norm(self.residual(tokens)[:, -1]))


def standalone(model: nn.Module, member: int) -> nn.Module:
    """Member `member` of a `TwoLayerEnsemble` or `TransformerEnsemble` as a :class:`TwoLayerNet` or
    :class:`Transformer` (weights copied, eval mode, on the ensemble's device and dtype)."""
    params = {k: v[member] for k, v in model.state_dict().items() if k != "dropout_step"}
    if hasattr(model, "W"):  # the two-layer ensemble
        U = [params[f"U.{i}"] for i in range(model.extra_layers)]
        single = TwoLayerNet(params["W"], params["V"], U, model.num_values, model.activation, model.output_scale)
    else:
        single = Transformer(params, model.depth, model.heads, model.dropout, model.rope, model.rope_base,
                             model.seq_len)
    return single.to(model.embed.device if hasattr(model, "embed") else model.W.device).eval()
