"""The report page in a real browser: Debian's headless chromium renders it without console errors,
and its screenshot is a real, non-blank image.

Console capture: chromium's `--enable-logging=stderr` writes every page console message as a
`:CONSOLE` log line (console.error and uncaught exceptions alike). The report page writes to the
console only when something is wrong (its self-check reports images that failed to decode), so any
console line fails the test. A page with a deliberately broken image checks that this capture works.
Skipped, with the install command, when chromium is absent (`make test` installs it where it can).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from groklab.config import config_from_dict
from groklab.report.build import assemble
from groklab.report.html import FigureItem, Page, Section, write_page
from groklab.store import Store

CHROMIUM = os.environ.get("GROKLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not found: apt-get install chromium "
                                "(or set GROKLAB_CHROMIUM to a Chromium binary)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--window-size=1280,2000", "--hide-scrollbars"]


def render(page: Path, screenshot: Path, profile: Path) -> list[str]:
    """Screenshot `page` in headless chromium; return the page's console messages."""
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [line for line in proc.stderr.splitlines() if re.search(r":CONSOLE[:(]|Uncaught", line)]


def report_store(path: Path) -> Store:
    """A sweep of two groups of runs with curves and an Li2 series: a page with figures and tables."""
    store = Store(path)
    for i, (kind, grok) in enumerate([("adam", 60), ("adam", 70), ("adam", None), ("muon", 30), ("muon", 35), ("muon", 45)]):
        cfg = config_from_dict({}, [f"optim.kind={kind}", f"train.seeds=[{i}]", "train.epochs=100"]).model_dump(mode="json")
        run_id = f"{kind}{i:02d}"
        store.start_run(run_id, config=cfg, seed=i, config_hash=run_id, sweep_id="browser-sweep", ensemble_id=run_id)
        test_acc = [0.01 if grok is None else 1 / (1 + np.exp(-(e - grok) / 4)) for e in range(101)]
        metrics = [(e, 1 / (1 + e), min(1.0, e / 5), 1.0, test_acc[e], None) for e in range(101)]
        series = [(e, "li2.gf_norm", 5.0 * np.exp(-e / 30)) for e in range(0, 101, 10)]
        summary = dict(memorization_epoch=5, grok_epoch=grok, sustained_grok_epoch=grok, censored=grok is None,
                       diverged=False, epochs=100, final_train_acc=1.0, final_test_acc=1.0 if grok else 0.01)
        store.write_results(run_id, metrics, series, summary=summary, status="complete")
    return store


def test_console_capture_catches_a_broken_page(tmp_path):
    broken = FigureItem("broken", "a figure whose PNG is corrupt", tmp_path / "b.png", tmp_path / "b.svg", "bm90IGEgcG5n")
    page = write_page(Page("broken", "control", [Section("figures", [broken])]), tmp_path / "broken.html")
    messages = render(page, tmp_path / "broken.png", tmp_path / "profile")
    assert any("image failed to load" in m for m in messages), messages


def test_report_renders_without_console_errors(tmp_path):
    from PIL import Image

    report = assemble(report_store(tmp_path / "runs.sqlite"), "browser-sweep", tmp_path / "report")
    assert {"Grok epochs", "Li2 diagnostics", "Test accuracy by setting"} <= set(report.sections)
    shot = tmp_path / "page.png"
    messages = render(report.page, shot, tmp_path / "profile")
    assert messages == []
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as img:
        img.verify()
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=float)
    assert pixels.shape == (2000, 1280, 3)
    # not blank: the dark header band, text and figures make far more than one colour
    background = np.median(pixels.reshape(-1, 3), axis=0)
    differs = np.abs(pixels - background).sum(-1) > 30
    assert differs.mean() > 0.05 and pixels.std() > 20
    assert pixels[:40].mean() < 120  # the header band rendered (dark), i.e. the styles applied
