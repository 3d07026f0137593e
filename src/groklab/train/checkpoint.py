"""Checkpoints: dense-early weight snapshots for analysis, and one resume state per ensemble.

Snapshots (`snapshots/epoch_000042.pt`) hold only the stacked parameters — what analysis of the
transition needs — on a schedule that is dense early (every epoch below `dense_until`) and sparse
later (every `every` epochs), because features emerge early. The resume state (`resume.pt`) holds
everything needed to continue bit-for-bit: model, optimizer, history, RNG, and is replaced
atomically so a kill at any moment leaves the previous one intact (kept as `resume.prev.pt`).
Both load with torch's `weights_only` unpickler, so nothing in a store folder can run code.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from groklab.errors import GroklabError


def snapshot_due(epoch: int, *, dense_until: int, every: int, last_epoch: int) -> bool:
    return epoch < dense_until or epoch % every == 0 or epoch == last_epoch


def snapshot_path(folder: Path, epoch: int) -> Path:
    return folder / "snapshots" / f"epoch_{epoch:06d}.pt"


def save_snapshot(folder: Path, epoch: int, model: torch.nn.Module, members: list[int] | None = None) -> Path:
    """The stacked parameters at `epoch`; `members` lists the original member index of each stack position
    when members have stopped and left the stack (None: every member, in order)."""
    path = snapshot_path(folder, epoch)
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
    record = _snapshot_record(Path(path))
    params = record["params"]
    if member is None:
        return params
    members = record.get("members")
    if members is not None:
        if member not in members:
            raise ValueError(f"snapshot {path} does not hold member {member} (it had stopped); holds {members}")
        member = members.index(member)
    return {k: v[member] for k, v in params.items()}


def _snapshot_record(path: Path) -> dict:
    """A snapshot file's record, loaded with `weights_only` (see `safe_load`); a damaged one is one line."""
    try:
        return safe_load(path, "snapshot")
    except DamagedFile as err:
        raise GroklabError(f"{err}; load another epoch (--epoch) or retrain the run") from None


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
    record = _snapshot_record(Path(path))
    return record["params"], record.get("members")


RESUME, PREVIOUS = "resume.pt", "resume.prev.pt"


def save_resume(folder: Path, state: dict) -> None:
    """Write the resume state beside the current one, then swap: the current one becomes the previous, so
    a file damaged later (a full disk, a bad sector, a partial copy) still leaves a good one to fall back to."""
    tmp = folder / (RESUME + ".tmp")

    def write():
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(state, tmp)
        if (folder / RESUME).exists():
            os.replace(folder / RESUME, folder / PREVIOUS)
        os.replace(tmp, folder / RESUME)

    _guarded(write, folder / RESUME, tmp)


def remove_resume(folder: Path) -> None:
    for name in (RESUME, PREVIOUS, RESUME + ".tmp"):
        (folder / name).unlink(missing_ok=True)


def load_resume(folder: Path, warn=None) -> dict | None:
    """The newest resume state of `folder` that loads, or None when there is none.

    Only tensors and plain values load (torch's `weights_only` unpickler): a store folder may come from
    another machine, and a pickle that names any other Python object is refused, never run. A damaged
    newest state falls back to the previous one (`warn` is told); when none loads, one line says what to do.
    """
    damage = []
    for name in (RESUME, PREVIOUS):
        path = folder / name
        if not path.exists():
            continue
        try:
            state = safe_load(path, "resume state")
        except DamagedFile as err:
            damage.append(str(err))
            continue
        if damage and warn is not None:
            warn(f"{damage[0]}; resuming from the previous one, {path}")
        return state
    if damage:
        raise GroklabError(f"{damage[-1]}, and no earlier resume state loads; delete {folder / RESUME} (and "
                           f"{PREVIOUS}) to train from the start, or retrain with --force")
    return None


class DamagedFile(Exception):
    """A checkpoint file that cannot be read back (truncated, overwritten, not a torch file)."""


def safe_load(path: Path, what: str):
    """`torch.load` with `weights_only=True`: tensors and plain values only. A file that names other Python
    objects is refused with a GroklabError (nothing in it runs); a file that does not read is a DamagedFile."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        if "Weights only load failed" in text or "weights_only" in text:
            detail = text.split("Please file an issue")[0].split("WeightsUnpickler error: ")[-1][:160].rstrip(" .")
            raise GroklabError(f"the {what} {str(path)!r} holds Python objects other than tensors and plain values "
                               f"({detail}); groklab runs no code from a store folder and did not load it. Delete the "
                               "file if you do not trust it") from None
        raise DamagedFile(f"the {what} {str(path)!r} is damaged ({text[:120]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as err:
        raise DamagedFile(f"the {what} {str(path)!r} is damaged ({' '.join(str(err).split())[:120]})") from None


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")

    def write():
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, tmp)
        os.replace(tmp, path)

    _guarded(write, path, tmp)


def _guarded(write, path: Path, tmp: Path) -> None:
    """Run `write`; a checkpoint that cannot be written (a full disk, a read-only folder) is one line, and its
    partial file is removed. The error is raised only after the except block, once the failed writer (held by
    the traceback's frames) has closed its file, so that removing it really frees the space."""
    reason = None
    try:
        write()
    except (OSError, RuntimeError) as err:  # torch reports a failed write as a RuntimeError without errno
        reason = getattr(err, "strerror", None) or " ".join(str(err).split())[:120]
    if reason is None:
        return
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass
    raise GroklabError(f"cannot write the checkpoint {str(path)!r}: {reason}; free some space or make the folder "
                       "writable, then run the same command again (training resumes from the last resume state)")
