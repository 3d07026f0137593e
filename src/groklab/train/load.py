"""A stored run back as Python objects: `load_run(run_id)` → config, metrics and the trained model.

    run = groklab.load_run("3fa9c2")            # a run id or any unique prefix (`groklab runs list`)
    run.model(run.inputs)                        # logits on every input of the task, [N, C]
    run.metrics                                  # per-epoch metrics (pandas), one row per epoch
    groklab.load_run("3fa9c2", epoch=200)        # the weights of the snapshot at epoch 200
    groklab.load_run("3fa9c2", member=None)      # the whole ensemble the run was trained in

A run is one ensemble member. By default the model is that member as an ordinary `nn.Module`
(`groklab.models.single`: named layers, no member axis); `member=i` picks member i of the run's ensemble
instead, and `member=None` gives the ensemble model itself (`TwoLayerEnsemble` / `TransformerEnsemble`,
outputs ``[S, N, C]``) with the members that the snapshot holds (members that stopped early leave later
snapshots). Weights come from the ensemble's snapshots (`train.snapshot_every`, dense early); a model
comes back in eval mode, on the CPU unless `device` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from groklab.config import RunConfig, config_from_dict
from groklab.errors import GroklabError
from groklab.store import Store
from groklab.train import checkpoint as ckpt

OWN = "own"  # load_run's default member: the run itself


@dataclass
class LoadedRun:
    """One stored run (or its ensemble) at one snapshot epoch; see `load_run`."""

    run_ids: list[str]  # the loaded members' run ids (one unless member=None)
    members: list[int]  # their indices in the ensemble
    config: RunConfig  # the member's config (member=None: the ensemble's, lists for seeds, lr, wd)
    summaries: list[dict]  # one stored summary per loaded member (grok_epoch, final_test_acc, ...)
    metrics: pd.DataFrame  # per-epoch metrics of the loaded members (columns of `Store.metrics`)
    epoch: int  # the snapshot epoch of the weights
    epochs: list[int]  # every snapshot epoch that holds the loaded members
    model: torch.nn.Module
    inputs: torch.Tensor  # every input of the task (operand values [N, arity] or tokens [N, L])
    labels: torch.Tensor  # [N]
    task: object = field(repr=False)  # groklab.tasks.datasets.TaskData
    split: object = field(repr=False)  # the member's train/test row indices (member=None: the first member's)

    def __repr__(self) -> str:  # the dataclass's would print the model, the frame and every input
        who = (f"run {self.run_ids[0][:8]} (member {self.members[0]})" if len(self.run_ids) == 1
               else f"ensemble of {len(self.run_ids)} runs (members {self.members})")
        task = self.config.task
        on = task.group if task.op == "compose" else f"{task.op} mod {task.modulus}"
        return (f"<LoadedRun {who}: {self.config.model.kind} on {on}, epoch {self.epoch} (snapshots "
                f"{ckpt.epoch_ranges(self.epochs)}), model {type(self.model).__name__}, {len(self.metrics)} metric rows>")

    @property
    def run_id(self) -> str:
        return self.run_ids[0] if len(self.run_ids) == 1 else ",".join(self.run_ids)

    @property
    def summary(self) -> dict:
        """The stored summary of a single loaded member."""
        if len(self.summaries) != 1:
            raise GroklabError(f"{len(self.summaries)} members are loaded; read .summaries for one summary each")
        return self.summaries[0]

    @torch.no_grad()
    def logits(self, rows: np.ndarray | None = None) -> torch.Tensor:
        """The model's logits on the task's inputs (all of them, or the given row indices)."""
        x = self.inputs if rows is None else self.inputs[torch.as_tensor(rows)]
        return self.model(x)


def open_store(store: Store | str | Path | None) -> Store:
    """A Store as given, or the existing database at `store` (default: $GROKLAB_STORE or
    ./groklab-runs/runs.sqlite) opened read-only."""
    if isinstance(store, Store):
        return store
    from groklab.config_schema import default_store_path

    path = Path(store or default_store_path())
    if not path.is_file():
        raise GroklabError(f"no store at {str(path)!r}; train a run first, or pass store= (or set GROKLAB_STORE)")
    return Store(path, readonly=True)


def load_run(run_id: str, member: int | str | None = OWN, epoch: int | None = None,
             store: Store | str | Path | None = None, device: str | torch.device = "cpu") -> LoadedRun:
    """Config, metrics and trained model of a stored run (see the module docstring).

    `run_id`: a run id or a unique prefix. `member`: "own" (the run itself), an index into the run's
    ensemble, or None for the whole ensemble. `epoch`: a snapshot epoch (default: the last one that holds
    the member). Errors (unknown or ambiguous id, no snapshot at `epoch`) are one-line GroklabErrors."""
    db = open_store(store)
    row = db.run(str(run_id))
    rows = _ensemble_rows(db, row)
    if member == OWN:
        member = int(row["member"])
    folder = ckpt.ensemble_folder(row, db.folder)
    if member is None:
        snaps = ckpt.list_snapshots(folder)
    else:
        if isinstance(member, bool) or not isinstance(member, (int, np.integer)) or not 0 <= member < len(rows):
            raise GroklabError(f"member={member!r}: run {row['run_id'][:8]}'s ensemble has members 0..{len(rows) - 1} "
                               "(or None for all of them, 'own' for the run itself)")
        snaps = ckpt.run_snapshots(rows[int(member)], db.folder)
    epoch, path = _pick_snapshot(snaps, epoch, row["run_id"][:8], folder)
    params, present = ckpt.read_snapshot(path)
    present = list(range(len(rows))) if present is None else list(present)
    chosen = present if member is None else [int(member)]
    model, task, cfg = _build(rows, present, params, device)
    if member is not None:
        from groklab.models.single import standalone

        model = standalone(model, present.index(int(member)))
        cfg = config_from_dict(rows[int(member)]["config"])
    run_ids = [rows[m]["run_id"] for m in chosen]
    inputs, labels = _task_tensors(cfg, task, model_device(model))
    from groklab.tasks.build import split_for

    return LoadedRun(run_ids=run_ids, members=chosen, config=cfg, summaries=[rows[m]["summary"] for m in chosen],
                     metrics=db.metrics(run_ids), epoch=epoch, epochs=[e for e, _ in snaps], model=model.eval(),
                     inputs=inputs, labels=labels, task=task,
                     split=split_for(cfg.task, task, rows[chosen[0]]["seed"]))


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _ensemble_rows(db: Store, row: dict) -> list[dict]:
    """Every stored member of the run's ensemble, by member index (the run alone when it has no ensemble)."""
    if not row.get("ensemble_id"):
        return [dict(row, member=0)]
    frame = db.runs("ensemble_id = ?", (row["ensemble_id"],))
    rows = sorted(frame.to_dict("records"), key=lambda r: int(r["member"]))
    if [int(r["member"]) for r in rows] != list(range(len(rows))):
        raise GroklabError(f"run {row['run_id'][:8]}'s ensemble is incomplete in the store (members "
                           f"{[int(r['member']) for r in rows]}); was the store edited?")
    return rows


def _pick_snapshot(snaps: list[tuple[int, Path]], epoch: int | None, label: str, folder: Path) -> tuple[int, Path]:
    if not snaps:
        raise GroklabError(f"run {label} has no weight snapshots (looked in {folder}); it was trained without them "
                           "or its folder was removed")
    if epoch is None:
        return snaps[-1]
    found = [p for e, p in snaps if e == int(epoch)]
    if not found:
        raise GroklabError(f"run {label} has no snapshot at epoch {epoch}; saved epochs: "
                           f"{ckpt.epoch_ranges([e for e, _ in snaps])}")
    return int(epoch), found[0]


def _ensemble_config(rows: list[dict], members: list[int]) -> RunConfig:
    """The config of an ensemble of `members`: their shared settings with per-member seed, lr and wd lists."""
    base = config_from_dict(rows[members[0]]["config"])
    if len(members) == 1:
        return base
    picked = [config_from_dict(rows[m]["config"]) for m in members]
    data = base.model_dump(mode="json")
    data["train"]["seeds"] = [c.train.seeds[0] for c in picked]
    data["optim"]["lr"] = [c.optim.lr for c in picked]
    data["optim"]["weight_decay"] = [c.optim.weight_decay for c in picked]
    return config_from_dict(data)


def _build(rows: list[dict], present: list[int], params: dict, device) -> tuple[torch.nn.Module, object, RunConfig]:
    """The ensemble of the snapshot's members holding its parameters, the task and the ensemble's config."""
    from groklab.dtypes import DTYPES
    from groklab.tasks.build import build_task
    from groklab.train.setup import build_data, build_model

    cfg = _ensemble_config(rows, present)
    task = build_task(cfg.task)
    seeds = cfg.member_seeds()
    device = torch.device(device)
    data = build_data(cfg, task, seeds[:1], device)  # shapes only (vocabulary, sequence length)
    model = build_model(cfg, task, data, seeds, device, DTYPES[cfg.train.dtype])
    model.load_state_dict(params)
    return model, task, cfg


def _task_tensors(cfg: RunConfig, task, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Every input of the task as the model reads it, and the labels."""
    if cfg.model.kind == "two_layer":
        inputs = task.inputs
    else:
        from groklab.tasks.encoding import token_sequences

        inputs = token_sequences(task)[0]
    return torch.as_tensor(inputs, device=device), torch.as_tensor(task.labels, device=device)
