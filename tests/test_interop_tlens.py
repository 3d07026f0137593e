"""TransformerLens export: a stored transformer run as a HookedTransformer with groklab's logits on every input."""

import sys

import pytest
import torch

import groklab
from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.interop import hooked_transformer, to_hooked_transformer
from groklab.models.single import standalone
from groklab.models.transformer import TransformerEnsemble
from groklab.train.loop import train


def _has_hooked_transformer() -> bool:
    """transformer_lens installed and older than 4.0 (which removed HookedTransformer), read from its metadata:
    importing it takes seconds, which collection should not pay."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("transformer_lens").split(".")[0]) < 4
    except PackageNotFoundError:
        return False


needs_tl = pytest.mark.skipif(not _has_hooked_transformer(),
                              reason="needs transformer_lens with HookedTransformer (pip install 'groklab[interp]')")

BASE = ["model.kind=transformer", "task.op=add", "task.modulus=7", "task.train_fraction=0.6", "model.width=16",
        "optim.kind=adamw", "optim.lr=3e-3", "loss.kind=ce", "train.epochs=20", "train.batch_size=8",
        "train.checkpoint_dense_until=0", "train.checkpoint_every=10", "train.progress=false"]


def trained_ensemble(tmp_path, *overrides):
    store = tmp_path / "runs.sqlite"
    cfg = load_config(None, [*BASE, *overrides, f"store.path={store}"])
    return train(cfg), store


@needs_tl
@pytest.mark.parametrize("overrides", [
    ("model.depth=2", "model.heads=2", "model.rope=sequence", "train.seeds=[0,1]"),
    ("model.depth=1", "model.heads=1", "model.rope=none", "model.head_classes=vocab", "model.dropout=0"),
], ids=["rope-2-heads", "no-rope-vocab-head"])
def test_hooked_transformer_logits_equal_groklabs_on_every_input(tmp_path, overrides):
    results, store = trained_ensemble(tmp_path, *overrides)
    ensemble = groklab.load_run(results[0]["run_id"], member=None, store=store)  # the ensemble as trained
    with torch.no_grad():
        expected = ensemble.model(ensemble.inputs)
    for s, result in enumerate(results):
        hooked = to_hooked_transformer(result["run_id"][:6], store=store)
        with torch.no_grad():
            logits = hooked(ensemble.inputs)[:, -1]
        torch.testing.assert_close(logits, expected[s], rtol=1e-5, atol=1e-5)
    early = to_hooked_transformer(results[0]["run_id"], epoch=10, store=store)
    ten = groklab.load_run(results[0]["run_id"], epoch=10, store=store)
    torch.testing.assert_close(early(ten.inputs)[:, -1], ten.logits(), rtol=1e-5, atol=1e-5)


@needs_tl
def test_the_mapping_is_exact_in_float64_and_caches_activations():
    """In float64 the two computations agree to rounding, so no option is approximated."""
    torch.manual_seed(0)
    model = TransformerEnsemble(15, 4, 13, width=32, depth=2, heads=4, rope="sequence", seeds=[3], dtype="float64")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))  # gains away from 1, so a misplaced norm weight would show
    tokens = torch.randint(0, 15, (300, 4))
    hooked = hooked_transformer(standalone(model.eval(), 0))
    logits, cache = hooked.run_with_cache(tokens)
    torch.testing.assert_close(logits[:, -1], model(tokens)[0].detach(), rtol=0, atol=1e-10)
    assert cache["blocks.1.mlp.hook_post"].shape == (300, 4, 128)
    assert cache["blocks.0.attn.hook_pattern"].shape == (300, 4, 4, 4)


@needs_tl
def test_what_transformer_lens_cannot_express_is_named(tmp_path):
    results, store = trained_ensemble(tmp_path, "model.heads=2", "model.rope=heads", "train.epochs=1")
    with pytest.raises(GroklabError, match="model.rope=heads"):
        to_hooked_transformer(results[0]["run_id"], store=store)
    with pytest.raises(GroklabError, match="one model"):
        to_hooked_transformer(results[0]["run_id"], member=None, store=store)
    li2 = load_config(None, ["task.group=Z5", "model.width=8", "train.epochs=2", "train.progress=false",
                             f"store.path={store}"])
    (result,) = train(li2)
    with pytest.raises(GroklabError, match="model.kind=two_layer network; TransformerLens holds transformers"):
        to_hooked_transformer(result["run_id"], store=store)


def test_without_transformer_lens_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformer_lens", None)
    model = TransformerEnsemble(9, 4, 7, width=8, depth=1, seeds=[0])
    with pytest.raises(GroklabError, match=r"pip install 'groklab\[interp\]'"):
        hooked_transformer(standalone(model, 0))
