"""`groklab sweep SPEC.yaml`: a grid of runs, packed into ensembles, on local processes or Ray."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Optional

import typer

from groklab.commands.common import print_json


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_command)


def sweep_command(
    spec: str = typer.Argument(..., help="Sweep spec YAML (base, axes, zip, seeds) or a packaged spec name, e.g. sweep_li2_wd."),
    executor: str = typer.Option("local", "--executor", help="local (worker processes) or ray."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (local; 0 = in this process), "
                                          "CPUs of a private Ray, or at most this many ensembles at once on a "
                                          "cluster. Default: one per core (on a cluster: as many as it has room for)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join ('auto' or host:port; its "
                                          "token is read from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
                                          "~/.ray/auth_token); default: start a local Ray."),
    gpus_per_task: Optional[float] = typer.Option(None, "--gpus-per-task", help="Ray: each ensemble's share of a "
                                                  "GPU, e.g. 0.25 (default: 1 when this machine has CUDA, else 0)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (runs, ensembles, memory, runs already "
                                 "complete) and write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan or the sweep report as JSON."),
    estimate: bool = typer.Option(True, "--estimate/--no-estimate", help="With --dry-run: time a few ensembles "
                                  "for a few epochs (seconds) and print the sweep's estimated time."),
    retries: Optional[int] = typer.Option(None, "--retries", help="Retries of a failing ensemble (default: the "
                                          "spec's, else 1)."),
    memory_budget: Optional[str] = typer.Option(None, "--memory-budget", help="Bytes per ensemble, e.g. 256MiB "
                                                "(default: per device; see the plan)."),
    max_members: Optional[int] = typer.Option(None, "--max-members", help="At most this many runs per ensemble."),
    store: Optional[str] = typer.Option(None, "--store", help="SQLite store (default: the base config's store.path)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (on a terminal)."),
):
    """Run every run of a sweep spec that the store does not have complete; record failures and go on.

    Exit status 1 when some runs failed (after retries), 2 on bad input (nothing written).
    """
    from pathlib import Path

    from groklab.commands.common import resolve_config_path
    from groklab.errors import GroklabError
    from groklab.sweep import load_spec, parse_bytes, plan_sweep, run_sweep
    from groklab.sweep.driver import check_executor, check_gpus

    check_executor(executor)
    check_gpus(executor, gpus_per_task)
    if max_members is not None and max_members < 1:
        raise GroklabError(f"--max-members must be >= 1, got {max_members}")
    if retries is not None and retries < 0:
        raise GroklabError(f"--retries must be >= 0 (0: no retry), got {retries}")
    if workers is not None and workers < 0:
        raise GroklabError(f"--workers must be >= 0 (0 trains in this process), got {workers}")
    path = Path(spec) if Path(spec).is_file() else resolve_config_path(spec)
    sweep_spec = load_spec(path)
    budget = parse_bytes(memory_budget) if memory_budget is not None else None
    if dry_run:
        plan = plan_sweep(sweep_spec, workers=workers, memory_budget=budget, max_members=max_members, store_path=store)
        guess = None
        if estimate and executor == "local":
            from groklab.sweep.estimate import estimate_plan

            guess = estimate_plan(plan)
        if as_json:
            print_json(dict(plan.to_dict(), executor=executor, estimate=guess.to_dict() if guess else None))
        else:
            typer.echo(plan.describe() + (f"\n{guess.describe()}" if guess else ""))
        return
    # While it runs, anything printed (Ray prints cluster events such as a lost worker on stdout) goes to
    # stderr: stdout holds the report alone, so that `--json` output can be piped.
    with contextlib.redirect_stdout(sys.stderr):
        report = run_sweep(sweep_spec, executor=executor, workers=workers, address=address, retries=retries,
                           memory_budget=budget, max_members=max_members, store_path=store,
                           progress=None if progress else False, gpus_per_task=gpus_per_task)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        raise typer.Exit(1 if report.failed else 0)
    if report.failures:
        for failure in report.failures:
            typer.echo(f"failed {failure['run_id'][:8]} (ensemble {failure['ensemble']}, {failure['attempts']} attempts): "
                       f"{failure['error']}")
    typer.echo(report.summary_line())
    if report.failed:
        raise typer.Exit(1)
