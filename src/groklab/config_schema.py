"""The run configuration's schema: one typed section per layer (task, model, loss, optim, train, li2,
features, store), each key's allowed values taken from the registry that owns them.

Everything inside groklab trusts a `RunConfig`. Reading YAML and `key=value` overrides into one, with the
errors that teach, is `groklab.config`'s job; import from there.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from groklab.config_fields import added, bookkeeping, id_hash, id_rules, numbers
from groklab.losses.kinds import CENTRINGS, LOSS_DTYPES, LOSS_KINDS
from groklab.models.activations import MODEL_ACTIVATIONS
from groklab.models.kinds import MODEL_KINDS, ROPE_MODES
from groklab.optim.kinds import ADJUST_LR_FNS, KINDS, MUON_VARIANTS, ROUTINGS, elementwise_kinds, kind_fields
from groklab.precisions import PRECISIONS
from groklab.tasks.datasets import OPS
from groklab.tasks.splits import SPLIT_MODES

DEFAULT_STORE = "./groklab-runs/runs.sqlite"
STORE_HELP = f"SQLite store (default: store.path, i.e. $GROKLAB_STORE or {DEFAULT_STORE})."


# train.* keys that only choose where progress and logs are shown: never part of a run id, sweep id or ensemble shape.
VIEWER_KEYS = ("progress", "tensorboard", "wandb")


def default_store_path() -> str:
    """The store a run uses when nothing names one: $GROKLAB_STORE, else ./groklab-runs/runs.sqlite."""
    return os.environ.get("GROKLAB_STORE", DEFAULT_STORE)


def one_of(names) -> Any:
    """The type "one of `names`" for a config key, from the registry that owns those choices (as
    scikit-learn derives StrOptions from its registries): a new entry there is a new allowed value here."""
    return Literal[tuple(names)]


# Per-member early stopping (train/stopping.py implements the rules; the config is where they are listed, as
# train sits above the config): rule -> what ends a member's run.
STOP_RULES = {
    "never": "the budget (train.epochs)",
    "grok": "its first grok epoch",
    "sustained": "the sustained-grok window confirming its grok",
    "plateau": "test accuracy settled after memorization (train.plateau_evals, train.plateau_delta)",
}

SEED_LIMIT = 2**32  # seeds are 0..2**32-1: numpy's RandomState (the reference split) accepts no more
# Members of one ensemble. Each member is planned as its own config (its run id), so a count is refused here,
# at once, rather than after minutes of per-member work; a sweep packs more runs into several ensembles.
MAX_MEMBERS = 4096


class _Section(BaseModel):
    # allow_inf_nan=False: NaN and infinity (YAML .nan, .inf, or 1e400) are refused for every float key,
    # so that no non-finite number reaches training or the store's JSON.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class TaskConfig(_Section):
    """What to learn. `group` is used by op=compose; `modulus` by the Muon-paper ops."""

    op: one_of(OPS) = numbers("compose")
    group: str = numbers("Z71")
    modulus: int = numbers(97, ge=2)
    arity: Literal[2, 3] = numbers(2)
    parity_bits: int = numbers(10, ge=2, le=16)
    train_fraction: float | None = numbers(None)
    train_size: int | None = numbers(None, ge=1)
    # Critical-ratio mode (Li2 code): p = corr·(c − δ)·ln|G|/|G|, corr = d_max/2 for non-abelian groups.
    critical_ratio: float | None = numbers(None, gt=0)
    critical_delta: float = numbers(0.0)
    split: one_of(SPLIT_MODES) = numbers("reference")

    @field_validator("train_fraction")
    @classmethod
    def _fraction_in_open_unit_interval(cls, v):
        if v is not None and not 0 < v < 1:
            raise ValueError(f"must be in (0, 1), got {v}")
        return v

    @model_validator(mode="after")
    def _one_split_rule(self):
        given = [k for k in ("train_fraction", "train_size", "critical_ratio") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of train_fraction, train_size, critical_ratio (got {', '.join(given)})")
        return self


class ModelConfig(_Section):
    kind: one_of(MODEL_KINDS) = numbers("two_layer")
    width: int = numbers(2048, ge=1)
    activation: one_of(MODEL_ACTIVATIONS) = numbers("sqr")
    top_init_scale: float = numbers(1.0, ge=0)
    output_scale: float = numbers(1.0, gt=0)
    extra_layers: int = numbers(0, ge=0)
    complex_weights: bool = numbers(False)
    # complex_weights only: draw the imaginary parts too (models/two_layer.py), so that training leaves the
    # real subspace; False keeps the reference's real start (which then stays real).
    complex_init: bool = added(False)
    ridge_lambda: float | None = numbers(None, gt=0)
    # transformer only
    depth: int = numbers(2, ge=1)
    heads: int = numbers(1, ge=1)
    dropout: float = numbers(0.2, ge=0, lt=1)
    rope: one_of(ROPE_MODES) = numbers("sequence")
    rope_base: float = numbers(1e6, gt=0)
    head_classes: Literal["labels", "vocab"] = numbers("labels")  # "vocab": the base code's vocabulary-wide head

    @model_validator(mode="after")
    def _kind_rules(self):
        problem = MODEL_KINDS[self.kind].check(self)
        if problem:
            raise ValueError(problem)
        return self


class LossConfig(_Section):
    kind: one_of(LOSS_KINDS) = numbers("mse")
    centring: one_of(CENTRINGS) = numbers("class")
    dtype: one_of(LOSS_DTYPES) = numbers("float32")


PerMember = float | list[float]


class _OptimKeys(_Section):
    """lr and weight_decay may be lists: one value per ensemble member (or one for all)."""

    kind: one_of(KINDS) = numbers("adam")
    lr: PerMember = numbers(1e-3)
    weight_decay: PerMember = numbers(2e-4)
    momentum: float = numbers(0.9, ge=0, lt=1)
    betas: tuple[float, float] = numbers((0.9, 0.999))
    eps: float = numbers(1e-8, gt=0)
    muon_variant: one_of(MUON_VARIANTS) | None = numbers(None)  # None: li2 for routing li2, torch for hidden
    muon_routing: one_of(ROUTINGS) = numbers("li2")
    muon_lr: float | None = numbers(None, gt=0)
    # None: the variant's default (li2: EMA 0.99, no Nesterov; torch: 0.95 with Nesterov)
    muon_momentum: float | None = numbers(None, ge=0, lt=1)
    nesterov: bool | None = numbers(None)
    ns_steps: int = numbers(5, ge=1, lt=100)
    # Newton-Schulz precision; None: the variant's own (torch: bfloat16, li2: the parameters' dtype). CPUs
    # without native bf16 matmuls run bf16 Newton-Schulz several times slower than float32.
    ns_dtype: Literal["bfloat16", "float32"] | None = added(None)
    adjust_lr_fn: one_of(ADJUST_LR_FNS) | None = numbers(None)  # torch variant only; None = original
    muon_head: bool = numbers(False)
    grokfast: bool = numbers(False)
    grokfast_alpha: float = numbers(0.98, ge=0, lt=1)
    grokfast_lamb: float = numbers(2.0, ge=0)
    orthograd: bool = numbers(False)

    @field_validator("lr", "weight_decay")
    @classmethod
    def _non_negative(cls, v, info):
        values = v if isinstance(v, list) else [v]
        if not values:
            raise ValueError("needs at least one value")
        for x in values:
            if x < 0 or (info.field_name == "lr" and x == 0):
                allowed = "> 0" if info.field_name == "lr" else ">= 0"
                raise ValueError(f"must be {allowed}, got {x}")
        return v

    @field_validator("betas")
    @classmethod
    def _betas_in_unit_interval(cls, v):
        for i, beta in enumerate(v):
            if not 0 <= beta < 1:
                raise ValueError(f"beta{i + 1} must be in [0, 1), got {beta}")
        return v


# The optim section: the keys above, and those each optimizer kind adds (its `fields` in groklab.optim.kinds).
OptimConfig = create_model("OptimConfig", __base__=_OptimKeys, __module__=__name__, **kind_fields())


class TrainConfig(_Section):
    epochs: int = numbers(1000, ge=1)
    eval_every: int = numbers(1, ge=1)
    batch_size: int | None = numbers(None, ge=1)  # None: full batch, one step per epoch
    seeds: list[int] = numbers(default_factory=lambda: [0])
    device: Literal["auto", "cpu", "cuda", "mps"] = numbers("auto")
    dtype: one_of(PRECISIONS) = numbers("float32")
    progress: bool = bookkeeping(True)
    memorize_acc: float = numbers(0.99, gt=0, le=1)
    grok_acc: float = numbers(0.95, gt=0, le=1)
    stable_evals: int = numbers(5, ge=1)
    sustain_evals: int = numbers(10, ge=0)
    checkpoint_dense_until: int = numbers(100, ge=0)
    # How often the resume state is written changes no number (resume is bit for bit); the key is hashed at
    # 100, its default, so that runs stored while it entered the id keep the ids they have.
    checkpoint_every: int = bookkeeping(100, ge=1, hashed_as=100)
    # Weight snapshots for analysis every N epochs after the dense phase (None: every checkpoint_every);
    # resume states keep checkpoint_every.
    snapshot_every: int | None = added(None, ge=1)
    # Minibatch or dropout runs: the eval-mode pass over the training set (series train_acc_eval, and the
    # collapse metric) every N epochs (None: at every evaluation). Grokking detection never reads it.
    train_eval_every: int | None = added(None, ge=1)
    tensorboard: bool = bookkeeping(False)
    wandb: bool = bookkeeping(False)  # log the same scalars to Weights & Biases (offline unless configured; train/wandb_log.py)
    # Per-member early stopping (train/stopping.py): never | grok (first grok epoch) | sustained (the
    # sustained-grok window has confirmed it) | plateau (test accuracy has settled after memorization: the
    # mean over the last plateau_evals evaluations within plateau_delta of the mean over the plateau_evals
    # before them). Diverged members always stop.
    stop: one_of(STOP_RULES) = added("never")
    plateau_evals: int = numbers(100, ge=1, only_with=("stop", "plateau"))
    plateau_delta: float = numbers(0.01, gt=0, lt=1, only_with=("stop", "plateau"))

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v):
        if not v:
            raise ValueError("needs at least one seed")
        for seed in v:
            if not 0 <= seed < SEED_LIMIT:
                raise ValueError(f"seeds must be integers in 0..{SEED_LIMIT - 1}, got {seed}")
        return v


class Li2Config(_Section):
    every: int = numbers(0, ge=0)  # 0: diagnostics off
    kernel_samples: int = numbers(256, ge=2)


class FeaturesConfig(_Section):
    """Irrep progress measures of a transformer on a group task (groklab.li2.features_hook)."""

    every: int = added(0, ge=0)  # 0: off (a section with no key in the id is left out of it)


class StoreConfig(_Section):
    path: str = bookkeeping(default_factory=default_store_path)


class RunConfig(_Section):
    name: str = bookkeeping("run")
    task: TaskConfig = Field(default_factory=TaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    li2: Li2Config = Field(default_factory=Li2Config)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)

    @model_validator(mode="after")
    def _member_lists_agree(self):
        sizes = {len(v) for v in (self.optim.lr, self.optim.weight_decay) if isinstance(v, list)}
        sizes |= {len(self.train.seeds)} if len(self.train.seeds) > 1 else set()
        if len(sizes - {1}) > 1:
            raise ValueError(f"per-member lists (train.seeds, optim.lr, optim.weight_decay) must share one length, got {sorted(sizes)}")
        if max(sizes, default=1) > MAX_MEMBERS:
            raise ValueError(f"an ensemble may have at most {MAX_MEMBERS} members, got {max(sizes)}; train several "
                             "ensembles or write a sweep (groklab sweep), which packs runs into ensembles")
        if self.model.ridge_lambda is not None and self.loss.kind != "mse":
            raise ValueError("model.ridge_lambda (ridge top layer) needs loss.kind=mse")
        if self.model.complex_init and not self.model.complex_weights:
            raise ValueError("model.complex_init=true draws imaginary parts and needs model.complex_weights=true")
        if self.model.complex_weights and not KINDS[self.optim.kind].elementwise:
            *rest, last = elementwise_kinds()
            kinds = f"{', '.join(rest)} or {last}" if rest else last
            raise ValueError(f"model.complex_weights=true needs an elementwise optimizer (optim.kind={kinds}): "
                             f"{self.optim.kind}'s update is defined for real matrices only")
        if (not MODEL_KINDS[self.model.kind].routes_li2 and KINDS[self.optim.kind].routed
                and self.optim.muon_routing == "li2"):
            raise ValueError("optim.muon_routing=li2 routes the two-layer net's W; a transformer needs optim.muon_routing=hidden")
        return self

    @property
    def num_members(self) -> int:
        lengths = [len(v) for v in (self.optim.lr, self.optim.weight_decay) if isinstance(v, list)]
        return max([len(self.train.seeds), *lengths])

    def member_values(self, key: Literal["lr", "weight_decay"]) -> list[float]:
        value = getattr(self.optim, key)
        values = value if isinstance(value, list) else [value]
        return values * self.num_members if len(values) == 1 else list(values)

    def member_seeds(self) -> list[int]:
        """One seed for all members (they then differ only in lr/weight decay), or one per member."""
        seeds = self.train.seeds
        return list(seeds) if len(seeds) == self.num_members else seeds * self.num_members

    def config_hash(self) -> str:
        """The run id: a hash of exactly the settings that change the numbers, as each key declares
        (`groklab.config_fields`): not the store location, not progress bars."""
        return id_hash(self)


# Every key and how it enters the run id; building it fails at import for a key defined without a rule.
ID_RULES = id_rules(RunConfig)
