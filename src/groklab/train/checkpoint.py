"""Checkpoints: dense-early weight snapshots for analysis, and one resume state per ensemble.

Snapshots (`snapshots/epoch_000042.pt`) hold only the stacked parameters — what analysis of the
transition needs — on a schedule that is dense early (every epoch below `dense_until`) and sparse
later (every `every` epochs), because features emerge early. The resume state (`resume.pt`) holds
everything needed to continue bit-for-bit: model, optimizer, history, RNG, and is replaced
atomically so a kill at any moment leaves the previous one intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


def snapshot_due(epoch: int, *, dense_until: int, every: int, last_epoch: int) -> bool:
    return epoch < dense_until or epoch % every == 0 or epoch == last_epoch


def snapshot_path(folder: Path, epoch: int) -> Path:
    return folder / "snapshots" / f"epoch_{epoch:06d}.pt"


def save_snapshot(folder: Path, epoch: int, model: torch.nn.Module, members: list[int] | None = None) -> Path:
    """The stacked parameters at `epoch`; `members` lists the original member index of each stack position
    when members have stopped and left the stack (None: every member, in order)."""
    path = snapshot_path(folder, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    record = {"epoch": epoch, "params": state}
    if members is not None:
        record["members"] = list(members)
    _atomic_save(record, path)
    return path


def runs_folder(store_folder: str | Path, ensemble_id: str) -> Path:
    """Where an ensemble's files (snapshots, resume state, TensorBoard logs) live: <store folder>/runs/<id>."""
    return Path(store_folder) / "runs" / str(ensemble_id)


def ensemble_folder(run: dict, store_folder: str | Path) -> Path:
    """Where a stored run's snapshots are: its recorded folder when that exists from here (it is stored as
    given, often relative to where training ran), else the store's own runs/<ensemble_id>."""
    recorded = Path(run.get("folder") or "")
    if run.get("folder") and recorded.is_dir():
        return recorded
    return runs_folder(store_folder, run.get("ensemble_id"))


def list_snapshots(folder: Path, until: int | None = None) -> list[tuple[int, Path]]:
    """(epoch, path) pairs of a run folder's snapshots, by epoch; with `until` (a member's
    `stopped_epoch`), only those the member is in."""
    paths = sorted((Path(folder) / "snapshots").glob("epoch_*.pt"))
    pairs = [(int(p.stem.split("_")[1]), p) for p in paths]
    return [(e, p) for e, p in pairs if until is None or e <= until]


def run_snapshots(run: dict, store_folder: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the snapshots that hold a stored run (its ensemble's, up to its stopped epoch)."""
    return list_snapshots(ensemble_folder(run, store_folder), (run.get("summary") or {}).get("stopped_epoch"))


def load_snapshot(path: str | Path, member: int | None = None) -> dict[str, torch.Tensor]:
    """Parameters of a snapshot; with `member` (the original member index), that member's slice."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    params = record["params"]
    if member is None:
        return params
    members = record.get("members")
    if members is not None:
        if member not in members:
            raise ValueError(f"snapshot {path} does not hold member {member} (it had stopped); holds {members}")
        member = members.index(member)
    return {k: v[member] for k, v in params.items()}


def epoch_ranges(epochs: list[int]) -> str:
    """Saved epochs compactly: "0-99, 100-1000 every 100" style runs of equal steps (dense early snapshots
    would otherwise make a message hundreds of numbers long)."""
    parts, i = [], 0
    while i < len(epochs):
        j = i
        step = epochs[i + 1] - epochs[i] if i + 1 < len(epochs) else 0
        while j + 1 < len(epochs) and epochs[j + 1] - epochs[j] == step:
            j += 1
        if j - i >= 2:
            parts.append(f"{epochs[i]}-{epochs[j]}" + (f" every {step}" if step != 1 else ""))
            i = j + 1
        else:
            parts.append(str(epochs[i]))
            i += 1
    return ", ".join(parts)


def read_snapshot(path: str | Path) -> tuple[dict[str, torch.Tensor], list[int] | None]:
    """(stacked parameters, the original member index of each stack position or None for every member)."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    return record["params"], record.get("members")


def save_resume(folder: Path, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_save(state, folder / "resume.pt")


def load_resume(folder: Path) -> dict | None:
    path = folder / "resume.pt"
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
