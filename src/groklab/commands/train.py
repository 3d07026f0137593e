"""`groklab train` and `groklab demo`."""

from __future__ import annotations

import json
from typing import Optional

import typer

from groklab.commands.common import SUMMARY_KEYS, print_member_table, resolve_config_path


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("demo")(demo_command)


def train_command(
    config: str = typer.Argument(..., help="YAML config or preset name (e.g. li2_fig3, or a path such as my_run.yaml)."),
    assignments: list[str] = typer.Argument(None, help="key=value overrides, e.g. optim.weight_decay=0 train.seeds=[0,1,2]"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per member."),
    force: bool = typer.Option(False, "--force", help="Retrain even if the store has these runs complete."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
):
    """Train an ensemble (one member per seed/lr/weight decay) and store its metrics and summary."""
    from groklab.config import load_config
    from groklab.train.loop import train

    cfg = load_config(resolve_config_path(config), assignments or [])
    # li2.every > 0: the Li2 hook runs and each member's stage onsets land in its result and stored summary
    results = train(cfg, progress=progress and cfg.train.progress and not as_json, force=force)
    if as_json:
        for r in results:
            typer.echo(json.dumps({k: r.get(k) for k in ("run_id", *SUMMARY_KEYS, "lr", "weight_decay", "stages", "skipped")}))
        return
    print_member_table(results)
    for r in results:
        if r.get("stages"):
            typer.echo(f"Li2 stages of {r['run_id']} (onset epochs): " + ", ".join(f"{k} {v}" for k, v in r["stages"].items()))
    typer.echo(f"store: {cfg.store.path}")


def demo_command(
    quick: bool = typer.Option(False, "--quick", help="Small version that finishes in about a minute on a laptop CPU."),
    store: Optional[str] = typer.Option(None, "--store", help="SQLite store to write (default: store.path)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per member."),
):
    """A tour: a few groups and their irreps, then the Li2 Fig. 3 reproduction (weight decay vs none)."""
    from groklab.reproduce.demo import run_demo

    results = run_demo(resolve_config_path("li2_fig3"), quick, store, typer.echo, progress=not as_json)
    if as_json:
        for r in results:
            typer.echo(json.dumps({k: r.get(k) for k in ("run_id", *SUMMARY_KEYS, "lr", "weight_decay")}))
        return
    print_member_table(results)
    grokked = [r for r in results if not r["censored"]]
    typer.echo("\nweight decay " + ", ".join(f"{r['weight_decay']:g}: " + ("grokked at epoch " + str(r["grok_epoch"]) if not r["censored"] else "did not grok (memorized only)") for r in results))
    typer.echo("This is Li2's claim: weight decay keeps the backpropagated gradient G_F alive, so features emerge." if grokked else "")
