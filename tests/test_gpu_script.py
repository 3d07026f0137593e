"""benchmarks/gpu/run.sh, the one-call GPU run of the Muon-grokking study, tested here with --tiny (every
stage tiny, on the CPU): it installs groklab into its work folder, runs the CUDA tests (skipped here), both
benchmarks and a 1-task 1-seed quick grid, and leaves at most 8 files at the top of OUT (what a device call
brings back). About 1.5 minutes on a busy 2-core machine."""

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu" / "run.sh"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_wheels_txt_names_every_runtime_dependency():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {_norm(re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0]) for d in deps} - {"torch"}
    listed = {}
    for line in (REPO / "benchmarks" / "gpu" / "wheels.txt").read_text().splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            name, version = line[0].split("==")
            listed[_norm(name)] = (version, line[1])
    assert wanted <= set(listed), sorted(wanted - set(listed))
    assert all(where in ("carry", "image") for _, where in listed.values())
    assert "torch" not in listed


def test_usage_without_arguments():
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 2 and "--tiny" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("timeout")), reason="needs bash and coreutils timeout")
def test_tiny_run_passes_and_leaves_what_comes_back(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**__import__("os").environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(SCRIPT), str(out), "--tiny", "--work", str(work)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and summary["mode"] == "tiny"
    assert [s["stage"] for s in summary["stages"]][:4] == ["install", "tests", "li2_step", "transformer_epoch"]
    assert sorted(s["stage"] for s in summary["stages"][4:]) == ["grid", "grid_wb"]  # side by side
    assert summary["env"]["groklab"]["file"].startswith(str(work / "site"))  # the installed copy ran
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and all(p.is_file() for p in out.iterdir()) and sorted(summary["files"]) == files
    assert {"run.log", "summary.json", "verdict.json", "verdict_wb.json", "store.sqlite.gz",
            "store_wb.sqlite.gz"} <= set(files)
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["mode"] == "quick" and len(verdict["runs"]) == 6
    assert summary["grid"]["store"]["runs_by_status"] == {"complete": 6}
    wb = json.loads((out / "verdict_wb.json").read_text())
    assert wb["name"] == "muon-width-batch" and len(wb["runs"]) == 32
    assert summary["grid_wb"]["store"]["runs_by_status"] == {"complete": 32}
    assert summary["benchmarks"]["transformer_epoch"]["runs"][0]["members"] == 1
    assert summary["benchmarks"]["li2_step"]["per_member"]["Z7_K32"]["S=1"] > 0
    con = sqlite3.connect(work / "muon-grokking.sqlite")
    assert con.execute("SELECT count(*) FROM runs WHERE status = 'complete'").fetchone()[0] == 6
