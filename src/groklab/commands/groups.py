"""`groklab groups ...` and `groklab task ...`: groups, irreps, the GAP catalog, datasets."""

from __future__ import annotations

from typing import Optional

import typer

from groklab.commands.common import print_json

groups_app = typer.Typer(no_args_is_help=True, help="Finite groups, their irreps, and the GAP SmallGroups catalog.")
task_app = typer.Typer(no_args_is_help=True, help="Datasets over groups and binary operations.")


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")
    app.add_typer(task_app, name="task")


@groups_app.command("list")
def groups_list(as_json: bool = typer.Option(False, "--json", help="Print machine-readable output.")):
    """The group families groklab can build, with their naming patterns and limits."""
    from groklab.groups import list_families

    rows = [family._asdict() for family in list_families()]
    if as_json:
        print_json(rows)
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
        print_json(info)
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
    from groklab.outputs import check_output_file

    if out is not None:
        check_output_file(out, "catalog file (--out)", "catalog.jsonl")
    path = gap.build_catalog(max_order, nonabelian=nonabelian, max_irrep_degree=max_irrep_degree, out=out)
    records = gap.catalog_records(path=path)
    summary = {"path": str(path), "groups": len(records), "max_order": max_order}
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"wrote {summary['groups']} groups of order <= {max_order} to {path}")


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
        print_json(info)
        return
    for key, value in info.items():
        typer.echo(f"{key:>16}: {value}")
