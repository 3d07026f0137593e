"""Time `irreps()` for the named group families and the GAP SmallGroups catalog.

    python benchmarks/irreps.py                      # families + catalog groups of order <= 128
    python benchmarks/irreps.py --max-order 64 --json
    python benchmarks/irreps.py --families-only

Each group is built fresh, so the time includes its conjugacy classes (the cost a first use pays).
Every result is checked (Σ d² = |G|, #irreps = #classes, and the degrees against GAP's
CharacterDegrees for catalog groups); a failed check is reported and makes the exit status 1.
The catalog comes from `groklab.groups.gap` (default cache path, or --catalog); without it or
without GAP only the named families are timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

# Named families, including the large permutation groups (S5, A6, S6) regardless of --max-order.
FAMILIES = [
    "Z71", "Z127", "Z4xZ7", "Z2xZ2xZ9", "Z2xZ2xZ2xZ2xZ2xZ2xZ2",
    "D12", "D64", "D128", "Dic12", "Dic64", "Dic128", "Q8",
    "S3", "S4", "S5", "S6", "A4", "A5", "A6",
    "Semidirect(7,3,2)", "Semidirect(31,5,2)", "Semidirect(43,3,6)",
]  # fmt: skip


def _time_group(group, source: str, expected_degrees=None) -> dict:
    from groklab.groups.irreps import irreps

    start = time.perf_counter()
    ir = irreps(group)
    seconds = time.perf_counter() - start
    degrees = sorted(int(d) for d in ir.degrees)
    problems = []
    if sum(d * d for d in degrees) != group.order:
        problems.append("sum of d^2 != |G|")
    if len(degrees) != len(group.conjugacy_classes):
        problems.append("#irreps != #classes")
    if expected_degrees is not None and degrees != sorted(int(d) for d in expected_degrees):
        problems.append(f"degrees differ from GAP's {sorted(expected_degrees)}")
    return {
        "name": group.name,
        "source": source,
        "order": group.order,
        "num_irreps": len(degrees),
        "max_degree": max(degrees),
        "seconds": seconds,
        "problems": problems,
    }


def _family_results() -> list[dict]:
    from groklab.groups.names import _construct  # uncached constructor: a fresh group each run

    return [_time_group(_construct(name), "family") for name in FAMILIES]


def _catalog_results(max_order: int, path: str | None, build: bool) -> tuple[list[dict], str | None]:
    """Catalog timings, or ([], reason) when the catalog cannot be had."""
    try:
        from groklab.groups import gap
    except ImportError as err:
        return [], f"groklab.groups.gap is not available ({err})"
    from groklab.errors import GroklabError

    try:
        records = gap.catalog_records(max_order=max_order, path=path)
    except GroklabError as err:
        if not build:
            return [], f"{err} (or pass --build-catalog)"
        if not gap.gap_available():
            return [], gap.GAP_INSTALL_HINT
        print(f"building the SmallGroups catalog up to order {max_order} with GAP ...", file=sys.stderr)
        path = str(gap.build_catalog(max_order, out=path))
        records = gap.catalog_records(max_order=max_order, path=path)
    results = []
    for rec in records:
        group = gap.record_to_group(rec, validate=False)  # tables are checked by tests/test_gap.py
        results.append(_time_group(group, "catalog", rec.get("irrep_degrees")))
    return results, None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-order", type=int, default=128, help="largest catalog order to time (default 128)")
    parser.add_argument("--catalog", default=None, help="catalog JSONL (default: groklab's cache path)")
    parser.add_argument("--build-catalog", action="store_true", help="build the catalog with GAP if it is missing")
    parser.add_argument("--families-only", action="store_true", help="skip the GAP catalog")
    parser.add_argument("--slowest", type=int, default=10, help="how many of the slowest groups to list")
    parser.add_argument("--json", action="store_true", help="print all results as JSON")
    args = parser.parse_args(argv)

    results = _family_results()
    note = "--families-only"
    if not args.families_only:
        catalog, note = _catalog_results(args.max_order, args.catalog, args.build_catalog)
        results += catalog
    summary = {
        "groups": len(results),
        "total_seconds": sum(r["seconds"] for r in results),
        "by_source": {
            src: {
                "groups": len(rs),
                "seconds": sum(r["seconds"] for r in rs),
                "max_seconds": max(r["seconds"] for r in rs),
            }
            for src in ("family", "catalog")
            if (rs := [r for r in results if r["source"] == src])
        },
        "catalog_skipped": note,
        "failures": [r for r in results if r["problems"]],
    }
    if args.json:
        print(json.dumps({"summary": summary, "results": results}, indent=1))
    else:
        if note:
            print(f"catalog not timed: {note}")
        print(f"{'group':<24} {'source':<8} {'order':>5} {'irreps':>6} {'max d':>5} {'seconds':>8}")
        for r in sorted(results, key=lambda r: -r["seconds"])[: args.slowest]:
            print(
                f"{r['name']:<24} {r['source']:<8} {r['order']:>5} {r['num_irreps']:>6} "
                f"{r['max_degree']:>5} {r['seconds']:>8.3f}"
            )
        for src, s in summary["by_source"].items():
            print(f"{src}: {s['groups']} groups, total {s['seconds']:.2f} s, slowest {s['max_seconds']:.3f} s")
        print(f"total: {summary['groups']} groups in {summary['total_seconds']:.2f} s")
        for r in summary["failures"]:
            print(f"FAILED {r['name']}: {'; '.join(r['problems'])}")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
