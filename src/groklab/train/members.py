"""An ensemble's members: each member's stand-alone config, its run id, and the ensemble id.

A run is one member; its id is the hash of its single-member config (seed, lr and weight decay as
scalars), so the same member has the same id in any ensemble, alone or with others.
"""

from __future__ import annotations

import hashlib

from groklab.config import RunConfig
from groklab.errors import GroklabError


def member_configs(cfg: RunConfig) -> list[RunConfig]:
    """The stand-alone config of each member: its own seed, lr and weight decay as scalars.

    Only the train and optim sections are copied per member; the others are shared with `cfg` (copying
    every section of thousands of members took seconds before a memory check could refuse them). Code
    that changes a member config copies it first (`model_copy(deep=True)`), as everywhere in groklab."""
    seeds, lrs, wds = cfg.member_seeds(), cfg.member_values("lr"), cfg.member_values("weight_decay")
    return [cfg.model_copy(update={"train": cfg.train.model_copy(update={"seeds": [seed]}),
                                   "optim": cfg.optim.model_copy(update={"lr": lr, "weight_decay": wd})})
            for seed, lr, wd in zip(seeds, lrs, wds)]


def run_id_of(member_cfg: RunConfig) -> str:
    return member_cfg.config_hash()


def ensemble_id_of(run_ids: list[str]) -> str:
    return hashlib.sha256(",".join(run_ids).encode()).hexdigest()[:16]


def plan_members(cfg: RunConfig) -> tuple[list[RunConfig], list[str], str]:
    """Member configs, their run ids and the ensemble id (which names the checkpoint folder)."""
    members = member_configs(cfg)
    run_ids = [run_id_of(m) for m in members]
    if len(set(run_ids)) != len(run_ids):
        raise GroklabError("two ensemble members have identical settings (seed, lr, weight decay); make them differ")
    return members, run_ids, ensemble_id_of(run_ids)
