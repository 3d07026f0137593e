"""GAP's SmallGroups library as a catalog of Cayley tables.

The Li₂ reference's `collection` mode reads non-abelian groups from a JSONL file generated with GAP
(docs/conventions.md#groups). This module regenerates that file and looks single groups up on demand.

Catalog file format (one JSON object per line, records sorted by (order, id)):

    {"name": "SmallGroup(24,12)", "order": 24, "smallgroup_id": [24, 12], "num_irreps": 5,
     "irrep_degrees": [1, 1, 2, 3, 3], "abelian": false, "index_base": 1,
     "table": [[1, 2, ...], ...]}

- `irrep_degrees` is the EXPANDED list of degrees sorted ascending, one entry per irrep (so
  `len == num_irreps` and `sum(d*d) == order`). GAP's `CharacterDegrees` returns collected
  `[degree, multiplicity]` pairs; we expand them. The reference loader takes
  `max(rec["irrep_degrees"])`, which works on the expanded list.
- `table` is GAP's `MultiplicationTable`, 1-based positions in `AsSSortedList(G)` (so
  `index_base` is 1); `table[a][b]` is the position of a·b. `FiniteGroup`s built from it are 0-based.
- `smallgroup_id` is `[order, id]` as GAP's `IdGroup` gives it. Readers also accept a bare id.
- Extra fields beyond the reference: `abelian`, and `structure` (GAP's `StructureDescription`)
  only when asked for — it costs far more than everything else (≈40 s for all 586 groups of order
  ≤ 64 against ≈8 s for tables and degrees), so `build_catalog` leaves it out by default.
- A sidecar `<catalog stem>.meta.json` (e.g. `smallgroups.meta.json`) records how the file was
  built (max order, filters) and GAP's `NumberSmallGroups` for every order, so that ids can be
  validated without GAP.

Locations: the cache directory is `$GROKLAB_CACHE` if set, else `~/.cache/groklab`. The default
catalog is `<cache>/smallgroups.jsonl`; single groups fetched on demand are cached as
`<cache>/smallgroups/<order>_<id>.json` (same record format).

GAP is run as `gap -q --quitonbreak <script>` with print formatting switched off on stdout, so
that no line is wrapped; every record is one line prefixed with a marker, and a GAP error ends the
process with a non-zero status that we turn into a one-line `GroklabError`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup

GAP_INSTALL_HINT = (
    "GAP is not installed: run 'sudo apt-get install gap-core gap-libs gap-smallgrp' "
    "(or `make test` as root installs it)"
)
CATALOG_BUILD_HINT = "build it with `groklab groups catalog --max-order N` (needs GAP)"
CATALOG_FILENAME = "smallgroups.jsonl"
GAP_ENV = "GROKLAB_GAP"  # optional path to the gap executable
CACHE_ENV = "GROKLAB_CACHE"

_REC = "GROKLAB_REC "
_SKIP = "GROKLAB_SKIP "
_INFO = "GROKLAB_INFO "
_DEFAULT_TIMEOUT = 600.0  # seconds for one GAP process
_RANGE_RE = re.compile(r"\[\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*\]")


# -- GAP process --------------------------------------------------------------------------------
def gap_executable() -> str | None:
    """Path of the `gap` executable ($GROKLAB_GAP, else `gap` on PATH), or None."""
    env = os.environ.get(GAP_ENV)
    if env:
        return env if (os.path.isfile(env) and os.access(env, os.X_OK)) else None
    return shutil.which("gap")


def gap_available() -> bool:
    return gap_executable() is not None


def require_gap() -> str:
    """The gap executable, or a GroklabError with the install hint."""
    exe = gap_executable()
    if exe is None:
        raise GroklabError(GAP_INSTALL_HINT)
    return exe


_PRELUDE = r"""
SetPrintFormattingStatus("*stdout*", false);
if LoadPackage("smallgrp") = fail then
  Error("GAP's SmallGroups library (package smallgrp) is missing: install gap-smallgrp");
fi;
GroklabRecord := function(o, i, nonab, maxdeg, wantstruct)
  local G, ab, cd, degs, t;
  G := SmallGroup(o, i);
  ab := IsAbelian(G);
  if nonab and ab then Print("GROKLAB_SKIP ", o, " ", i, "\n"); return; fi;
  cd := CharacterDegrees(G);
  degs := Concatenation(List(cd, p -> ListWithIdenticalEntries(p[2], p[1])));
  if maxdeg > 0 and Maximum(degs) > maxdeg then
    Print("GROKLAB_SKIP ", o, " ", i, "\n"); return;
  fi;
  t := MultiplicationTable(G);
  Print("GROKLAB_REC {\"order\": ", o, ", \"id\": ", i, ", \"abelian\": ", ab,
        ", \"irrep_degrees\": ", degs);
  if wantstruct then Print(", \"structure\": \"", StructureDescription(G), "\""); fi;
  Print(", \"table\": ", t, "}\n");
end;
"""


def run_gap(
    script: str, timeout: float | None = _DEFAULT_TIMEOUT, on_line=None, registry: set | None = None
) -> list[str]:
    """Run a GAP script (with the groklab prelude) and return its stdout lines.

    `on_line(line)` is called for each stdout line as it arrives (used for progress bars). A GAP
    error, a missing GAP or a timeout becomes a one-line GroklabError. The running process is put
    in `registry` (if given) so that a caller can kill it (`_kill_all`) on interrupt.
    """
    exe = require_gap()
    with tempfile.NamedTemporaryFile("w", suffix=".g", prefix="groklab_", delete=False) as fh:
        fh.write(_PRELUDE + script + "\nQUIT;\n")
        script_path = fh.name
    lines: list[str] = []
    timed_out = threading.Event()
    try:
        proc = subprocess.Popen(
            [exe, "-q", "--quitonbreak", script_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group, so a timeout kills GAP and any children
        )
    except OSError as exc:
        os.unlink(script_path)
        raise GroklabError(f"cannot run GAP ({exe}): {exc}") from None

    def _kill_group():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()

    def _kill():
        timed_out.set()
        _kill_group()

    if registry is not None:
        registry.add(proc)
    timer = threading.Timer(timeout, _kill) if timeout else None
    stderr_chunks: list[str] = []
    err_thread = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    err_thread.start()
    try:
        if timer:
            timer.start()
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if on_line is not None:
                on_line(line)
        rc = proc.wait()
        err_thread.join()
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:
            _kill_group()
            proc.wait()
        if registry is not None:
            registry.discard(proc)
        os.unlink(script_path)
    if timed_out.is_set():
        raise GroklabError(f"GAP timed out after {timeout:g} s (raise the timeout or lower the order)")
    stderr = "".join(stderr_chunks)
    error = _gap_error_message(lines, stderr)
    if rc != 0 or error:
        raise GroklabError(f"GAP failed: {error or f'exit status {rc}'}")
    return lines


def _kill_all(procs: set) -> None:
    """Kill the process groups of the GAP processes still running in `procs`."""
    for proc in list(procs):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass


def _gap_error_message(stdout_lines: list[str], stderr: str) -> str | None:
    for line in list(stdout_lines) + stderr.splitlines():
        if line.startswith("Error, "):
            msg = line[len("Error, ") :]
            msg = re.sub(r" at /\S+:\d+.*$", "", msg)  # drop GAP's source location ...
            return re.sub(r"\s*called from\s*$", "", msg).strip()  # ... and its traceback lead-in
    return None


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


def _parse_gap_record(line: str) -> dict:
    text = line[len(_REC) :]
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


def number_small_groups(order: int) -> int:
    """GAP's NumberSmallGroups(order); a GroklabError if the library does not cover the order."""
    _check_order(order)
    counts = _known_counts()
    if order in counts:
        return counts[order]
    return _gap_counts([order])[order]


def _check_order(order) -> None:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise GroklabError(f"bad group order {order!r}: it must be an integer ≥ 1")


def _gap_counts(orders) -> dict[int, int]:
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
        if line.startswith(_INFO):
            n, c = line[len(_INFO) :].split()
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
def _catalog_lookup(path: Path, order: int, gid: int) -> dict | None:
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


def smallgroup_record(order: int, gid: int, structure: bool = True, timeout: float | None = _DEFAULT_TIMEOUT) -> dict:
    """The catalog record of SmallGroup(order, gid).

    Looked up in the default catalog, then in the per-group cache; else computed with GAP (after
    checking 1 ≤ gid ≤ NumberSmallGroups(order)) and cached.
    """
    _check_order(order)
    counts = _known_counts()
    if order in counts:
        _validate_id(order, gid, counts[order])
    elif not isinstance(gid, (int, np.integer)) or isinstance(gid, bool):
        raise _bad(order, gid, "the id must be an integer")  # ids < 1 are rejected with GAP's count below
    order, gid = int(order), int(gid)
    rec = _catalog_lookup(default_catalog_path(), order, gid)
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
    info = [ln[len(_INFO) :] for ln in lines if ln.startswith(_INFO)]
    if not info:
        raise GroklabError(f"GAP gave no answer for SmallGroup({order},{gid})")
    if info[0] == "0":
        raise _bad(order, gid, f"GAP's SmallGroups library does not cover order {order}")
    if info[0].startswith("-"):
        why = f"GAP's SmallGroups library counts {info[0][1:]} groups of order {order} but does not contain them"
        raise _bad(order, gid, why)
    _validate_id(order, gid, int(info[0]))
    recs = [_parse_gap_record(ln) for ln in lines if ln.startswith(_REC)]
    if len(recs) != 1:
        raise GroklabError(f"GAP gave no record for SmallGroup({order},{gid})")
    rec = recs[0]
    _atomic_write(cached, dumps_record(rec) + "\n")
    return rec


def smallgroup(order: int, gid: int) -> FiniteGroup:
    """SmallGroup(order, gid) from GAP's library as a 0-based FiniteGroup (labels None).

    Uses the default catalog or the on-demand cache when they have it, else GAP (cached).
    """
    return record_to_group(smallgroup_record(order, gid))


def gap_irrep_degrees(order: int, gid: int) -> list[int]:
    """GAP's CharacterDegrees of SmallGroup(order, gid), expanded and sorted ascending."""
    return sorted(int(d) for d in smallgroup_record(order, gid)["irrep_degrees"])


# -- catalog building ----------------------------------------------------------------------------
def _est_seconds(order: int, structure: bool) -> float:
    """Rough GAP cost of one group (fitted on orders ≤ 128, one core)."""
    s = 0.004 + 0.065 * (order / 128) ** 2
    if structure:
        s += 0.2 * (order / 128) ** 2 + 0.05
    return s


def _make_jobs(counts: dict[int, int], structure: bool, workers: int) -> list[list[tuple[int, int, int]]]:
    """Split the (order, id) pairs into contiguous jobs [(order, first, last), ...] in sorted order."""
    total = sum(_est_seconds(n, structure) * c for n, c in counts.items())
    target = max(8.0, total / (4 * max(workers, 1)))  # several jobs per worker, each worth a GAP start
    jobs: list[list[tuple[int, int, int]]] = []
    cur: list[tuple[int, int, int]] = []
    cur_cost = 0.0
    for n in sorted(counts):
        per = _est_seconds(n, structure)
        first = 1
        while first <= counts[n]:
            room = max(1, int((target - cur_cost) / per))
            last = min(counts[n], first + room - 1)
            cur.append((n, first, last))
            cur_cost += per * (last - first + 1)
            first = last + 1
            if cur_cost >= target:
                jobs.append(cur)
                cur, cur_cost = [], 0.0
    if cur:
        jobs.append(cur)
    return jobs


def build_catalog(
    max_order: int,
    nonabelian: bool = False,
    max_irrep_degree: int | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    structure: bool = False,
    workers: int | None = None,
    timeout: float | None = 3600.0,
    min_order: int = 1,
) -> Path:
    """Write the SmallGroups catalog for orders min_order..max_order and return its path.

    Args:
        max_order: largest order included (GAP's library must contain every order up to it).
        nonabelian: keep only non-abelian groups (the reference's `AllSmallGroups(n, IsAbelian,
            false)`).
        max_irrep_degree: keep only groups whose largest irrep degree is ≤ this value. The
            reference's equality filter (max degree == d) is applied when reading, see
            `nonabelian_collection`.
        out: output file; default `default_catalog_path()`.
        progress: show a tqdm progress bar over groups.
        structure: add GAP's StructureDescription (slow: ≈5× the cost of everything else).
        workers: parallel GAP processes (default: number of CPUs).
        timeout: seconds allowed for each GAP process (one job of contiguous groups).
    """
    _check_order(max_order)
    _check_order(min_order)
    if max_irrep_degree is not None and (not isinstance(max_irrep_degree, int) or max_irrep_degree < 1):
        raise GroklabError(f"bad max irrep degree {max_irrep_degree!r}: it must be an integer ≥ 1")
    require_gap()
    out = Path(out) if out is not None else default_catalog_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = _gap_counts(range(min_order, max_order + 1))
    workers = max(1, workers or os.cpu_count() or 1)
    jobs = _make_jobs(counts, structure, workers)
    total = sum(counts.values())

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"GAP SmallGroups ≤ {max_order}", unit="group", disable=None)
    lock = threading.Lock()
    live: set = set()  # running GAP processes, killed if the build is interrupted or a job fails
    tmpdir = Path(tempfile.mkdtemp(prefix=".groklab_catalog_", dir=out.parent))

    def run_job(k: int, ranges: list[tuple[int, int, int]]) -> tuple[Path, int]:
        script = "".join(
            f"for i in [{a}..{b}] do GroklabRecord({n}, i, {str(nonabelian).lower()}, "
            f"{max_irrep_degree or 0}, {str(structure).lower()}); od;\n"
            for n, a, b in ranges
        )
        expected = [(n, i) for n, a, b in ranges for i in range(a, b + 1)]
        part = tmpdir / f"{k:06d}.jsonl"
        seen: list[tuple[int, int]] = []
        kept = 0
        with part.open("w") as fh:

            def on_line(line: str) -> None:
                nonlocal kept
                if line.startswith(_REC):
                    rec = _parse_gap_record(line)
                    seen.append(record_id(rec))
                    fh.write(dumps_record(rec) + "\n")
                    kept += 1
                elif line.startswith(_SKIP):
                    n, i = line[len(_SKIP) :].split()
                    seen.append((int(n), int(i)))
                else:
                    return
                if bar is not None:
                    with lock:
                        bar.update(1)

            run_gap(script, timeout=timeout, on_line=on_line, registry=live)
        if seen != expected:
            raise GroklabError(
                f"GAP output for job {k} is incomplete or out of order ({len(seen)}/{len(expected)} groups)"
            )
        return part, kept

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_job, k, job) for k, job in enumerate(jobs)]
            try:
                results = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()  # stop queued jobs ...
                _kill_all(live)  # ... and running ones
                raise
        tmp_out = tmpdir / "catalog.jsonl"
        with tmp_out.open("w") as dst:
            for part, _ in results:
                with part.open() as src:
                    shutil.copyfileobj(src, dst)
        os.replace(tmp_out, out)
    finally:
        if bar is not None:
            bar.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
    meta = {
        "format": "groklab-smallgroups-1",
        "min_order": min_order,
        "max_order": max_order,
        "nonabelian": nonabelian,
        "max_irrep_degree": max_irrep_degree,
        "structure": structure,
        "records": sum(k for _, k in results),
        "counts": {str(n): c for n, c in sorted(counts.items())},
        "seconds": round(time.perf_counter() - started, 1),
    }
    _atomic_write(meta_path(out), json.dumps(meta, indent=1) + "\n")
    return out


def _atomic_write(path: Path, text: str) -> None:
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


# -- reading catalogs ----------------------------------------------------------------------------
def _resolve_catalog(path) -> Path:
    path = Path(path) if path is not None else default_catalog_path()
    if not path.is_file():
        raise GroklabError(f"no SmallGroups catalog at {path}: {CATALOG_BUILD_HINT}")
    return path


def catalog_records(
    max_order: int | None = None,
    path: str | os.PathLike | None = None,
    nonabelian: bool | None = None,
    max_irrep_degree: int | None = None,
    max_irrep_degree_equals: int | None = None,
    tables: bool = True,
) -> list[dict]:
    """Catalog records (dicts in the file format) sorted by (order, id), filtered.

    nonabelian: True keeps non-abelian groups, False abelian ones, None all.
    max_irrep_degree: keep groups whose largest irrep degree is ≤ this.
    max_irrep_degree_equals: keep groups whose largest irrep degree is exactly this (the
        reference's `group_collection_max_dk` filter).
    tables: False drops the `table` field (cheaper to keep around for listings).
    """
    path = _resolve_catalog(path)
    out = []
    with path.open() as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                cut = line.find(',"table":') if not tables and line.startswith('{"name":"SmallGroup(') else -1
                rec = json.loads(line[:cut] + "}") if cut > 0 else json.loads(line)  # our lines end with the table
            except json.JSONDecodeError:
                why = f"not a JSON record; rebuild the catalog ({CATALOG_BUILD_HINT})"
                raise GroklabError(f"{path}:{lineno}: {why}") from None
            if max_order is not None and int(rec["order"]) > max_order:
                continue
            if nonabelian is not None and record_is_abelian(rec) == nonabelian:
                continue
            dmax = max(rec["irrep_degrees"])
            if max_irrep_degree is not None and dmax > max_irrep_degree:
                continue
            if max_irrep_degree_equals is not None and dmax != max_irrep_degree_equals:
                continue
            if not tables:
                rec.pop("table", None)
            out.append(rec)
    out.sort(key=record_id)
    return out


def load_catalog(
    max_order: int | None = None,
    path: str | os.PathLike | None = None,
    nonabelian: bool | None = None,
    max_irrep_degree: int | None = None,
    max_irrep_degree_equals: int | None = None,
) -> list[FiniteGroup]:
    """The catalog's groups as 0-based FiniteGroups (same filters as `catalog_records`)."""
    recs = catalog_records(max_order, path, nonabelian, max_irrep_degree, max_irrep_degree_equals)
    return [record_to_group(r) for r in recs]


def nonabelian_collection(
    max_irrep_degree: int, max_order: int | None = None, path: str | os.PathLike | None = None, tables: bool = True
) -> list[dict]:
    """The reference's `collection` list: non-abelian groups with max irrep degree == d, by (order, id)."""
    return catalog_records(max_order, path, nonabelian=True, max_irrep_degree_equals=max_irrep_degree, tables=tables)


def nonabelian_index(
    max_irrep_degree: int, index: int, max_order: int | None = None, path: str | os.PathLike | None = None
) -> FiniteGroup:
    """The reference's `group_type=collection` group: `M` is an INDEX, not an order.

    The reference filters the non-abelian catalog to groups whose largest irrep degree equals
    `group_collection_max_dk` (= max_irrep_degree) and takes entry `M` (= index, 0-based) of that
    list. Our lists are sorted by (order, id); the reference file's order is unknown,
    and the list depends on the catalog's max order (the reference file is named "upto_128"), so
    pass max_order to pin it.
    """
    recs = nonabelian_collection(max_irrep_degree, max_order, path, tables=False)
    if not recs:
        raise GroklabError(
            f"bad collection: no non-abelian group in the catalog has largest irrep degree {max_irrep_degree}"
        )
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < len(recs):
        raise GroklabError(
            f"bad collection index {index!r}: {len(recs)} non-abelian groups have largest irrep degree "
            f"{max_irrep_degree} (indices 0..{len(recs) - 1})"
        )
    order, gid = record_id(recs[index])
    rec = _catalog_lookup(_resolve_catalog(path), order, gid)
    return record_to_group(rec)


def gap_catalog_summary(records) -> list[dict]:
    """Per-order counts for display: order, groups, abelian, nonabelian, and a histogram of the
    largest irrep degree ({d: count})."""
    by_order: dict[int, list[dict]] = {}
    for rec in records:
        by_order.setdefault(int(rec["order"]), []).append(rec)
    rows = []
    for n in sorted(by_order):
        recs = by_order[n]
        n_ab = sum(record_is_abelian(r) for r in recs)
        hist = Counter(max(r["irrep_degrees"]) for r in recs)
        rows.append(
            {
                "order": n,
                "groups": len(recs),
                "abelian": n_ab,
                "nonabelian": len(recs) - n_ab,
                "max_irrep_degree": dict(sorted(hist.items())),
            }
        )
    return rows


def format_catalog_summary(records) -> str:
    """A plain-text table of `gap_catalog_summary` (one line per order, plus a total)."""
    rows = gap_catalog_summary(records)
    lines = [f"{'order':>5} {'groups':>6} {'abelian':>7} {'nonab':>6}  max irrep degree: count"]
    for r in rows:
        hist = ", ".join(f"{d}:{c}" for d, c in r["max_irrep_degree"].items())
        lines.append(f"{r['order']:>5} {r['groups']:>6} {r['abelian']:>7} {r['nonabelian']:>6}  {hist}")
    lines.append(
        f"{'total':>5} {sum(r['groups'] for r in rows):>6} {sum(r['abelian'] for r in rows):>7} "
        f"{sum(r['nonabelian'] for r in rows):>6}"
    )
    return "\n".join(lines)
