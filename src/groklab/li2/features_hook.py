"""The transformer feature hook: irrep progress measures every `features.every` epochs, stored as series.

`FeaturesHook(cfg)` runs every member on the full operation table (one eval-mode pass, no dropout, in row
chunks) and returns these [S] tensors (definitions in docs/transformer-features.md; the functions are in
`groklab.li2.transformer_features`):

    features.key_power              share of the embedding's non-trivial power in its key irreps
    features.key_count              number of key irreps of the embedding (fewest holding KEY_FRACTION)
    features.unembed_key_power      the same share for the unembedding (head rows over the classes)
    features.loss_key_count         irreps the restricted/excluded losses keep or remove: the unembedding's key
                                    irreps, at most half of the non-trivial ones (`loss_key_irreps`)
    features.covered                irreps held by an active last-block FFN neuron of purity ≥ 0.5   [arity 2]
    features.loss_train, features.loss_test                  the run's loss on the unmodified logits
    features.restricted_loss_train, features.restricted_loss_test   logits kept in the trivial + key irreps
    features.excluded_loss_train, features.excluded_loss_test       logits with the key irreps removed

The key irreps are those of the embedding (the losses': the unembedding) *at that call*, so each point is a statement about the model as it
is then (a post-hoc analysis could fix the final key set instead). All losses are computed here, in eval mode
and float64 logits, so the three are comparable (the logged train loss is train-mode, with dropout). Each
member's train and test rows are its own split (`tasks.build.split_for` with its seed), so a packed member's
series equal those of the same run alone. The hook changes no parameter, no RNG stream and no dropout counter.
"""

from __future__ import annotations

import torch

from groklab.errors import GroklabError
from groklab.li2 import transformer_features as T
from groklab.train.hooks import register_hooks

CHUNK_ELEMENTS = 2**24  # members × rows × FFN width per forward chunk (bounds the neuron activations' memory)
KEYS = ("features.key_power", "features.key_count", "features.unembed_key_power", "features.loss_key_count", "features.covered",
        "features.loss_train", "features.loss_test", "features.restricted_loss_train", "features.restricted_loss_test",
        "features.excluded_loss_train", "features.excluded_loss_test")


class FeaturesHook:
    """Computes the irrep progress measures (module docstring) for a `TransformerEnsemble` during training."""

    def __init__(self, cfg):
        from groklab.li2.hook import task_group
        from groklab.losses import get_loss
        from groklab.tasks.build import build_task, split_for
        from groklab.tasks.encoding import token_sequences

        self.every = int(cfg.features.every)
        self.group = task_group(cfg)
        if self.group is None:
            raise GroklabError(f"features.every={self.every} needs a group task (task.op=compose, add or sub), got "
                               f"task.op={cfg.task.op}; set features.every=0")
        T.check_feature_group(self.group)
        task = build_task(cfg.task)
        tokens, _ = token_sequences(task)
        self.tokens = torch.from_numpy(tokens)  # the full table, rows in product order (a·|G| + b)
        self.labels = torch.from_numpy(task.labels)
        n = self.group.order
        self.grid = task.arity == 2 and len(task) == n * n  # the neuron table over (a, b) exists
        splits = [split_for(cfg.task, task, seed) for seed in cfg.member_seeds()]
        self.rows = {"train": [torch.from_numpy(s.train) for s in splits], "test": [torch.from_numpy(s.test) for s in splits]}
        self.loss_fn = get_loss(cfg.loss.kind, centring=cfg.loss.centring, dtype=cfg.loss.dtype)

    def select_members(self, positions: list[int]) -> None:
        """Keep only the members at `positions` (the training loop compacts the stack when members stop)."""
        self.rows = {k: [v[i] for i in positions] for k, v in self.rows.items()}

    @torch.no_grad()
    def __call__(self, ctx) -> dict[str, torch.Tensor]:
        model, group = ctx.model, self.group
        device = model.embed.device
        S = model.embed.shape[0]
        tokens = self.tokens.to(device)
        chunk = max(1, CHUNK_ELEMENTS // max(1, S * model.ffn_hidden))
        logits, acts = [], []
        for lo in range(0, len(tokens), chunk):
            z, a = model.readout_neurons(tokens[lo : lo + chunk])
            logits.append(z.to(torch.float64))
            acts.append(a if self.grid else a[:, :0])
        logits, acts = torch.cat(logits, 1), torch.cat(acts, 1)

        params = {"embed": model.embed.detach(), "head": model.head.detach(), "final_norm": model.final_norm.detach()}
        key = T.key_irreps(T.table_spectrum(group, T.embedding_table(params, group)))
        unembed_power = T.table_spectrum(group, T.unembedding_table(params, group))
        unembed, kept = T.key_irreps(unembed_power), T.loss_key_irreps(unembed_power)
        out = {"features.key_power": key["key_power"], "features.key_count": key["count"].to(torch.float64),
               "features.unembed_key_power": unembed["key_power"], "features.loss_key_count": kept["count"].to(torch.float64)}
        if self.grid:
            n = group.order
            # one member at a time: the neuron spectra's Fourier transforms are |G|³·F complex values per member
            counts = [T.classify_neurons(T.neuron_spectra(group, acts[s].view(n, n, -1)))["count"] for s in range(S)]
            out["features.covered"] = torch.stack(counts).to(torch.float64)

        variants = {"": logits, "restricted_": T.restricted_logits(group, logits, kept["mask"]),
                    "excluded_": T.excluded_logits(group, logits, kept["mask"])}
        labels = self.labels.to(device)
        for split, rows in self.rows.items():
            index = torch.stack(rows).to(device)  # [S, m]: members' splits have equal sizes (train/setup.py)
            y = labels[index]
            for prefix, z in variants.items():
                picked = torch.gather(z, 1, index.unsqueeze(-1).expand(-1, -1, z.shape[-1]))
                out[f"features.{prefix}loss_{split}"] = self.loss_fn(picked, y).to(torch.float64)
        return {k: v.detach().cpu() for k, v in out.items()}


def feature_hooks(cfg) -> tuple:
    """`(FeaturesHook(cfg),)` when cfg.features.every > 0, else `()`. The measures need the transformer."""
    if cfg.features.every <= 0:
        return ()
    if cfg.model.kind != "transformer":
        raise GroklabError(f"features.every={cfg.features.every} needs model.kind=transformer (the two-layer net has "
                           "li2.every and `groklab features`); set features.every=0")
    return (FeaturesHook(cfg),)


register_hooks("features", feature_hooks)  # every run built from a config gets these (groklab.train.hooks)
