"""SmallGroups catalog records: cache paths, parsing GAP's output, validating ids, and single groups
looked up on demand (default catalog, then the per-group cache, then GAP).

Locations: the cache directory is `$GROKLAB_CACHE` if set, else `~/.cache/groklab`. The default
catalog is `<cache>/smallgroups.jsonl`; single groups fetched on demand are cached as
`<cache>/smallgroups/<order>_<id>.json` (same record format).
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from groklab.errors import GroklabError
from groklab.groups.gap_process import GAP_TIMEOUT_SECONDS, INFO_PREFIX, RECORD_PREFIX, require_gap, run_gap
from groklab.groups.group import FiniteGroup

CATALOG_FILENAME = "smallgroups.jsonl"
CACHE_ENV = "GROKLAB_CACHE"
_RANGE_RE = re.compile(r"\[\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*\]")


# -- paths ---------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """$GROKLAB_CACHE, else ~/.cache/groklab (not created here)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "groklab"


def default_catalog_path() -> Path:
    return cache_dir() / CATALOG_FILENAME


def meta_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json") if path.suffix != ".jsonl" else path.with_suffix(".meta.json")


def _group_cache_path(order: int, gid: int) -> Path:
    return cache_dir() / "smallgroups" / f"{order}_{gid}.json"


# -- record handling -----------------------------------------------------------------------------
def _record_from_gap(raw: dict) -> dict:
    """GAP's raw line → a catalog record with canonical key order (table last)."""
    order, gid = int(raw["order"]), int(raw["id"])
    degrees = sorted(int(d) for d in raw["irrep_degrees"])
    table = raw["table"]
    if len(table) != order or any(len(row) != order for row in table):
        raise GroklabError(f"GAP returned a malformed table for SmallGroup({order},{gid})")
    if sum(d * d for d in degrees) != order:
        raise GroklabError(
            f"GAP returned irrep degrees {degrees} for SmallGroup({order},{gid}), whose squares do not sum to {order}"
        )
    rec = {
        "name": f"SmallGroup({order},{gid})",
        "order": order,
        "smallgroup_id": [order, gid],
        "num_irreps": len(degrees),
        "irrep_degrees": degrees,
        "abelian": bool(raw["abelian"]),
    }
    if "structure" in raw:
        rec["structure"] = raw["structure"]
    rec["index_base"] = 1
    rec["table"] = table
    return rec


def parse_gap_record(line: str) -> dict:
    text = line[len(RECORD_PREFIX) :]
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        # GAP prints ranges as [ a .. b ]; expand them (defensive: our lists are plain lists).
        try:
            raw = json.loads(_RANGE_RE.sub(lambda m: json.dumps(list(range(int(m[1]), int(m[2]) + 1))), text))
        except json.JSONDecodeError as exc:
            raise GroklabError(f"could not parse GAP output ({exc}): {text[:120]}...") from None
    return _record_from_gap(raw)


def dumps_record(rec: dict) -> str:
    """One catalog line (compact JSON, no trailing newline)."""
    return json.dumps(rec, separators=(",", ":"))


def record_id(rec: dict) -> tuple[int, int]:
    """(order, id) of a record; accepts `smallgroup_id` as [order, id] or as a bare id."""
    sid = rec.get("smallgroup_id")
    order = int(rec["order"])
    if isinstance(sid, (list, tuple)):
        return int(sid[0]), int(sid[1])
    if sid is None:
        m = re.fullmatch(r"SmallGroup\((\d+),\s*(\d+)\)", str(rec.get("name", "")))
        if m:
            return int(m[1]), int(m[2])
        raise GroklabError(f"catalog record {rec.get('name')!r} has no smallgroup_id")
    return order, int(sid)


def record_is_abelian(rec: dict) -> bool:
    if "abelian" in rec:
        return bool(rec["abelian"])
    return max(rec["irrep_degrees"]) == 1  # abelian ⇔ every irrep is 1-dimensional


def record_to_group(rec: dict, validate: bool = True) -> FiniteGroup:
    """A 0-based FiniteGroup named `SmallGroup(o,i)` from a catalog record."""
    order, gid = record_id(rec)
    table = np.asarray(rec["table"], dtype=np.int64) - int(rec.get("index_base", 1))
    name = f"SmallGroup({order},{gid})"
    return FiniteGroup(name, table, labels=None, smallgroup_id=(order, gid), _checked=not validate)


# -- validation ----------------------------------------------------------------------------------
def _bad(order, gid, why: str) -> GroklabError:
    return GroklabError(f"bad group 'SmallGroup({order},{gid})': {why}")


def _count_message(order: int, count: int) -> str:
    if count == 1:
        return f"there is 1 group of order {order} (id 1)"
    return f"there are {count} groups of order {order} (ids 1..{count})"


def _known_counts() -> dict[int, int]:
    """NumberSmallGroups per order as recorded in the default catalog's sidecar (may be empty)."""
    try:
        meta = json.loads(meta_path(default_catalog_path()).read_text())
        return {int(k): int(v) for k, v in meta.get("counts", {}).items()}
    except (OSError, ValueError):
        return {}


def check_order(order) -> None:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise GroklabError(f"bad group order {order!r}: it must be an integer ≥ 1")


def gap_group_counts(orders) -> dict[int, int]:
    """NumberSmallGroups for each order, checking the library contains the groups themselves."""
    orders = list(orders)
    script = (
        f"for n in {json.dumps(orders)} do\n"
        "  if SmallGroupsAvailable(n) then Print(\"GROKLAB_INFO \", n, \" \", NumberSmallGroups(n), \"\\n\");\n"
        "  elif NumberSmallGroupsAvailable(n) then\n"
        "    Print(\"GROKLAB_INFO \", n, \" -\", NumberSmallGroups(n), \"\\n\");\n"
        "  else Print(\"GROKLAB_INFO \", n, \" 0\\n\"); fi;\n"
        "od;\n"
    )
    out: dict[int, int] = {}
    for line in run_gap(script, timeout=120):
        if line.startswith(INFO_PREFIX):
            n, c = line[len(INFO_PREFIX) :].split()
            n = int(n)
            if c == "0":
                raise GroklabError(f"GAP's SmallGroups library does not cover order {n}")
            if c.startswith("-"):
                raise GroklabError(
                    f"GAP's SmallGroups library counts {c[1:]} groups of order {n} but does not contain them"
                )
            out[n] = int(c)
    missing = set(orders) - set(out)
    if missing:
        raise GroklabError(f"GAP gave no group count for order(s) {sorted(missing)}")
    return out


def _validate_id(order, gid, count: int) -> None:
    if not isinstance(gid, (int, np.integer)) or isinstance(gid, bool) or not 1 <= gid <= count:
        raise _bad(order, gid, _count_message(order, count))


# -- single groups -------------------------------------------------------------------------------
def catalog_lookup(path: Path, order: int, gid: int) -> dict | None:
    """Find one record in a catalog file (through a byte-offset index built once per file version)."""
    if not path.is_file():
        return None
    st = path.stat()
    offset = _catalog_index(str(path), st.st_mtime_ns, st.st_size).get((order, gid))
    if offset is None:
        return None
    with path.open("rb") as fh:
        fh.seek(offset)
        return json.loads(fh.readline())


@functools.lru_cache(maxsize=8)
def _catalog_index(path: str, mtime_ns: int, size: int) -> dict[tuple[int, int], int]:
    """{(order, id): byte offset of its line}. Our own lines are indexed from their name prefix
    without parsing the table; other files (e.g. the reference's) are parsed line by line."""
    prefix = b'{"name":"SmallGroup('
    index: dict[tuple[int, int], int] = {}
    offset = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.startswith(prefix):
                head = line[len(prefix) : len(prefix) + 32].split(b")", 1)[0]
                o, i = head.split(b",")
                index[(int(o), int(i))] = offset
            elif line.strip():
                try:
                    index[record_id(json.loads(line))] = offset
                except (ValueError, KeyError):
                    raise GroklabError(f"{path}: not a SmallGroups catalog line at byte {offset}") from None
            offset += len(line)
    return index


def smallgroup_record(order: int, gid: int, structure: bool = True, timeout: float | None = GAP_TIMEOUT_SECONDS) -> dict:
    """The catalog record of SmallGroup(order, gid).

    Looked up in the default catalog, then in the per-group cache; else computed with GAP (after
    checking 1 ≤ gid ≤ NumberSmallGroups(order)) and cached.
    """
    check_order(order)
    counts = _known_counts()
    if order in counts:
        _validate_id(order, gid, counts[order])
    elif not isinstance(gid, (int, np.integer)) or isinstance(gid, bool):
        raise _bad(order, gid, "the id must be an integer")  # ids < 1 are rejected with GAP's count below
    order, gid = int(order), int(gid)
    rec = catalog_lookup(default_catalog_path(), order, gid)
    if rec is not None:
        return rec
    cached = _group_cache_path(order, gid)
    if cached.is_file():
        try:
            return json.loads(cached.read_text())
        except ValueError:
            pass  # a damaged cache entry is recomputed
    require_gap()
    script = (
        f"o := {order};; i := {gid};;\n"
        "if not SmallGroupsAvailable(o) then\n"
        "  if NumberSmallGroupsAvailable(o) then Print(\"GROKLAB_INFO -\", NumberSmallGroups(o), \"\\n\");\n"
        "  else Print(\"GROKLAB_INFO 0\\n\"); fi;\n"
        "else\n"
        "  Print(\"GROKLAB_INFO \", NumberSmallGroups(o), \"\\n\");\n"
        "  if 1 <= i and i <= NumberSmallGroups(o) then\n"
        f"    GroklabRecord(o, i, false, 0, {'true' if structure else 'false'});\n"
        "  fi;\n"
        "fi;\n"
    )
    lines = run_gap(script, timeout=timeout)
    info = [ln[len(INFO_PREFIX) :] for ln in lines if ln.startswith(INFO_PREFIX)]
    if not info:
        raise GroklabError(f"GAP gave no answer for SmallGroup({order},{gid})")
    if info[0] == "0":
        raise _bad(order, gid, f"GAP's SmallGroups library does not cover order {order}")
    if info[0].startswith("-"):
        why = f"GAP's SmallGroups library counts {info[0][1:]} groups of order {order} but does not contain them"
        raise _bad(order, gid, why)
    _validate_id(order, gid, int(info[0]))
    recs = [parse_gap_record(ln) for ln in lines if ln.startswith(RECORD_PREFIX)]
    if len(recs) != 1:
        raise GroklabError(f"GAP gave no record for SmallGroup({order},{gid})")
    rec = recs[0]
    atomic_write(cached, dumps_record(rec) + "\n")
    return rec


def smallgroup(order: int, gid: int) -> FiniteGroup:
    """SmallGroup(order, gid) from GAP's library as a 0-based FiniteGroup (labels None).

    Uses the default catalog or the on-demand cache when they have it, else GAP (cached).
    """
    return record_to_group(smallgroup_record(order, gid))


def gap_irrep_degrees(order: int, gid: int) -> list[int]:
    """GAP's CharacterDegrees of SmallGroup(order, gid), expanded and sorted ascending."""
    return sorted(int(d) for d in smallgroup_record(order, gid)["irrep_degrees"])


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; cache files are ordinary files
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
