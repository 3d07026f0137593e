"""The GPU script's last step: gather what its stages left in the work folder into OUT/summary.json, and
copy the files worth bringing back to the top of OUT (at most 8 files come back from a device call, each at
most 16 MiB, so OUT holds only: run.log, summary.json, each grid's verdict and, when it compresses below
15 MiB, its store gzipped, and one figure of each). Standard library only: it must work when the install failed.

    python benchmarks/gpu/summarize.py WORK OUT --mode full|tiny --workers N --expected-runs R --expected-wb-runs R
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import shutil
import sqlite3
import statistics
import sys
from pathlib import Path

MAX_FILE = 15 * 2**20  # below the 16 MiB a device call brings back per file
MAX_FILES = 8


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def stages(work: Path) -> list[dict]:
    out = []
    path = work / "stages.tsv"
    if path.exists():
        for row in csv.reader(path.open(), delimiter="\t"):
            if len(row) >= 3:
                out.append({"stage": row[0], "rc": int(row[1]), "seconds": round(float(row[2]), 1),
                            "note": row[3] if len(row) > 3 else ""})
    return out


def nvidia_smi(work: Path) -> dict | None:
    path = work / "nvidia-smi.csv"
    if not path.exists() or not path.read_text().strip():
        return None
    name, driver, memory = (v.strip() for v in path.read_text().strip().splitlines()[0].split(",")[:3])
    return {"name": name, "driver": driver, "memory_total": memory}


def gpu_use(work: Path) -> dict | None:
    """Utilisation (%) and memory used (MiB) sampled every second by nvidia-smi while the grid ran."""
    path = work / "gpu_util.csv"
    util, mem = [], []
    if path.exists():
        for line in path.read_text().splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                util.append(int(parts[0]))
                mem.append(int(parts[1]))
    if not util:
        return None
    return {"samples": len(util), "utilization_mean_pct": round(statistics.fmean(util), 1),
            "utilization_median_pct": statistics.median(util), "utilization_max_pct": max(util),
            "memory_used_max_mib": max(mem)}


def store_counts(store: Path, expected: int | None, seconds: float | None) -> dict | None:
    if not store.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        status = dict(con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
        member_epochs = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
        con.close()
    except sqlite3.Error as err:
        return {"error": str(err)}
    # metric rows are written when a run completes: epochs of runs still training when the grid stopped are not in
    out = {"runs_by_status": status, "member_epochs_of_stored_runs": member_epochs, "expected_runs": expected}
    if seconds:
        out["member_epochs_per_second"] = round(member_epochs / seconds, 1)
    return out


def copy_store(store: Path, out: Path, name: str = "store.sqlite.gz") -> dict:
    """A consistent copy of the store (sqlite backup), gzipped into OUT when small enough."""
    if not store.exists():
        return {"copied": False, "why": "no store"}
    snapshot = store.with_name("store-copy.sqlite")
    src, dst = sqlite3.connect(store), sqlite3.connect(snapshot)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    target = out / name
    with snapshot.open("rb") as f, gzip.open(target, "wb", compresslevel=6) as g:
        shutil.copyfileobj(f, g)
    raw, packed = snapshot.stat().st_size, target.stat().st_size
    snapshot.unlink()
    if packed > MAX_FILE:
        target.unlink()
        return {"copied": False, "why": f"{packed / 2**20:.1f} MiB gzipped (> 15 MiB)", "bytes": raw}
    return {"copied": True, "file": target.name, "bytes": raw, "gzipped_bytes": packed}


def trim_log(path: Path) -> None:
    if path.exists() and path.stat().st_size > MAX_FILE:
        data = path.read_bytes()
        head, tail = data[: 2**20], data[-(MAX_FILE - 2**20 - 200):]
        path.write_bytes(head + b"\n[... log trimmed to fit 15 MiB ...]\n" + tail)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--mode", default="full")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--expected-runs", type=int, default=None)
    ap.add_argument("--grid-command", default="")
    ap.add_argument("--expected-wb-runs", type=int, default=None)
    ap.add_argument("--wb-command", default="")
    args = ap.parse_args()
    work, out = args.work, args.out
    rows = stages(work)
    seconds = {r["stage"]: r["seconds"] for r in rows}
    summary: dict = {
        "mode": args.mode,
        "ok": bool(rows) and all(r["rc"] == 0 for r in rows),
        "stages": rows,
        "total_seconds": round(sum(r["seconds"] for r in rows if r["stage"] != "grid_wb"), 1),  # grids overlap
        "gpu": nvidia_smi(work),
        "env": _json(work / "env.json"),
        "benchmarks": {"li2_step": _json(work / "li2_step.json"), "transformer_epoch": _json(work / "transformer_epoch.json")},
        "tests": (work / "tests.txt").read_text()[-4000:] if (work / "tests.txt").exists() else None,
        "gpu_use_during_grids": gpu_use(work),
        "work_folder": str(work),
    }
    files = ["run.log", "summary.json"]
    grids = (("grid", "muon-grokking", args.grid_command, args.expected_runs, "verdict.json", "store.sqlite.gz"),
             ("grid_wb", "muon-width-batch", args.wb_command, args.expected_wb_runs, "verdict_wb.json",
              "store_wb.sqlite.gz"))
    for key, name, command, expected, verdict_name, store_name in grids:
        entry = {"command": command, "workers": args.workers, "seconds": seconds.get(key),
                 "store": store_counts(work / f"{name}.sqlite", expected, seconds.get(key))}
        verdict = _json(work / name / "verdict.json")
        if verdict is not None:
            shutil.copy2(work / name / "verdict.json", out / verdict_name)
            files.append(verdict_name)
            entry["verdicts"] = [{"claim": v.get("claim"), "pass": v.get("pass"), "measured": v.get("measured")}
                                 for v in verdict.get("verdicts", [])]
        entry["store_copy"] = copy_store(work / f"{name}.sqlite", out, store_name)
        if entry["store_copy"]["copied"]:
            files.append(store_name)
        summary[key] = entry
    figures = [p for stem in ("muon-grokking/kaplan_meier", "muon-width-batch/width_batch_heatmap")
               for p in [work / f"{stem}.png"] if p.exists()]
    for fig in figures[:MAX_FILES - len(files)]:
        if fig.stat().st_size <= MAX_FILE:
            target = f"{fig.parent.name}-{fig.name}"
            shutil.copy2(fig, out / target)
            files.append(target)
    summary["files"] = files
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    trim_log(out / "run.log")
    extra = sorted(p.name for p in out.iterdir() if p.name not in files)
    if extra:
        print(f"warning: OUT holds files beyond the ones listed: {extra}", file=sys.stderr)
    print(f"summary: {out / 'summary.json'} ({'all stages passed' if summary['ok'] else 'a stage failed'}); "
          f"files: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
