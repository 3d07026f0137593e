"""The `groklab` command. One verb per action: groups, task, train, demo (more as layers land).

Every command that reports results accepts --json. Bad input (a GroklabError) prints one line on
stderr and exits with status 2; nothing is written.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from groklab.errors import GroklabError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, measure and explain grokking on group arithmetic.")
groups_app = typer.Typer(no_args_is_help=True, help="Finite groups, their irreps, and the GAP SmallGroups catalog.")
task_app = typer.Typer(no_args_is_help=True, help="Datasets over groups and binary operations.")
app.add_typer(groups_app, name="groups")
app.add_typer(task_app, name="task")


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


# -- groups ------------------------------------------------------------------------------------

@groups_app.command("list")
def groups_list(as_json: bool = typer.Option(False, "--json", help="Print machine-readable output.")):
    """The group families groklab can build, with their naming patterns and limits."""
    from groklab.groups import list_families

    rows = [family._asdict() for family in list_families()]
    if as_json:
        _print_json(rows)
        return
    width = max(len(r["pattern"]) for r in rows)
    for r in rows:
        typer.echo(f"{r['pattern']:<{width}}  e.g. {r['example']:<18} {r['description']}" + (f"  [{r['limits']}]" if r.get("limits") else ""))


@groups_app.command("info")
def groups_info(name: str, as_json: bool = typer.Option(False, "--json", help="Print machine-readable output.")):
    """Order, conjugacy classes and irreducible representations of a group (e.g. Z71, D12, S4)."""
    from groklab.groups import get_group
    from groklab.groups.summary import group_summary

    info = group_summary(get_group(name))
    if as_json:
        _print_json(info)
        return
    typer.echo(f"{info['name']}: order {info['order']}, {'abelian' if info['abelian'] else 'non-abelian'}, "
               f"{info['num_classes']} conjugacy classes")
    typer.echo(f"irrep degrees (ascending): {info['irrep_degrees']}")
    counts = {t: info["frobenius_schur"].count(t) for t in ("real", "complex", "quaternionic")}
    typer.echo("Frobenius-Schur types: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n))
    typer.echo(f"sum of squared degrees = {sum(d * d for d in info['irrep_degrees'])} = |G|")


@groups_app.command("catalog")
def groups_catalog(
    max_order: int = typer.Option(..., "--max-order", min=1, help="Largest group order to include."),
    nonabelian: bool = typer.Option(False, "--nonabelian", help="Only non-abelian groups."),
    max_irrep_degree: Optional[int] = typer.Option(None, "--max-irrep-degree", min=1, help="Keep groups whose largest irrep degree is at most d."),
    out: Optional[str] = typer.Option(None, "--out", help="JSONL file to write (default: the groklab cache)."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
):
    """Write a JSONL catalog of GAP SmallGroups in the Li2 reference format (needs GAP)."""
    from groklab.groups import gap

    path = gap.build_catalog(max_order, nonabelian=nonabelian, max_irrep_degree=max_irrep_degree, out=out)
    records = gap.catalog_records(path=path)
    summary = {"path": str(path), "groups": len(records), "max_order": max_order}
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"wrote {summary['groups']} groups of order <= {max_order} to {path}")


# -- tasks -------------------------------------------------------------------------------------

def _task_overrides(assignments: list[str]) -> list[str]:
    """`group=Z71` is shorthand for `task.group=Z71` in task commands."""
    return [a if "." in a.split("=", 1)[0] else f"task.{a}" for a in assignments]


@task_app.command("info")
def task_info(
    assignments: list[str] = typer.Argument(None, help="key=value settings, e.g. group=Z71 train_fraction=0.4"),
    seed: int = typer.Option(0, "--seed", help="Seed of the split."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable output."),
):
    """Size of a dataset and of its train/test split."""
    from groklab.config import load_config
    from groklab.tasks.build import build_task, describe_task

    cfg = load_config(None, _task_overrides(assignments or []))
    info = describe_task(cfg.task, build_task(cfg.task), seed=seed)
    if as_json:
        _print_json(info)
        return
    for key, value in info.items():
        typer.echo(f"{key:>16}: {value}")


# -- training ----------------------------------------------------------------------------------

def resolve_config_path(name: str):
    """A YAML path, or the name of a packaged preset (`li2_fig3`)."""
    from importlib import resources
    from pathlib import Path

    if Path(name).is_file():
        return Path(name)
    stem = Path(name).stem
    preset = resources.files("groklab") / "configs" / f"{stem}.yaml"
    if preset.is_file():
        return Path(str(preset))
    presets = sorted(p.name.removesuffix(".yaml") for p in (resources.files("groklab") / "configs").iterdir())
    raise GroklabError(f"config {name!r} not found: give a YAML path or a preset ({', '.join(presets)})")


SUMMARY_KEYS = ("seed", "memorization_epoch", "grok_epoch", "sustained_grok_epoch", "censored", "diverged",
                "final_train_acc", "final_test_acc", "final_train_loss", "final_test_loss", "wall_seconds")


def print_member_table(results: list[dict]) -> None:
    header = ["run", "seed", "lr", "wd", "memorized", "grokked", "sustained", "train_acc", "test_acc", "test_loss", "status"]
    rows = []
    for r in results:
        status = "diverged" if r["diverged"] else ("censored" if r["censored"] else "grokked")
        fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        rows.append([r["run_id"][:8], str(r["seed"]), f"{r['lr']:g}", f"{r['weight_decay']:g}",
                     fmt(r["memorization_epoch"], "d"), fmt(r["grok_epoch"], "d"), fmt(r["sustained_grok_epoch"], "d"),
                     fmt(r["final_train_acc"], ".3f"), fmt(r["final_test_acc"], ".3f"), fmt(r["final_test_loss"], ".4g"), status])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    typer.echo("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        typer.echo("  ".join(c.rjust(w) for c, w in zip(row, widths)))


@app.command("train")
def train_command(
    config: str = typer.Argument(..., help="YAML config or preset name (e.g. configs/li2_fig3.yaml)."),
    assignments: list[str] = typer.Argument(None, help="key=value overrides, e.g. optim.weight_decay=0 train.seeds=[0,1,2]"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per member."),
    force: bool = typer.Option(False, "--force", help="Retrain even if the store has these runs complete."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
):
    """Train an ensemble (one member per seed/lr/weight decay) and store its metrics and summary."""
    from groklab.config import load_config
    from groklab.train.loop import train

    cfg = load_config(resolve_config_path(config), assignments or [])
    results = train(cfg, progress=progress and cfg.train.progress and not as_json, force=force)
    if as_json:
        for r in results:
            typer.echo(json.dumps({k: r.get(k) for k in ("run_id", *SUMMARY_KEYS, "lr", "weight_decay", "skipped")}))
        return
    print_member_table(results)
    typer.echo(f"store: {cfg.store.path}")


@app.command("demo")
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 2."""
    try:
        app(args=argv, prog_name="groklab", standalone_mode=False)
    except GroklabError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as err:  # click usage errors in non-standalone mode
        import click

        if isinstance(err, click.exceptions.ClickException):
            err.show()
            sys.exit(err.exit_code)
        if isinstance(err, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
