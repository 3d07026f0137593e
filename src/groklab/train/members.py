"""An ensemble's members: each member's stand-alone config, its run id, and the ensemble id.

A run is one member; its id is the hash of its single-member config (seed, lr and weight decay as
scalars), so the same member has the same id in any ensemble, alone or with others.
"""

from __future__ import annotations

import hashlib

from groklab.config import RunConfig
from groklab.errors import GroklabError


def member_configs(cfg: RunConfig) -> list[RunConfig]:
    """The stand-alone config of each member: its own seed, lr and weight decay as scalars."""
    seeds, lrs, wds = cfg.member_seeds(), cfg.member_values("lr"), cfg.member_values("weight_decay")
    out = []
    for seed, lr, wd in zip(seeds, lrs, wds):
        member = cfg.model_copy(deep=True)
        member.train.seeds = [seed]
        member.optim.lr = lr
        member.optim.weight_decay = wd
        out.append(member)
    return out


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


def pending_config(cfg: RunConfig, keep: list[int]) -> RunConfig:
    """The ensemble of `cfg`'s members at indices `keep` only (each member keeps its seed, lr and weight
    decay, so its run id and its numbers are those it has in the full ensemble)."""
    seeds, lrs, wds = cfg.member_seeds(), cfg.member_values("lr"), cfg.member_values("weight_decay")
    sub = cfg.model_copy(deep=True)
    sub.train.seeds = [seeds[i] for i in keep]
    sub.optim.lr = [lrs[i] for i in keep]
    sub.optim.weight_decay = [wds[i] for i in keep]
    return sub
