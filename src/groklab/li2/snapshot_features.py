"""Irrep features of a stored transformer run, read from its weight snapshots (`groklab features RUN`).

`run_features(store, run_id, epoch=None)` loads one member's snapshot, rebuilds its transformer, runs it on
the full operation table and summarises the embedding, the unembedding, the last block's FFN neurons and the
restricted / excluded losses (`groklab.li2.transformer_features`; definitions in docs/transformer-features.md).
The store is passed in (a `groklab.store.Store`), so this module depends on train/ and li2/ only.
"""

from __future__ import annotations

import torch

from groklab.config import config_from_dict
from groklab.errors import GroklabError
from groklab.li2 import transformer_features as T
from groklab.train import checkpoint as ckpt
from groklab.train.checkpoint import epoch_ranges


def snapshot_of(store, row: dict, epoch: int | None) -> tuple[int, dict]:
    """(epoch, parameters of the run's member) at `epoch` (default: the last snapshot), or a one-line error."""
    folder = ckpt.ensemble_folder(row, store.folder)
    snaps = ckpt.run_snapshots(row, store.folder)
    if not snaps:
        raise GroklabError(f"run {row['run_id'][:8]} has no weight snapshots (looked in {folder}); it was trained "
                           "without them or its folder was removed")
    if epoch is None:
        chosen, path = snaps[-1]
    else:
        found = [p for e, p in snaps if e == int(epoch)]
        if not found:
            raise GroklabError(f"run {row['run_id'][:8]} has no snapshot at epoch {epoch}; saved epochs: "
                               f"{epoch_ranges([e for e, _ in snaps])}")
        chosen, path = int(epoch), found[0]
    return chosen, ckpt.load_snapshot(path, member=int(row["member"]))


def _model_and_task(cfg, params: dict):
    """The run's task and its transformer (one member) holding `params`, on the CPU in float64."""
    from groklab.models.transformer import TransformerEnsemble
    from groklab.tasks.build import build_task
    from groklab.tasks.encoding import token_sequences

    task = build_task(cfg.task)
    tokens, vocab = token_sequences(task)
    m = cfg.model
    model = TransformerEnsemble(vocab_size=vocab, seq_len=tokens.shape[1], num_classes=task.num_classes, width=m.width,
                                depth=m.depth, heads=m.heads, dropout=m.dropout, rope=m.rope, rope_base=m.rope_base,
                                seeds=cfg.member_seeds()[:1], dtype="float64",
                                head_classes=vocab if m.head_classes == "vocab" else None)
    model.load_state_dict({k: v.unsqueeze(0) for k, v in params.items()})
    return task, torch.from_numpy(tokens), model.eval()


def run_features(store, run_id: str, epoch: int | None = None) -> dict:
    """The feature summary of one stored transformer run (a member) at a snapshot epoch (default: the last)."""
    from groklab.li2.hook import task_group
    from groklab.losses import get_loss
    from groklab.tasks.build import split_for

    row = store.run(run_id)
    cfg = config_from_dict(row["config"])
    if cfg.model.kind != "transformer":
        raise GroklabError(f"run {row['run_id'][:8]} is a {cfg.model.kind} run; transformer features need model.kind=transformer")
    group = task_group(cfg)
    if group is None:
        raise GroklabError(f"run {row['run_id'][:8]} trains task.op={cfg.task.op}, which has no group; irrep features "
                           "need task.op=compose, add or sub")
    T.check_feature_group(group)
    chosen, params = snapshot_of(store, row, epoch)
    task, tokens, model = _model_and_task(cfg, params)
    logits, acts = model.readout_neurons(tokens)
    params = {k: v.to(torch.float64) for k, v in params.items()}
    embedding = T.table_summary(group, T.embedding_table(params, group))
    unembedding = T.table_summary(group, T.unembedding_table(params, group))
    n = group.order
    neurons = T.neuron_summary(group, acts[0].view(n, n, -1)) if task.arity == 2 and len(task) == n * n else None

    mask = torch.zeros(len(embedding["spectrum"]), dtype=torch.bool)
    mask[[i for i, r in enumerate(embedding["spectrum"]) if r["key"]]] = True
    loss_fn = get_loss(cfg.loss.kind, centring=cfg.loss.centring, dtype=cfg.loss.dtype)
    split = split_for(cfg.task, task, int(row["seed"]) if row.get("seed") is not None else cfg.member_seeds()[0])
    variants = {"full": logits, "restricted": T.restricted_logits(group, logits, mask),
                "excluded": T.excluded_logits(group, logits, mask)}
    losses = {}
    for name, rows in (("train", split.train), ("test", split.test)):
        index = torch.from_numpy(rows)
        y = torch.from_numpy(task.labels[rows]).unsqueeze(0)
        for kind, z in variants.items():
            losses[f"{kind}_{name}"] = round(float(loss_fn(z[:, index].to(torch.float64), y)[0]), 6)
    return dict(run=row["run_id"], model="transformer", task=task.name, group=group.name, member=int(row["member"]),
                epoch=chosen, key_fraction=T.KEY_FRACTION, embedding=embedding, unembedding=unembedding,
                neurons=neurons, losses=losses)
