"""Progress of a training run where the user looks: a bar on a terminal or in Jupyter, log lines elsewhere.

- **Terminal** (stderr is a tty): a tqdm bar with the ETA, cleared when the run ends.
- **Jupyter** (an IPython kernel): the notebook's widget bar (``tqdm.auto``; a text bar when ipywidgets is
  missing), kept when the run ends so the cell shows what ran.
- **Anything else** (a log file, a pipe, a batch job, a test capturing stderr): one line about every
  `LOG_EVERY_S` seconds — epoch, elapsed time, ETA and the last accuracies — and nothing for runs shorter
  than that, so quick runs stay quiet.

All of it goes to stderr, never to stdout, which carries results (`--json`).
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

LOG_EVERY_S = 30.0


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is not a terminal, yet a bar can be drawn)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def duration(seconds: float) -> str:
    """12 s, 3 min 20 s, 1 h 05 min."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class LogLines:
    """tqdm's `update` / `set_postfix` / `close`, written as a plain line every `every` seconds."""

    def __init__(self, desc: str, total: int, initial: int = 0, stream: TextIO | None = None,
                 every: float | None = None, clock: Callable[[], float] = time.monotonic, unit: str = "epoch"):
        self.desc, self.total, self.n, self.start_n, self.unit = desc, total, initial, initial, unit
        self.stream, self.every, self.clock = stream, LOG_EVERY_S if every is None else every, clock
        self.started = self.last = clock()
        self.postfix: dict = {}

    def set_postfix(self, **values) -> None:
        self.postfix = values

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            print(self.line(now), file=self.stream or sys.stderr, flush=True)

    def line(self, now: float) -> str:
        elapsed, done = now - self.started, self.n - self.start_n
        eta = f", about {duration(elapsed / done * (self.total - self.n))} left" if done > 0 and self.n < self.total else ""
        extra = " ".join(f"{k}={v}" for k, v in self.postfix.items())
        count = f"epoch {self.n}/{self.total}" if self.unit == "epoch" else f"{self.n:.1f}/{self.total} {self.unit}"
        return (f"{self.desc}: {count} ({100 * self.n / self.total:.0f}%), "
                f"{duration(elapsed)} elapsed{eta}" + (f"; {extra}" if extra else ""))

    def close(self) -> None:
        pass


def progress_bar(desc: str, total: int, initial: int = 0, unit: str = "ep"):
    """The progress display for where stderr goes (see the module docstring)."""
    from tqdm import tqdm

    if in_notebook():
        from importlib.util import find_spec

        if find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm as notebook_tqdm

            return notebook_tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=True)
        # tqdm's widget needs ipywidgets: a text bar in the cell's stderr (tqdm.auto would add a warning)
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, leave=True, mininterval=1.0)
    if sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                    leave=False)
    return LogLines(desc, total, initial)
