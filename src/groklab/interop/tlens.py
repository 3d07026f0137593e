"""A trained groklab transformer as a TransformerLens `HookedTransformer`, for activation caching and patching.

    from groklab.interop import to_hooked_transformer
    model = to_hooked_transformer("3fa9c2")            # a run id or unique prefix; member/epoch as load_run
    logits, cache = model.run_with_cache(tokens)       # tokens [n, L]: logits [n, L, C]; groklab reads [:, -1]

The architecture maps option for option onto `HookedTransformerConfig`: pre-RMSNorm (`normalization_type="RMS"`,
`final_rms`, eps 1e-5), causal softmax attention scaled by d_head^-1/2, the gated SiLU MLP (`gated_mlp`,
`act_fn="silu"`; W_gate = groklab's w1, W_in = w3, W_out = w2), RoPE on q and k in groklab's interleaved pairing
(`positional_embedding_type="rotary"`, `rotary_adjacent_pairs=True`, `rotary_base`), learned token embeddings
and an untied head (`d_vocab_out` = the head's classes). Every bias is zero. `model.rope=none` becomes a zero
learned positional embedding. The logits equal groklab's on every input of the task (tested to 1e-5 in float32).

What TransformerLens cannot express raises a one-line error naming the option: `model.rope=heads` (the torch
port's rotation by head index, not by position). Dropout is training-only and is left out (eval mode).
TransformerLens 4 removed `HookedTransformer`; the `interp` extra installs `transformer_lens<4`.
"""

from __future__ import annotations

from groklab.errors import GroklabError

INSTALL_HINT = "pip install 'groklab[interp]' (transformer_lens 3.x)"


def _transformer_lens():
    """(HookedTransformer, HookedTransformerConfig), or a one-line error with the install command."""
    try:
        import transformer_lens
    except ImportError:
        raise GroklabError(f"TransformerLens export needs the transformer_lens package: {INSTALL_HINT}") from None
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError:
        version = getattr(transformer_lens, "__version__", "this version")
        raise GroklabError(f"transformer_lens {version} has no HookedTransformer (removed in 4.0): {INSTALL_HINT}") from None
    return HookedTransformer, HookedTransformerConfig


def to_hooked_transformer(run_id: str, member="own", epoch: int | None = None, store=None, device="cpu"):
    """The transformer of a stored run (one member; `member`, `epoch`, `store` as `groklab.load_run`)
    as a `HookedTransformer` in eval mode."""
    from groklab.train.load import load_run

    if member is None:
        raise GroklabError("a HookedTransformer holds one model: give member= an index (or leave it as the run's own)")
    run = load_run(run_id, member=member, epoch=epoch, store=store, device=device)
    if run.config.model.kind != "transformer":
        raise GroklabError(f"run {run.run_id[:8]} is a model.kind={run.config.model.kind} network; TransformerLens "
                           "holds transformers (use groklab.load_run for this run's model)")
    return hooked_transformer(run.model)


def hooked_transformer(model):
    """A `groklab.models.single.Transformer` (e.g. `load_run(...).model`) as a `HookedTransformer`."""
    import warnings

    import torch

    HookedTransformer, HookedTransformerConfig = _transformer_lens()
    if model.rope == "heads":
        raise GroklabError("model.rope=heads (the torch port's rotation by head index) has no TransformerLens "
                           "equivalent; it equals model.rope=none up to rounding, so train with that to export")
    embed = model.embed.weight
    block = model.blocks[0]
    d_model, heads = embed.shape[1], model.heads
    rotary = model.rope == "sequence"
    cfg = HookedTransformerConfig(
        n_layers=len(model.blocks), d_model=d_model, n_heads=heads, d_head=d_model // heads,
        d_mlp=block.ffn.gate.weight.shape[0], d_vocab=embed.shape[0], d_vocab_out=model.head.weight.shape[0],
        n_ctx=model.seq_len, act_fn="silu", gated_mlp=True, normalization_type="RMS", final_rms=True,
        eps=block.attn_norm.eps, positional_embedding_type="rotary" if rotary else "standard",
        rotary_dim=d_model // heads if rotary else None, rotary_base=model.rope_base, rotary_adjacent_pairs=True,
        default_prepend_bos=False, dtype=embed.dtype, device=str(embed.device))
    with warnings.catch_warnings():  # TransformerLens 3 announces HookedTransformer's removal in 4 (see above)
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
        hooked = HookedTransformer(cfg)
    state = hooked.state_dict()
    for key, value in state.items():  # groklab has no biases and (rope=none) no positional embedding
        if key.rsplit(".", 1)[-1].startswith("b_") or key == "pos_embed.W_pos":
            state[key] = torch.zeros_like(value)
    state.update(_weights(model, heads))
    hooked.load_state_dict(state)
    return hooked.eval()


def _weights(model, heads: int) -> dict:
    """groklab's nn.Linear (out, in) matrices in TransformerLens's layouts (per-head [H, d_model, d_head] for
    W_Q/W_K/W_V, [H, d_head, d_model] for W_O, [in, out] elsewhere)."""
    out = {"embed.W_E": model.embed.weight.detach().clone(), "ln_final.w": model.final_norm.weight.detach().clone(),
           "unembed.W_U": model.head.weight.detach().T.clone()}
    for l, block in enumerate(model.blocks):
        p = f"blocks.{l}."
        attn, ffn = block.attn, block.ffn
        per_head = lambda w: w.detach().T.reshape(w.shape[1], heads, -1).transpose(0, 1).clone()  # noqa: E731
        out.update({
            p + "ln1.w": block.attn_norm.weight.detach().clone(), p + "ln2.w": block.ffn_norm.weight.detach().clone(),
            p + "attn.W_Q": per_head(attn.q.weight), p + "attn.W_K": per_head(attn.k.weight),
            p + "attn.W_V": per_head(attn.v.weight),
            p + "attn.W_O": attn.o.weight.detach().T.reshape(heads, -1, attn.o.weight.shape[0]).clone(),
            p + "mlp.W_gate": ffn.gate.weight.detach().T.clone(), p + "mlp.W_in": ffn.up.weight.detach().T.clone(),
            p + "mlp.W_out": ffn.down.weight.detach().T.clone(),
        })
    return out
