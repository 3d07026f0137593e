"""One reproduction per paper claim: `groklab reproduce NAME [--quick]`.

Each reproduction is a module with `CLAIM` (one line), `run(ctx) -> list[Verdict]`, and nothing else
of substance: it composes library parts (tasks, train, li2, report plots) like a torchtune recipe and
holds no library logic of its own. Register a new one by adding its module to `MODULES`.

Each reproduction's settings, checks and claim label (RC1–RC14 for the Li2 paper's claims) are
described in docs/reproductions.md.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from groklab.errors import GroklabError, closest

MODULES = {
    # name -> module under groklab.reproduce (added as reproductions land)
    "muon-grokking": "muon_grokking",
    "muon-width-batch": "muon_width_batch",
    "li2-reconstruction": "li2_reconstruction",
    "li2-energy": "li2_energy",
    "li2-scaling": "li2_scaling",
    "li2-zero-init": "li2_zero_init",
    "li2-depth": "li2_depth",
    "li2-ridge": "li2_ridge",
    "li2-complex": "li2_complex",
    "li2-lr": "li2_lr",
    "li2-muon": "li2_muon",
    "li2-fig3": "li2_fig3",
    "muon-features": "muon_features",
}


@dataclass
class Verdict:
    """One checked claim: what was measured against what the paper expects."""

    claim: str
    setting: str
    measured: Any
    expected: Any
    passed: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pass"] = bool(d.pop("passed"))
        return d


@dataclass
class Context:
    """What a reproduction may use: mode, output folder, store path, seeds, a printer."""

    name: str
    quick: bool
    out: Path
    store_path: str
    seeds: int | None = None
    progress: bool | None = True  # None: a bar on a terminal, periodic lines on stderr elsewhere
    echo: Callable[[str], None] = print
    figures: list[Path] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # extra report fields a reproduction attaches (runs, tests, ...)
    groups: list[str] | None = None  # --groups: a subset of the groups a reproduction over groups runs
    medium: bool = False  # --medium: the grid between quick and full (reproductions with MODES only)
    tasks: list[str] | None = None  # --tasks: a subset of a reproduction's tasks (TAKES_TASKS)
    workers: int | None = None  # --workers: processes training at once (reproductions that run sweeps)
    stored_only: bool = False  # --stored-only: analyse what the store holds, train nothing

    def figure_path(self, stem: str) -> Path:
        path = self.out / f"{stem}.png"
        self.figures.append(path)
        return path


def names() -> list[str]:
    return sorted(MODULES)


def load(name: str):
    if name not in MODULES:
        hint = closest(name, MODULES)
        raise GroklabError(f"unknown reproduction {name!r}" + (f"; did you mean {hint!r}?" if hint else "")
                           + f" (available: {', '.join(names()) or 'none yet'})")
    return importlib.import_module(f"groklab.reproduce.{MODULES[name]}")


def reproduce(name: str, *, quick: bool, out: Path, store_path: str, seeds: int | None = None,
              progress: bool = True, echo: Callable[[str], None] = print, groups: list[str] | None = None,
              medium: bool = False, tasks: list[str] | None = None, workers: int | None = None,
              stored_only: bool = False) -> dict:
    """Run one reproduction; write its figures and `verdict.json` under `out`; return the verdict."""
    module = load(name)
    _check_options(name, module, quick=quick, medium=medium, tasks=tasks, workers=workers, stored_only=stored_only)
    if hasattr(module, "check_options"):  # the reproduction's own checks (e.g. task names), before any work
        module.check_options(quick=quick, medium=medium, seeds=seeds, tasks=tasks)
    if hasattr(module, "check_store") and Path(store_path).exists():  # e.g. runs of another design: refused unwritten
        module.check_store(store_path, quick=quick, medium=medium, seeds=seeds, tasks=tasks)
    if groups is not None:
        takes = [n for n in names() if getattr(load(n), "TAKES_GROUPS", False)]
        if not getattr(module, "TAKES_GROUPS", False):
            raise GroklabError(f"--groups applies to {', '.join(takes)} only, not {name}")
        from groklab.groups import get_group

        groups = [get_group(g).name for g in groups]  # unknown names fail here, before any work
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(name, quick, out, store_path, seeds, progress, echo, groups=groups, medium=medium, tasks=tasks,
                  workers=workers, stored_only=stored_only)
    verdicts = module.run(ctx)
    report = {
        "name": name,
        "claim": module.CLAIM,
        "mode": "quick" if quick else "medium" if medium else "full",
        "verdicts": [v.to_dict() for v in verdicts],
        "pass": all(v.passed for v in verdicts),
        "figures": [str(p) for p in ctx.figures],
    }
    report.update({k: v for k, v in ctx.extra.items() if k not in report})
    (out / "verdict.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def _check_options(name: str, module, *, quick: bool, medium: bool, tasks, workers, stored_only=False) -> None:
    """Options only some reproductions take: refused, naming those that do, before any work."""
    def takers(attribute: str) -> str:
        return ", ".join(n for n in names() if getattr(load(n), attribute, False))

    if quick and medium:
        raise GroklabError("--quick and --medium are two different grids; give one of them")
    if medium and "medium" not in getattr(module, "MODES", ()):
        raise GroklabError(f"--medium applies to {takers('MODES')} only, not {name}")
    if tasks is not None and not getattr(module, "TAKES_TASKS", False):
        raise GroklabError(f"--tasks applies to {takers('TAKES_TASKS')} only, not {name}")
    if tasks is not None and not tasks:
        raise GroklabError("--tasks is empty; give comma-separated task names")
    if workers is not None and not getattr(module, "TAKES_WORKERS", False):
        raise GroklabError(f"--workers applies to {takers('TAKES_WORKERS')} only, not {name}")
    if stored_only and not getattr(module, "TAKES_STORED_ONLY", False):
        raise GroklabError(f"--stored-only applies to {takers('TAKES_STORED_ONLY')} only, not {name}")
    if workers is not None and workers < 0:
        raise GroklabError(f"--workers must be >= 0 (0 trains in this process), got {workers}")
