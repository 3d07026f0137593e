"""Output paths given on the command line (`--out`), checked before any work so that a wrong one is one line."""

from __future__ import annotations

import os
from pathlib import Path

from groklab.errors import GroklabError


def make_folder(path: str | Path, what: str) -> Path:
    """Create the folder `path` (and its parents) for output; a GroklabError when it is a file or not writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GroklabError(f"the {what} {str(path)!r} is a file, not a folder; give a folder (it is created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GroklabError(f"cannot create the {what} {str(path)!r}: {err.strerror or err}; give a writable folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise GroklabError(f"the {what} {str(path)!r} is not writable; give a writable folder")
    return path


def check_output_file(path: str | Path, what: str, example: str) -> Path:
    """Refuse an output file path that is a folder or whose folder cannot be created or written."""
    path = Path(path)
    if path.is_dir():
        raise GroklabError(f"the {what} {str(path)!r} is a folder; give a file name, e.g. {path / example}")
    make_folder(path.parent if str(path.parent) else Path("."), f"folder of the {what}")
    return path
