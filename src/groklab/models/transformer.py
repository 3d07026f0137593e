"""A small decoder-only transformer (the Muon-grokking base code's model) as an ensemble of S members.

Per member, for a token sequence ``t_1..t_L`` (``[a, OP, b, EQ]`` for binary tasks, see
``groklab.tasks.encoding``)::

    x_i = E[t_i]                                        # learned table indexed by token value
    for each of `depth` blocks (pre-norm):
        x = x + Wo · Attn(RoPE(Wq n(x)), RoPE(Wk n(x)), Wv n(x))   # causal, softmax, scale hd^-1/2
        x = x + W2 · dropout(SiLU(W1 n(x)) ⊙ W3 n(x))              # SwiGLU, hidden ffn_mult·width
    logits = Head · n_f(x_L)                            # final RMSNorm, last position, untied head

``n`` is RMSNorm with a learnable gain (eps 1e-5); every matrix is bias-free. This is the model of
`torch_grokking` / `mlx-grokking` (the Muon paper's base code) with these choices (docs/conventions.md#models):

- **Attention keeps softmax.** The output variants (``loss.kind`` ce / stablemax / sparsemax) change
  only the output loss; the paper does not say where it applied them and output-loss use is the
  natural reading. Attention has no dropout (the base code's module is unused).
- **RoPE** on q and k along the sequence axis by default (``rope="sequence"``); ``"none"`` disables it
  and ``"heads"`` reproduces the torch port's wrong-axis bug (see ``groklab.models.rope``), which turns
  out to equal ``none`` up to rounding for any head count (a head's q and k share one rotation).
- **Dropout** only inside the FFN, as the base code. Masks are per member: before each draw a single
  generator is re-seeded from (member seed, dropout step, layer), so member s's masks are those of
  the same run alone, and the only dropout state is the step counter buffer ``dropout_step`` [S],
  which the state dict (and so resume) carries. The counter advances once per training-mode forward.
- **Head size.** The base code reads out a ``vocab``-way head (99 for p = 97, the OP/EQ logits are never
  labels but do enter the softmax). Default here: ``num_classes`` outputs; ``head_classes=vocab_size``
  gives the base code's head.
- **heads > 1**: the torch port then adds a biased ``Linear(inner, width)`` + dropout after Wo (the MLX
  original defines but never calls it); we do not, since ``heads·head_dim = width`` always.

Parameters (names route with ``build_optimizer(routing="hidden")``; per member ``nn.Linear`` layout)::

    embed                 [S, vocab, width]        -> AdamW ("embed")
    blocks.l.attn_norm    [S, width]               -> AdamW (1-D per member)
    blocks.l.wq/wk/wv/wo  [S, width, width]        -> Muon
    blocks.l.ffn_norm     [S, width]               -> AdamW
    blocks.l.w1, w3       [S, F, width]            -> Muon   (F = ffn_mult·width)
    blocks.l.w2           [S, width, F]            -> Muon
    final_norm            [S, width]               -> AdamW
    head                  [S, head_classes, width] -> AdamW ("head"; Muon with muon_head=True)

Wq, Wk, Wv (and W1, W3) stay separate parameters, so Muon orthogonalises each one as the base code's
separate Linears would be.

Initialisation: member s draws from ``torch.Generator().manual_seed(seeds[s])`` in float32 on the CPU,
PyTorch's defaults, in this order: ``embed`` ~ N(0, 1) (nn.Embedding); then per block wq, wk, wv, wo,
w1, w2, w3 (kaiming-uniform a=√5, i.e. U(±1/√fan_in), nn.Linear); then ``head``. Gains start at 1. That
equals building nn.Embedding, the block Linears and the head in that order after
``torch.manual_seed(seed)``; the float32 values are then cast to the working dtype, so a member equals
the same run alone, and float64 runs start from the float32 draws.

Compute: all members run in one set of batched matmuls (``torch.bmm`` / ``baddbmm`` over the member
axis; attention via ``scaled_dot_product_attention`` with the members and rows as its two batch axes).
Activations are laid out position-major, ``[S, L, n, W]``, so that per-position work is a batch axis:
RoPE is folded into the q/k projection matrices (``R_pos·Wq``, see ``groklab.models.rope``) and the
norm gains into the matrices that follow the norm (``W·diag(g)``), which leaves one elementwise pass
per norm and none for RoPE. The last block computes only what the readout needs: keys and values at
every position, the query, attention output, Wo and FFN at the last position only (causality makes
the other positions' final-block outputs irrelevant). ``hidden()`` runs every position, for analysis.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from groklab.errors import GroklabError, closest
from groklab.models.rope import ROPE_MODES, rope_angles, rotate_rows
from groklab.dtypes import resolve_dtype

__all__ = ["TransformerEnsemble", "ROPE_MODES"]

RMS_EPS = 1e-5
_MASK64 = (1 << 64) - 1


def _dropout_seed(seed: int, step: int, layer: int) -> int:
    """A well-mixed 63-bit generator seed from (member seed, dropout step, layer) (splitmix64 rounds)."""
    h = 0x9E3779B97F4A7C15
    for v in (seed, step, layer):
        h = ((h ^ (v & _MASK64)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 29
    return h & ((1 << 63) - 1)


def _linear_init(out_f: int, in_f: int, gen: torch.Generator) -> torch.Tensor:
    w = torch.empty(out_f, in_f, dtype=torch.float32)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
    return w


class _Block(nn.Module):
    """Parameter container of one pre-norm block (the computation lives in TransformerEnsemble)."""

    def __init__(self, weights: dict[str, torch.Tensor], gain: torch.Tensor):
        super().__init__()
        self.attn_norm = nn.Parameter(gain.clone())
        self.wq, self.wk, self.wv, self.wo = (nn.Parameter(weights[k]) for k in ("wq", "wk", "wv", "wo"))
        self.ffn_norm = nn.Parameter(gain.clone())
        self.w1, self.w2, self.w3 = (nn.Parameter(weights[k]) for k in ("w1", "w2", "w3"))


class TransformerEnsemble(nn.Module):
    """S independent transformers with a leading member axis (see the module docstring).

    Args:
        vocab_size: number of token ids (embedding rows).
        seq_len: L, tokens per example; the prediction is read at position L.
        num_classes: label classes C.
        width: model width (d_model); must be divisible by ``heads``.
        depth: number of blocks.
        heads: attention heads (head_dim = width / heads, even when RoPE is on).
        dropout: FFN dropout probability in [0, 1).
        rope: "sequence" | "none" | "heads" (see ``groklab.models.rope``).
        rope_base: RoPE base (1e6 in the base code).
        seeds: one seed per member; S = len(seeds).
        dtype: "float32" | "float64".
        device: where the parameters live.
        ffn_mult: FFN hidden size as a multiple of width (4).
        head_classes: outputs of the head (None: num_classes; vocab_size for the base code's head).
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        num_classes: int,
        width: int = 128,
        depth: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        rope: str = "sequence",
        rope_base: float = 1e6,
        seeds: Sequence[int] = (0,),
        dtype="float32",
        device=None,
        ffn_mult: int = 4,
        head_classes: int | None = None,
    ):
        super().__init__()
        head_classes = num_classes if head_classes is None else head_classes
        for key, val, lo in (("vocab_size", vocab_size, 1), ("seq_len", seq_len, 1), ("num_classes", num_classes, 1),
                             ("width", width, 1), ("depth", depth, 1), ("heads", heads, 1),
                             ("ffn_mult", ffn_mult, 1), ("head_classes", head_classes, num_classes)):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise GroklabError(f"model.{key}={val!r} must be an integer >= {lo}")
        if width % heads:
            raise GroklabError(f"model.width={width} must be divisible by model.heads={heads}")
        if rope not in ROPE_MODES:
            hint = closest(str(rope), ROPE_MODES)
            raise GroklabError(f"model.rope={rope!r} is not known; allowed: {', '.join(ROPE_MODES)}"
                               + (f" (did you mean {hint!r}?)" if hint else ""))
        if rope != "none" and (width // heads) % 2:
            raise GroklabError(f"RoPE needs an even head dim; model.width/model.heads = {width // heads}")
        if not 0 <= dropout < 1:
            raise GroklabError(f"model.dropout={dropout!r} must be in [0, 1)")
        if not rope_base > 0:
            raise GroklabError(f"model.rope_base={rope_base!r} must be > 0")
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise GroklabError("seeds=[] must list at least one seed (one per ensemble member)")
        dtype = resolve_dtype(dtype)

        self.vocab_size, self.seq_len, self.num_classes, self.head_classes = vocab_size, seq_len, num_classes, head_classes
        self.width, self.depth, self.heads, self.head_dim = width, depth, heads, width // heads
        self.ffn_hidden, self.dropout, self.rope, self.rope_base = ffn_mult * width, float(dropout), rope, float(rope_base)
        self.seeds = seeds

        W, Fh = width, self.ffn_hidden
        shapes = {"wq": (W, W), "wk": (W, W), "wv": (W, W), "wo": (W, W), "w1": (Fh, W), "w2": (W, Fh), "w3": (Fh, W)}
        embeds, heads_w, blocks = [], [], [{k: [] for k in shapes} for _ in range(depth)]
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            e = torch.empty(vocab_size, W, dtype=torch.float32)
            nn.init.normal_(e, generator=gen)
            embeds.append(e)
            for layer in blocks:
                for k, (o, i) in shapes.items():
                    layer[k].append(_linear_init(o, i, gen))
            heads_w.append(_linear_init(head_classes, W, gen))

        def stack(ts):
            return torch.stack(ts).to(device=device, dtype=dtype)

        gain = torch.ones(len(seeds), W, dtype=dtype, device=device)
        self.embed = nn.Parameter(stack(embeds))
        self.blocks = nn.ModuleList(_Block({k: stack(v) for k, v in layer.items()}, gain) for layer in blocks)
        self.final_norm = nn.Parameter(gain.clone())
        self.head = nn.Parameter(stack(heads_w))
        self.register_buffer("dropout_step", torch.zeros(len(seeds), dtype=torch.int64, device=device))
        self.register_buffer("token_offsets", torch.arange(len(seeds), device=device) * vocab_size, persistent=False)
        angles = rope_angles(rope, seq_len, heads, self.head_dim, self.rope_base)
        self.register_buffer("rope_cos", None if angles is None else angles.cos().to(device, dtype), persistent=False)
        self.register_buffer("rope_sin", None if angles is None else angles.sin().to(device, dtype), persistent=False)
        self._generator: torch.Generator | None = None

    # ----------------------------------------------------------------------------------------------
    @property
    def num_members(self) -> int:
        return self.embed.shape[0]

    @property
    def row_elements(self) -> int:
        """Per-example weight of the training loop's evaluation chunks (it evaluates 2**25 / (S·row_elements)
        rows at a time). On a GPU: the activation elements of one example, which bounds memory. On the CPU:
        2**16, i.e. chunks of about 512 member-rows, whose FFN activations stay cache-sized (measured at
        width 128: 1.3-1.4× the throughput of 4096-row chunks)."""
        if self.embed.device.type == "cpu":
            return 1 << 16
        return self.seq_len * (4 * self.width + 3 * self.ffn_hidden)

    def _tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() == 2:
            tokens = tokens.unsqueeze(0).expand(self.num_members, -1, -1)
        if tokens.dim() != 3 or tokens.shape[0] != self.num_members or tokens.shape[-1] != self.seq_len:
            raise ValueError(f"tokens must be [n, {self.seq_len}] or [{self.num_members}, n, {self.seq_len}], "
                             f"got {tuple(tokens.shape)}")
        return tokens

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """[S, n, L] token ids -> [S, L, n, W] (position-major): one lookup in the member-stacked table."""
        S, V, W = self.embed.shape
        idx = tokens.transpose(1, 2).to(torch.int64) + self.token_offsets.view(S, 1, 1)
        return F.embedding(idx, self.embed.view(S * V, W))

    @staticmethod
    def _rms(x: torch.Tensor) -> torch.Tensor:
        """x / sqrt(mean(x²) + eps) over the last axis; the gain is folded into the next matrix."""
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        return x * torch.rsqrt(norm.square().div_(x.shape[-1]).add_(RMS_EPS))

    @staticmethod
    def _gained(w: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        """W·diag(g): a norm's gain [S, in] folded into the matrix [S, out, in] that reads the norm."""
        return w * gain.unsqueeze(1)

    def _rotated(self, w: torch.Tensor, positions: slice | None = None) -> torch.Tensor:
        """q/k projection matrices with RoPE folded in: [S, P, W, W] (P = positions, or 1 when the
        rotation does not depend on the position)."""
        if self.rope_cos is None:
            return w.unsqueeze(1)
        cos, sin = self.rope_cos, self.rope_sin
        if positions is not None and self.rope == "sequence":
            cos, sin = cos[positions], sin[positions]
        return rotate_rows(w, cos, sin, self.heads)

    def _project(self, xn: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """xn [S, L', n, W] times per-position matrices w [S, P, out, W] (P = L' or 1) -> [S, L', n, out]."""
        S, Lp, n, W = xn.shape
        if w.shape[1] == 1:
            return torch.bmm(xn.reshape(S, Lp * n, W), w[:, 0].mT).view(S, Lp, n, -1)
        return torch.bmm(xn.reshape(S * Lp, n, W), w.reshape(S * Lp, -1, W).mT).view(S, Lp, n, -1)

    def _dropout_mask(self, like: torch.Tensor, layer: int) -> torch.Tensor | None:
        """A {0, 1} keep-mask shaped like ``like [S, ...]`` (None when dropout is off): member s's slice
        is drawn by a generator seeded from (seed_s, dropout step, layer), so it does not depend on the
        other members. The 1/keep scale is applied by the caller."""
        if not self.training or self.dropout == 0.0:
            return None
        if self._generator is None or self._generator.device != like.device:
            self._generator = torch.Generator(device=like.device)
        mask = torch.empty_like(like)
        step = int(self.dropout_step[0])
        for s, seed in enumerate(self.seeds):  # only the mask draws loop over members
            self._generator.manual_seed(_dropout_seed(seed, step, layer))
            mask[s].uniform_(generator=self._generator)
        return mask.lt_(1.0 - self.dropout)  # in place: a uniform draw below keep -> 1.0, else 0.0

    def _ffn_hidden(self, x: torch.Tensor, blk: _Block) -> torch.Tensor:
        """The FFN's hidden activations SiLU(W1 n(x)) ⊙ W3 n(x) for x [S, N, W] -> [S, N, F] (before dropout).
        W1 and W3 run as two matmuls: one fused matmul would need a split whose backward writes a
        zero-filled [S, N, 2F] gradient."""
        xn = self._rms(x)
        a = F.silu(torch.bmm(xn, self._gained(blk.w1, blk.ffn_norm).mT))
        return a * torch.bmm(xn, self._gained(blk.w3, blk.ffn_norm).mT)

    def _ffn(self, x: torch.Tensor, blk: _Block, layer: int) -> torch.Tensor:
        """x + W2 dropout(SiLU(W1 n(x)) ⊙ W3 n(x)) for x [S, N, W]."""
        a = self._ffn_hidden(x, blk)
        mask = self._dropout_mask(a, layer)
        if mask is None:
            return torch.baddbmm(x, a, blk.w2.mT)
        # in place: the product's backward needs its factors, not `a`; the 1/keep scale rides on alpha
        return torch.baddbmm(x, a.mul_(mask), blk.w2.mT, alpha=1.0 / (1.0 - self.dropout))

    def _block(self, x: torch.Tensor, blk: _Block, layer: int) -> torch.Tensor:
        """One full block on every position: x [S, L, n, W] -> [S, L, n, W]."""
        S, L, n, W = x.shape
        H, hd = self.heads, self.head_dim
        xn = self._rms(x)
        q = self._project(xn, self._rotated(self._gained(blk.wq, blk.attn_norm)))
        k = self._project(xn, self._rotated(self._gained(blk.wk, blk.attn_norm)))
        v = self._project(xn, self._gained(blk.wv, blk.attn_norm).unsqueeze(1))
        heads_view = lambda t: t.view(S, L, n * H, hd).transpose(1, 2)  # noqa: E731  [S, nH, L, hd], no copy
        o = F.scaled_dot_product_attention(heads_view(q), heads_view(k), heads_view(v), is_causal=True)
        o = o.transpose(1, 2).reshape(S, L * n, W)
        x = torch.baddbmm(x.view(S, L * n, W), o, blk.wo.mT)
        return self._ffn(x, blk, layer).view(S, L, n, W)

    def _last_block(self, x: torch.Tensor, blk: _Block, layer: int) -> torch.Tensor:
        """The final block at the last position only: x [S, L, n, W] -> [S, n, W]."""
        return self._ffn(self._last_attention(x, blk), blk, layer)

    def _last_attention(self, x: torch.Tensor, blk: _Block) -> torch.Tensor:
        """The final block's attention sublayer at the last position: x [S, L, n, W] -> the residual
        stream [S, n, W] that its FFN reads. Keys and values need every position; the last query
        attends to all of them, so no mask is needed."""
        S, L, n, W = x.shape
        H, hd = self.heads, self.head_dim
        xn = self._rms(x)
        k = self._project(xn, self._rotated(self._gained(blk.wk, blk.attn_norm))).view(S, L, n, H, hd)
        v = self._project(xn, self._gained(blk.wv, blk.attn_norm).unsqueeze(1)).view(S, L, n, H, hd)
        wq = self._rotated(self._gained(blk.wq, blk.attn_norm), slice(L - 1, L))[:, 0]
        q = torch.bmm(xn[:, -1], wq.mT).view(S, 1, n, H, hd)
        # one query against L keys: scores by a broadcast product (cheaper than a batched L=1 matmul)
        p = torch.softmax((q * k).sum(-1) * hd**-0.5, dim=1)  # [S, L, n, H]
        o = (p.unsqueeze(-1) * v).sum(1).view(S, n, W)
        return torch.baddbmm(x[:, -1], o, blk.wo.mT)

    def _advance_dropout(self) -> None:
        if self.training and self.dropout > 0:
            self.dropout_step += 1

    # ----------------------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[S, n, head_classes]`` at the last position for tokens ``[S, n, L]`` (or ``[n, L]`` shared)."""
        return torch.bmm(self._rms(self._last_state(tokens)), self._gained(self.head, self.final_norm).mT)

    def _last_state(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self._embed(self._tokens(tokens))
        for layer, blk in enumerate(self.blocks[:-1]):
            x = self._block(x, blk, layer)
        x = self._last_block(x, self.blocks[-1], self.depth - 1)
        self._advance_dropout()
        return x

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """What the head reads: the final-normed (gain included) last-position state ``[S, n, W]``."""
        return self._rms(self._last_state(tokens)) * self.final_norm.unsqueeze(1)

    @torch.no_grad()
    def readout_neurons(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [S, n, head_classes], the last block's FFN hidden activations at the readout position
        [S, n, F]) in one pass, without dropout and without advancing the dropout counter: the neurons
        whose irrep spectra feature analysis reads (``groklab.li2.transformer_features``)."""
        training = self.training
        self.train(False)  # no dropout masks in the earlier blocks either (restored below)
        try:
            x = self._embed(self._tokens(tokens))
            for layer, blk in enumerate(self.blocks[:-1]):
                x = self._block(x, blk, layer)
            blk = self.blocks[-1]
            h = self._last_attention(x, blk)
            a = self._ffn_hidden(h, blk)
            out = torch.baddbmm(h, a, blk.w2.mT)
            return torch.bmm(self._rms(out), self._gained(self.head, self.final_norm).mT), a
        finally:
            self.train(training)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """The residual stream after the last block at every position, ``[S, n, L, W]`` (before the final
        norm). Runs each block on every position (the forward skips the unused ones)."""
        x = self._embed(self._tokens(tokens))
        for layer, blk in enumerate(self.blocks):
            x = self._block(x, blk, layer)
        self._advance_dropout()
        return x.transpose(1, 2)

    def member(self, s: int) -> "TransformerEnsemble":
        """A stand-alone S=1 copy of member s (same config, weights and dropout step)."""
        m = TransformerEnsemble(
            self.vocab_size, self.seq_len, self.num_classes, self.width, self.depth, self.heads, self.dropout,
            self.rope, self.rope_base, [self.seeds[s]], self.embed.dtype, self.embed.device,
            self.ffn_hidden // self.width, self.head_classes,
        )
        with torch.no_grad():
            for (name, mine), (_, theirs) in zip(m.state_dict().items(), self.state_dict().items()):
                mine.copy_(theirs[s : s + 1])
        return m.train(self.training)

    def extra_repr(self) -> str:
        return (f"S={self.num_members}, vocab={self.vocab_size}, L={self.seq_len}, C={self.num_classes}, "
                f"head={self.head_classes}, width={self.width}, depth={self.depth}, heads={self.heads}, "
                f"ffn={self.ffn_hidden}, dropout={self.dropout}, rope={self.rope}, rope_base={self.rope_base:g}, "
                f"dtype={self.embed.dtype}")
