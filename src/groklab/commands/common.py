"""Helpers shared by the CLI commands: JSON printing, config lookup, member tables."""

from __future__ import annotations

import json

import typer

from groklab.errors import GroklabError


def print_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def existing_store(path: str | None):
    """The store at `path` (default: store.path / GROKLAB_STORE); a one-line error when there is none."""
    from groklab.config import default_store_path
    from groklab.sweep.query import open_store

    return open_store(path or default_store_path())


def resolve_config_path(name: str):
    """A YAML path, or the name of a packaged preset (`li2_fig3`)."""
    from groklab.config import preset_path

    return preset_path(name)


SUMMARY_KEYS = ("seed", "memorization_epoch", "grok_epoch", "sustained_grok_epoch", "censored", "diverged",
                "final_train_acc", "final_test_acc", "final_train_loss", "final_test_loss", "stopped_epoch", "stop_reason",
                "wall_seconds")


def print_member_table(results: list[dict]) -> None:
    header = ["run", "seed", "lr", "wd", "memorized", "grokked", "sustained", "train_acc", "test_acc", "test_loss", "stopped",
              "status"]
    rows = []
    for r in results:
        status = "diverged" if r["diverged"] else ("censored" if r["censored"] else "grokked")
        fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        rows.append([r["run_id"][:8], str(r["seed"]), f"{r['lr']:g}", f"{r['weight_decay']:g}",
                     fmt(r["memorization_epoch"], "d"), fmt(r["grok_epoch"], "d"), fmt(r["sustained_grok_epoch"], "d"),
                     fmt(r["final_train_acc"], ".3f"), fmt(r["final_test_acc"], ".3f"), fmt(r["final_test_loss"], ".4g"),
                     fmt(r.get("stopped_epoch"), "d") + (f" ({r['stop_reason']})" if r.get("stop_reason") not in (None, "budget") else ""),
                     status])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    typer.echo("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        typer.echo("  ".join(c.rjust(w) for c, w in zip(row, widths)))
