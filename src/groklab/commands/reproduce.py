"""`groklab reproduce NAME [--quick] [--json]`: one command per paper claim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from groklab.config import STORE_HELP, default_store_path


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce_command)


def reproduce_command(
    name: Optional[str] = typer.Argument(None, help="Reproduction to run; omit (or --list) to list them."),
    quick: bool = typer.Option(False, "--quick", help="Reduced sizes that finish in minutes on a CPU (as CI runs them)."),
    medium: bool = typer.Option(False, "--medium", help="muon-grokking: the full design's runs on add and mul only, 3 seeds (about 50 min on 2 CPU cores)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="muon-grokking: comma-separated tasks (gcd, add, div, exp, mul, parity)."),
    stored_only: bool = typer.Option(False, "--stored-only", help="muon-grokking, muon-width-batch: analyse the complete runs in the store, train nothing."),
    workers: Optional[int] = typer.Option(None, "--workers", help="muon-grokking, muon-width-batch: processes training ensembles at once (0: this process; default: one per core, on CUDA 12 sharing the GPU, at most the cores less 2)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, help="Seeds per cell (default: the reproduction's own)."),
    groups: Optional[str] = typer.Option(None, "--groups", help="Comma-separated groups (li2-scaling: a subset of its list, or others)."),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for figures and verdict.json."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    list_only: bool = typer.Option(False, "--list", help="List the reproductions and their claims."),
):
    """Reproduce a paper claim: writes PNG figures and verdict.json {claim, setting, measured, expected, pass}."""
    from groklab import reproduce as registry

    if list_only or name is None:
        for key in registry.names():
            typer.echo(f"{key:<22} {registry.load(key).CLAIM}")
        return
    store_path = store or default_store_path()
    mode = "-quick" if quick else "-medium" if medium else ""
    folder = Path(out) if out else Path(store_path).parent / "reproduce" / (name + mode)
    report = registry.reproduce(name, quick=quick, out=folder, store_path=store_path, seeds=seeds,
                                progress=None, echo=(lambda s: None) if as_json else typer.echo,
                                groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None,
                                medium=medium, workers=workers, stored_only=stored_only,
                                tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks is not None else None)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo(f"\n{report['claim']}")
    for v in report["verdicts"]:
        typer.echo(verdict_text(v))
    typer.echo(f"figures and verdict.json in {folder}")


ONE_LINE = 160  # a verdict whose measured value prints longer than this is laid out one entry per line


def verdict_text(v: dict) -> str:
    """One line per verdict when it reads on one line; otherwise the measured dict as an indented tree
    (a map of 33 cells on one line is a wall of text)."""
    head = f"  [{'PASS' if v['pass'] else 'FAIL'}] {v['claim']}"
    if not isinstance(v["measured"], dict) or len(str(v["measured"])) <= ONE_LINE:
        return f"{head}: measured {v['measured']}, expected {v['expected']}  ({v['setting']})"
    return "\n".join([f"{head}", f"      expected: {v['expected']}", f"      setting: {v['setting']}",
                      "      measured:", *_tree(v["measured"], "        ")])


def _tree(value: dict, indent: str) -> list[str]:
    lines = []
    for key, item in value.items():
        if isinstance(item, dict) and len(str(item)) > ONE_LINE:
            lines += [f"{indent}{key}:", *_tree(item, indent + "  ")]
        else:
            shown = ", ".join(f"{k}: {x}" for k, x in item.items()) if isinstance(item, dict) else item
            lines.append(f"{indent}{key}: {shown}")
    return lines
