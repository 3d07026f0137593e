"""The `groklab` command. One verb per action; each lives in `groklab.commands.<verb>`.

Every command that reports results accepts --json. Bad input (a GroklabError) prints one line on
stderr and exits with status 2; nothing is written.
"""

from __future__ import annotations

import sys

import typer

from groklab.commands import groups, li2, report, reproduce, runs, sweep, train
from groklab.errors import GroklabError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, measure and explain grokking on group arithmetic.")
for command_module in (groups, train, li2, reproduce, report, sweep, runs):
    command_module.register(app)


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
