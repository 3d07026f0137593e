"""The package as published: the wheel holds the presets and installs a working `groklab` command; the sdist
carries what the README links to (docs, figures, examples); metadata names the license and the version."""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import groklab

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.name for p in (ROOT / "src" / "groklab" / "configs").glob("*.yaml"))
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                              "groklab-runs", "example-output", "quickstart-output", "out", ".whl")


def _setuptools_ok() -> bool:
    try:
        from importlib.metadata import version

        return int(version("setuptools").split(".")[0]) >= 77
    except Exception:
        return False


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel, sdist) built from a copy of the source tree, without build isolation (no network)."""
    if not _setuptools_ok():
        pytest.skip("building needs setuptools >= 77 (PEP 639 license metadata): pip install -U setuptools")
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "groklab"
    shutil.copytree(ROOT, source, ignore=SKIP)
    script = ("from setuptools import build_meta as b; import sys; "
              "out = sys.argv[1]; w = b.build_wheel(out); s = b.build_sdist(out); print('BUILT', w, s)")  # builds rewrite sys.argv
    done = subprocess.run([sys.executable, "-c", script, str(tmp / "dist")], cwd=source, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _, wheel, sdist = [line for line in done.stdout.splitlines() if line.startswith("BUILT ")][-1].split()
    return tmp / "dist" / wheel, tmp / "dist" / sdist


def test_wheel_holds_the_presets_metadata_and_console_script(built):
    wheel, _ = built
    assert wheel.name == f"groklab-{groklab.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"groklab-{groklab.__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert {f"groklab/configs/{p}" for p in PRESETS} <= names and len(PRESETS) >= 5
    assert "groklab/interop/tlens.py" in names and f"{info}/licenses/LICENSE" in names
    assert "[console_scripts]" in entry_points and "groklab = groklab.cli:main" in entry_points
    assert "License-Expression: MIT" in metadata and "Classifier: Intended Audience :: Science/Research" in metadata
    for extra in ("dev", "report", "export", "ray", "interp", "wandb"):
        assert f"Provides-Extra: {extra}" in metadata


def test_the_installed_command_runs(built, tmp_path):
    """Installed without its dependencies (they are this environment's), the wheel's `groklab` command starts."""
    wheel, _ = built
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    command = target / "bin" / "groklab"
    assert command.is_file()
    env = dict(os.environ, PYTHONPATH=str(target))
    version = subprocess.run([sys.executable, str(command), "--version"], capture_output=True, text=True, env=env,
                             timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"groklab {groklab.__version__}"
    presets = subprocess.run([sys.executable, "-c", "from groklab.config import preset_path; "
                              "print(preset_path('li2_fig3'))"], capture_output=True, text=True, env=env, timeout=120)
    assert presets.returncode == 0 and presets.stdout.strip().startswith(str(target))


def test_sdist_carries_docs_figures_examples_and_license(built):
    _, sdist = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for path in ("LICENSE", "README.md", "BENCHMARKS.md", "docs/architecture.md", "docs/transformerlens.md",
                 "docs/figures/li2-fig3.png", "examples/quickstart.ipynb", "examples/train_analyse_plot.py",
                 "src/groklab/configs/li2_fig3.yaml", "tests/test_packaging.py"):
        assert path in names, path
    assert not any("__pycache__" in name for name in names)


def test_version_option(capsys):
    from helpers import cli

    code, out, err = cli(capsys, "--version")
    assert code == 0 and out == f"groklab {groklab.__version__}\n" and err == ""


def test_each_preset_has_one_copy_in_the_repository():
    """The presets live in the package only; a second copy elsewhere would drift from the one that ships."""
    tracked = subprocess.run(["git", "ls-files", "*.yaml"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    copies = [p for p in tracked if Path(p).name in PRESETS and not p.startswith("src/groklab/configs/")]
    assert copies == [], f"presets copied outside src/groklab/configs: {copies}"
