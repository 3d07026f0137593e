"""Running GAP: find the executable, run a script with groklab's prelude, turn failures into errors.

GAP is run as `gap -q --quitonbreak <script>` with print formatting switched off on stdout, so
that no line is wrapped; every record is one line prefixed with a marker, and a GAP error ends the
process with a non-zero status that we turn into a one-line `GroklabError`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading

from groklab.errors import GroklabError

GAP_INSTALL_HINT = (
    "GAP is not installed: run 'sudo apt-get install gap-core gap-libs gap-smallgrp' "
    "(or `make test` as root installs it)"
)
GAP_ENV = "GROKLAB_GAP"  # optional path to the gap executable
GAP_TIMEOUT_SECONDS = 600.0  # for one GAP process

# Every line the prelude prints for us starts with one of these, so GAP's own output cannot be mistaken for data.
RECORD_PREFIX = "GROKLAB_REC "
SKIP_PREFIX = "GROKLAB_SKIP "
INFO_PREFIX = "GROKLAB_INFO "


def gap_executable() -> str | None:
    """Path of the `gap` executable ($GROKLAB_GAP, else `gap` on PATH), or None."""
    env = os.environ.get(GAP_ENV)
    if env:
        return env if (os.path.isfile(env) and os.access(env, os.X_OK)) else None
    return shutil.which("gap")


def gap_available() -> bool:
    return gap_executable() is not None


def require_gap() -> str:
    """The gap executable, or a GroklabError with the install hint."""
    exe = gap_executable()
    if exe is None:
        raise GroklabError(GAP_INSTALL_HINT)
    return exe


_PRELUDE = r"""
SetPrintFormattingStatus("*stdout*", false);
if LoadPackage("smallgrp") = fail then
  Error("GAP's SmallGroups library (package smallgrp) is missing: install gap-smallgrp");
fi;
GroklabRecord := function(o, i, nonab, maxdeg, wantstruct)
  local G, ab, cd, degs, t;
  G := SmallGroup(o, i);
  ab := IsAbelian(G);
  if nonab and ab then Print("GROKLAB_SKIP ", o, " ", i, "\n"); return; fi;
  cd := CharacterDegrees(G);
  degs := Concatenation(List(cd, p -> ListWithIdenticalEntries(p[2], p[1])));
  if maxdeg > 0 and Maximum(degs) > maxdeg then
    Print("GROKLAB_SKIP ", o, " ", i, "\n"); return;
  fi;
  t := MultiplicationTable(G);
  Print("GROKLAB_REC {\"order\": ", o, ", \"id\": ", i, ", \"abelian\": ", ab,
        ", \"irrep_degrees\": ", degs);
  if wantstruct then Print(", \"structure\": \"", StructureDescription(G), "\""); fi;
  Print(", \"table\": ", t, "}\n");
end;
"""


def run_gap(
    script: str, timeout: float | None = GAP_TIMEOUT_SECONDS, on_line=None, registry: set | None = None
) -> list[str]:
    """Run a GAP script (with the groklab prelude) and return its stdout lines.

    `on_line(line)` is called for each stdout line as it arrives (used for progress bars). A GAP
    error, a missing GAP or a timeout becomes a one-line GroklabError. The running process is put
    in `registry` (if given) so that a caller can kill it (`kill_all`) on interrupt.
    """
    exe = require_gap()
    with tempfile.NamedTemporaryFile("w", suffix=".g", prefix="groklab_", delete=False) as fh:
        fh.write(_PRELUDE + script + "\nQUIT;\n")
        script_path = fh.name
    lines: list[str] = []
    timed_out = threading.Event()
    try:
        proc = subprocess.Popen(
            [exe, "-q", "--quitonbreak", script_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group, so a timeout kills GAP and any children
        )
    except OSError as exc:
        os.unlink(script_path)
        raise GroklabError(f"cannot run GAP ({exe}): {exc}") from None

    def _kill_group():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()

    def _kill():
        timed_out.set()
        _kill_group()

    if registry is not None:
        registry.add(proc)
    timer = threading.Timer(timeout, _kill) if timeout else None
    stderr_chunks: list[str] = []
    err_thread = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    err_thread.start()
    try:
        if timer:
            timer.start()
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if on_line is not None:
                on_line(line)
        rc = proc.wait()
        err_thread.join()
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:
            _kill_group()
            proc.wait()
        if registry is not None:
            registry.discard(proc)
        os.unlink(script_path)
    if timed_out.is_set():
        raise GroklabError(f"GAP timed out after {timeout:g} s (raise the timeout or lower the order)")
    stderr = "".join(stderr_chunks)
    error = _gap_error_message(lines, stderr)
    if rc != 0 or error:
        raise GroklabError(f"GAP failed: {error or f'exit status {rc}'}")
    return lines


def kill_all(procs: set) -> None:
    """Kill the process groups of the GAP processes still running in `procs`."""
    for proc in list(procs):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass


def _gap_error_message(stdout_lines: list[str], stderr: str) -> str | None:
    for line in list(stdout_lines) + stderr.splitlines():
        if line.startswith("Error, "):
            msg = line[len("Error, ") :]
            msg = re.sub(r" at /\S+:\d+.*$", "", msg)  # drop GAP's source location ...
            return re.sub(r"\s*called from\s*$", "", msg).strip()  # ... and its traceback lead-in
    return None
