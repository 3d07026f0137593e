"""Ctrl-C and SIGTERM: stop at a clean boundary, say so in one line, leave nothing marked `running`.

The CLI installs `handle_signals` for SIGINT and SIGTERM. Outside training a signal raises `Interrupted`
at once. Inside `deferring()` (the training loop's epochs) the first signal is only noted: the loop
finishes its epoch, writes its resume state and raises `Interrupted` itself, so a re-run resumes at exactly
that epoch; a second signal raises at once (resuming then starts from the last periodic checkpoint).

`Interrupted` is a KeyboardInterrupt, so no `except Exception` swallows it and code used without the CLI
(where SIGINT raises a plain KeyboardInterrupt) sees the same kind of exception. Click turns a
KeyboardInterrupt into a bare exit status, so the latest one raised is kept (`last`) for the CLI's line.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

RESUME_HINT = "run the same command to resume"


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal. `status` is the shell's 128 + signal number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT, where: str | None = None):
        super().__init__(signum, where)
        self.signum = int(signum)
        self.where = where
        _LAST[0] = self

    @property
    def status(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted{' ' + self.where if self.where else ''}; {RESUME_HINT}"

    @classmethod
    def of(cls, err: BaseException, where: str | None) -> "Interrupted":
        """`err` (an Interrupted or a plain KeyboardInterrupt) with `where` it happened, unless it already says."""
        signum = getattr(err, "signum", signal.SIGINT)
        return cls(signum, getattr(err, "where", None) or where)


STOPS = (KeyboardInterrupt,)  # Interrupted, or SIGINT's own exception outside the CLI

_DEFER = [0]
_LAST: list[Interrupted | None] = [None]
_PENDING: list[int | None] = [None]


def _handler(signum, frame) -> None:
    if _DEFER[0] and _PENDING[0] is None:
        _PENDING[0] = signum  # the loop stops at the end of this epoch
        return
    raise Interrupted(signum)


@contextmanager
def handle_signals():
    """SIGINT and SIGTERM raise `Interrupted` (or are deferred, see the module docstring) while inside."""
    try:
        old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    _PENDING[0] = _LAST[0] = None
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _PENDING[0] = None


@contextmanager
def deferring():
    """Inside, a first signal is only noted (see `pending`); the caller stops at its next boundary."""
    _DEFER[0] += 1
    try:
        yield
    finally:
        _DEFER[0] -= 1


def pending() -> int | None:
    """The signal noted while deferring, if any (it stays noted until the CLI command ends)."""
    return _PENDING[0]


def last() -> Interrupted | None:
    """The latest `Interrupted` raised inside `handle_signals` (click keeps only its exit status)."""
    return _LAST[0]


def raise_if_pending(where: str | None = None) -> None:
    if _PENDING[0] is not None:
        raise Interrupted(_PENDING[0], where)
