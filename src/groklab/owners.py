"""Which process recorded a run as running, and whether that process still exists.

A run is `running` from `Store.start_run` until its results or its failure are written. If the
process that recorded it is killed, the row stays `running` forever; `groklab runs list` marks such
rows stale and `groklab runs clean` removes them. The owner is (host, pid, process start time): the
start time tells a recycled pid from the original process on Linux. A row recorded on another host
is never called stale (its process cannot be seen from here); a row without an owner (written by a
groklab that did not record owners) is.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


@lru_cache(maxsize=1)
def _me() -> tuple[str, int, str]:
    pid = os.getpid()
    return socket.gethostname(), pid, _start_time(pid) or ""


def current_owner() -> tuple[str, int, str]:
    """(host, pid, start time) of this process."""
    host, pid, started = _me()
    if pid != os.getpid():  # forked since the cache was filled
        _me.cache_clear()
        host, pid, started = _me()
    return host, pid, started


def owner_alive(host: str | None, pid: int | None, started: str | None) -> bool:
    """True while the recording process may still run (always for another host); False once it is gone."""
    if host is None or pid is None:
        return False
    if host != socket.gethostname():
        return True
    if os.path.isdir("/proc"):
        now = _start_time(int(pid))
        return now is not None and (not started or now == started)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
