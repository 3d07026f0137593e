"""Bringing a remote worker's files home: what a Ray task writes on its node ends up in the store's folder.

A Ray task trains in a node-local scratch folder (`scratch_folder`) that the driver may not see. The
task mirrors that folder home: `FolderMirror.changes()` lists the files that are new or changed since
the last call (and the ones deleted), in batches of at most `BATCH_BYTES`; they travel through Ray's
object store, and the driver writes them with `apply_batch` under <store dir>/runs/<ensemble id>/ —
the folder that `groklab train`, the analyses and the report read. So snapshots, the resume checkpoint
and TensorBoard logs of a run trained on any node are where they would be had it trained locally.

Sizes are what the ensemble's folder holds, nothing more: the snapshot schedule
(train.checkpoint_dense_until, train.checkpoint_every) decides it, at members x parameters x dtype
bytes per snapshot (parameters only; no optimizer state), plus one resume checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SCRATCH_ENV = "GROKLAB_SCRATCH"  # read on the worker's node; default <system temp>/groklab-scratch
BATCH_BYTES = 64 * 2**20  # at most this much file data per message (a larger single file travels alone)
RESUME, PREVIOUS = "resume.pt", "resume.prev.pt"  # as groklab.train.checkpoint names them


@dataclass
class FileBatch:
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (posix path relative to the folder, content)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.files or self.deleted)

    @property
    def nbytes(self) -> int:
        return sum(len(data) for _, data in self.files)


def scratch_root() -> Path:
    return Path(os.environ.get(SCRATCH_ENV) or Path(tempfile.gettempdir()) / "groklab-scratch")


def scratch_folder(home: str, ensemble_id: str) -> Path:
    """This node's scratch folder for an ensemble whose home folder (on the driver) is `home`."""
    tag = hashlib.sha1(str(home).encode()).hexdigest()[:8]  # two stores training the same ensemble never meet
    return scratch_root() / f"{ensemble_id}-{tag}"


def fresh_folder(folder: Path, seed: dict[str, bytes]) -> None:
    """Empty `folder` (a dead earlier attempt may have left files) and put the `seed` files in it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for rel, data in seed.items():
        path = folder / _safe(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def home_seed(home: str | Path) -> dict[str, bytes]:
    """The files a worker needs from home to continue an ensemble: its resume checkpoint, if any, and the
    previous one it falls back to when the newest is damaged."""
    return {name: (Path(home) / name).read_bytes() for name in (RESUME, PREVIOUS) if (Path(home) / name).is_file()}


class FolderMirror:
    """Tracks which files of `folder` home already has, by (size, mtime)."""

    def __init__(self, folder: Path, known: dict[str, bytes] | None = None):
        self.folder = Path(folder)
        self._sent: dict[str, tuple[int, int]] = {}
        for rel in known or {}:  # seeded from home: home has them already
            stat = (self.folder / rel).stat()
            self._sent[rel] = (stat.st_size, stat.st_mtime_ns)

    def changes(self, max_bytes: int = BATCH_BYTES) -> list[FileBatch]:
        """New or changed files and deleted ones, as batches of at most `max_bytes` each.

        The resume checkpoint comes last: home then never holds a resume state newer than the
        snapshots that precede it.
        """
        now: dict[str, tuple[int, int]] = {}
        for path in sorted(self.folder.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                stat = path.stat()
                now[path.relative_to(self.folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
        changed = sorted((rel for rel, sig in now.items() if self._sent.get(rel) != sig), key=lambda r: (r == RESUME, r))
        batches, batch = [], FileBatch(deleted=sorted(set(self._sent) - set(now)))
        for rel in changed:
            try:
                data = (self.folder / rel).read_bytes()
            except FileNotFoundError:  # replaced while listing: the next call sends it
                continue
            if batch.files and batch.nbytes + len(data) > max_bytes:
                batches.append(batch)
                batch = FileBatch()
            batch.files.append((rel, data))
            self._sent[rel] = now[rel]
        for rel in set(self._sent) - set(now):
            del self._sent[rel]
        return [b for b in batches + [batch] if b]


def apply_batch(home: str | Path, batch: FileBatch) -> None:
    """Write a batch under `home` (each file atomically) and remove the files deleted remotely."""
    home = Path(home)
    for rel, data in batch.files:
        path = home / _safe(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".incoming")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    for rel in batch.deleted:
        (home / _safe(rel)).unlink(missing_ok=True)


def _safe(rel: str) -> Path:
    """A relative path that stays inside its folder."""
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"refusing file path {rel!r} from a worker")
    return Path(*path.parts)
