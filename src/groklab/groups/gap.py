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

The module builds and reads whole catalogs; running GAP lives in `gap_process` and single records,
cache paths and id validation in `gap_records`. Every public name of the three is importable from here.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from groklab.errors import GroklabError
from groklab.groups.gap_process import (
    GAP_ENV,
    GAP_INSTALL_HINT,
    RECORD_PREFIX,
    SKIP_PREFIX,
    gap_available,
    gap_executable,
    kill_all,
    require_gap,
    run_gap,
)
from groklab.groups.gap_records import (
    CACHE_ENV,
    CATALOG_FILENAME,
    atomic_write,
    cache_dir,
    catalog_lookup,
    check_order,
    default_catalog_path,
    dumps_record,
    gap_group_counts,
    gap_irrep_degrees,
    meta_path,
    parse_gap_record,
    record_id,
    record_is_abelian,
    record_to_group,
    smallgroup,
    smallgroup_record,
)
from groklab.groups.group import FiniteGroup

CATALOG_BUILD_HINT = "build it with `groklab groups catalog --max-order N` (needs GAP)"

__all__ = [
    "CACHE_ENV", "CATALOG_BUILD_HINT", "CATALOG_FILENAME", "GAP_ENV", "GAP_INSTALL_HINT", "build_catalog", "cache_dir",
    "catalog_records", "default_catalog_path", "dumps_record", "format_catalog_summary", "gap_available",
    "gap_catalog_summary", "gap_executable", "gap_irrep_degrees", "load_catalog", "meta_path", "nonabelian_collection",
    "nonabelian_index", "record_id", "record_is_abelian", "record_to_group", "require_gap",
    "run_gap", "smallgroup", "smallgroup_record",
]


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


@dataclass(frozen=True)
class _CatalogJob:
    """What every GAP job of one catalog build shares: the filters, where parts go, and what to report to."""

    nonabelian: bool
    max_irrep_degree: int | None
    structure: bool
    timeout: float | None
    tmpdir: Path
    live: set  # running GAP processes, killed if the build is interrupted or a job fails
    tick: Callable[[], None]  # one group done (progress)


def _tick(bar, lock: threading.Lock) -> None:
    if bar is not None:
        with lock:  # jobs run in threads
            bar.update(1)


def _run_catalog_job(k: int, ranges: list[tuple[int, int, int]], job: _CatalogJob) -> tuple[Path, int]:
    """Run one GAP process over `ranges` (order, first id, last id), writing its records to a part file;
    return (part file, records kept). The groups GAP reports must be exactly those asked for, in order."""
    script = "".join(
        f"for i in [{a}..{b}] do GroklabRecord({n}, i, {str(job.nonabelian).lower()}, "
        f"{job.max_irrep_degree or 0}, {str(job.structure).lower()}); od;\n"
        for n, a, b in ranges
    )
    expected = [(n, i) for n, a, b in ranges for i in range(a, b + 1)]
    part = job.tmpdir / f"{k:06d}.jsonl"
    seen: list[tuple[int, int]] = []
    kept = 0
    with part.open("w") as fh:

        def on_line(line: str) -> None:
            nonlocal kept
            if line.startswith(RECORD_PREFIX):
                rec = parse_gap_record(line)
                seen.append(record_id(rec))
                fh.write(dumps_record(rec) + "\n")
                kept += 1
            elif line.startswith(SKIP_PREFIX):
                n, i = line[len(SKIP_PREFIX) :].split()
                seen.append((int(n), int(i)))
            else:
                return
            job.tick()

        run_gap(script, timeout=job.timeout, on_line=on_line, registry=job.live)
    if seen != expected:
        raise GroklabError(
            f"GAP output for job {k} is incomplete or out of order ({len(seen)}/{len(expected)} groups)"
        )
    return part, kept


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
    check_order(max_order)
    check_order(min_order)
    if max_irrep_degree is not None and (not isinstance(max_irrep_degree, int) or max_irrep_degree < 1):
        raise GroklabError(f"bad max irrep degree {max_irrep_degree!r}: it must be an integer ≥ 1")
    require_gap()
    out = Path(out) if out is not None else default_catalog_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = gap_group_counts(range(min_order, max_order + 1))
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

    settings = _CatalogJob(nonabelian, max_irrep_degree, structure, timeout, tmpdir, live,
                           functools.partial(_tick, bar, lock))

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_catalog_job, k, job, settings) for k, job in enumerate(jobs)]
            try:
                results = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()  # stop queued jobs ...
                kill_all(live)  # ... and running ones
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
    atomic_write(meta_path(out), json.dumps(meta, indent=1) + "\n")
    return out


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
    rec = catalog_lookup(_resolve_catalog(path), order, gid)
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
