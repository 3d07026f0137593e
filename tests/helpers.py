"""Shared test helpers (imported as `from helpers import ...`; pytest puts tests/ on sys.path)."""

from groklab.cli import main


def cli(capsys, *args):
    """Run the CLI in-process as a user would: (exit status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err
