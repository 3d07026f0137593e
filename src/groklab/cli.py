"""The `groklab` command. One verb per action; each lives in `groklab.commands.<verb>`.

Every command that reports results accepts --json. Bad input (a GroklabError) prints one line on
stderr and exits with status 2; nothing is written. SIGINT and SIGTERM print one line saying where the
command stopped and exit with 130 and 143 (`groklab.interrupts`).
"""

from __future__ import annotations

import importlib
import sys

import typer

from groklab.commands import features, groups, li2, report, reproduce, runs, sweep, train
from groklab.errors import GroklabError
from groklab.interrupts import Interrupted, handle_signals
from groklab.interrupts import last as last_interrupt

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, measure and explain grokking on group arithmetic.")
for command_module in (groups, train, features, li2, reproduce, report, sweep, runs):
    command_module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from groklab import __version__

        typer.echo(f"groklab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print groklab's version and exit.")) -> None:
    """Train, measure and explain grokking on group arithmetic."""


def _usage_error_classes() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(ClickException classes, Abort classes) of every click the installed typer may raise: typer >= 0.22
    bundles its own copy (typer._click), older typers raise click's, and both may be installed."""
    exceptions, aborts = [], []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        exceptions.append(mod.ClickException)
        if hasattr(mod, "Abort"):  # typer's bundled copy has none: it raises typer.Abort
            aborts.append(mod.Abort)
    return tuple(exceptions), tuple(aborts) + (typer.Abort,)


def _usage_line(err) -> str:
    """A click usage error as one line: what is wrong, and which --help to read."""
    message = " ".join(str(err.format_message()).split()).rstrip(".")
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", None) or "groklab"
    return f"error: {message}; see `{path} --help`"


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors (a GroklabError or a usage error) become one line on stderr and exit status 2."""
    click_errors, aborts = _usage_error_classes()
    try:
        with handle_signals():
            status = app(args=argv, prog_name="groklab", standalone_mode=False)
            if status == 130:  # click turned the KeyboardInterrupt into its exit status; say what it was
                raise last_interrupt() or Interrupted()
    except GroklabError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt as err:
        err = err if isinstance(err, Interrupted) else Interrupted()
        typer.echo(str(err), err=True)
        sys.exit(err.status)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except aborts:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except click_errors as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # `groklab runs` alone: the help text is the answer
            err.show()
            sys.exit(0)
        typer.echo(_usage_line(err), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
