"""Rotary position embeddings (RoPE) in the interleaved ("traditional") pairing.

Channel pairs ``(x[2i], x[2i+1])`` of each head are rotated by the angle ``pos · base^(-2i/d)``
(d = head dim), as torchtune's ``RotaryPositionalEmbeddings`` and MLX's ``nn.RoPE(traditional=True)``
do — the pairing the Muon paper's base code uses (`torch_grokking` via torchtune, `mlx-grokking` via
MLX). A rotation by ``pos_q`` dotted with one by ``pos_k`` depends on ``pos_q - pos_k`` only, so
attention scores see relative positions.

Modes (``rope``):

- ``"sequence"``: the angle follows the token position (what RoPE is meant to do; the MLX original).
- ``"none"``: no rotation; position enters only through the causal mask.
- ``"heads"``: reproduces the `torch_grokking` port's axis bug. The port hands torchtune a tensor laid
  out ``(batch, heads, seq, head_dim)`` while torchtune reads ``(batch, seq, heads, head_dim)``, so the
  "position" it rotates by is the **head index**, the same for every token: head h's q and k are both
  rotated by ``h · base^(-2i/d)`` at every position. With one head every angle is 0. With H heads the
  rotation is not the identity, but q and k of a head get the same rotation R_h and
  ``(R_h q)·(R_h k) = q·k``, so attention scores — and the model — are those of ``none`` (up to rounding):
  with the bug, position reaches the port's model only through the causal mask, for any head count.

Because the rotation is linear, rotating q = Wq x equals projecting with the rotated matrix
``R_pos Wq``: :func:`rotate_rows` rotates the rows of a projection matrix, which the transformer
uses (a few W×W elements per position instead of rotating every activation). :func:`apply_rope`
rotates activations (the textbook form; used to check the matrix form). Angles are computed in
float64 and cast to the model dtype (torchtune uses float32; the difference is below float32
rounding for the few positions used here).
"""

from __future__ import annotations

import torch

from groklab.models.kinds import ROPE_MODES  # noqa: F401  (the registry; re-exported)


def rope_angles(mode: str, seq_len: int, heads: int, head_dim: int, base: float) -> torch.Tensor | None:
    """float64 angles ``[P, H', head_dim/2]``: ``[L, 1, ·]`` (sequence: by position), ``[1, H, ·]``
    (heads: by head index, the same at every position), None for ``none``."""
    if mode == "none":
        return None
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # [d/2]
    if mode == "sequence":
        return torch.arange(seq_len, dtype=torch.float64)[:, None, None] * inv_freq
    return torch.arange(heads, dtype=torch.float64)[None, :, None] * inv_freq


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved channel pairs of ``x [..., head_dim]`` by angles whose cos/sin broadcast
    against ``[..., head_dim/2]``."""
    pairs = x.unflatten(-1, (-1, 2))
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1).flatten(-2)


def rotate_rows(w: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, heads: int) -> torch.Tensor:
    """``R_p w`` for each table entry p: w ``[S, H·hd, in]`` (nn.Linear layout), cos/sin ``[P, H', hd/2]``
    -> ``[S, P, H·hd, in]``; row pairs (2i, 2i+1) of each head are rotated like :func:`apply_rope`."""
    S, out, inp = w.shape
    P = cos.shape[0]
    pairs = w.view(S, 1, heads, out // heads // 2, 2, inp)
    w0, w1 = pairs[..., 0, :], pairs[..., 1, :]  # [S, 1, H, hd/2, in]
    c, s = cos.unsqueeze(0).unsqueeze(-1), sin.unsqueeze(0).unsqueeze(-1)  # [1, P, H', hd/2, 1]
    return torch.stack((w0 * c - w1 * s, w1 * c + w0 * s), dim=-2).reshape(S, P, out, inp)
