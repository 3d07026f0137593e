"""A real Ray cluster for tests: `ray start --head` bound to 127.0.0.1, with token authentication, in a
temporary folder; on exit every process it started is killed by id and the folder removed.

Ray on Linux replaces 127.0.0.1 by the machine's network address unless its multi-node mode is off
(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); with it off, the cluster listens on loopback only, so all of
the tests' traffic stays on 127.0.0.0/8. The cluster's workers import the groklab under test, and
train in the cluster's own scratch folder (GROKLAB_SCRATCH), which drivers are not told about.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import groklab

SRC = str(Path(groklab.__file__).resolve().parents[1])
RAY_CLI = str(Path(sys.executable).with_name("ray"))


@dataclass
class Cluster:
    address: str
    root: Path  # RAY_TMPDIR: Ray's temp dir is root/ray, where `--address auto` finds the cluster
    token_path: Path
    scratch: Path  # the node's GROKLAB_SCRATCH
    proc: subprocess.Popen

    def driver_env(self, **extra: str) -> dict:
        """A driver's environment: the token's file, a HOME without ~/.ray, no scratch setting."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "GROKLAB_"))}
        env.update(RAY_AUTH_TOKEN_PATH=str(self.token_path), RAY_TMPDIR=str(self.root), HOME=str(self.root / "home"),
                   RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1", PYTHONPATH=SRC, **extra)
        return env

    def workers(self, title: str = "ray::run_on_node") -> list[int]:
        """Processes of this cluster running a groklab task."""
        return [pid for pid in descendants(self.proc.pid) if _cmdline(pid).startswith(title)]

    def kill(self) -> None:
        """Every process of the cluster, by id (workers run in sessions of their own)."""
        for _ in range(3):
            pids = [self.proc.pid] + descendants(self.proc.pid)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self.proc.poll() is None:
                self.proc.wait(10)
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)


@contextmanager
def ray_cluster(cpus: int = 2):
    # Short root: Ray's Unix socket paths under it must stay below 108 characters.
    root = Path(tempfile.mkdtemp(prefix="gl-ray-", dir="/tmp"))
    token = root / "auth_token"
    token.write_text(secrets.token_hex(32))
    (root / "home").mkdir()
    port, client_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "GROKLAB_"))}
    env.update(RAY_TMPDIR=str(root), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), HOME=str(root / "home"),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1",
               PYTHONPATH=SRC, GROKLAB_SCRATCH=str(root / "scratch"))
    log = open(root / "ray-start.log", "w")
    proc = subprocess.Popen([RAY_CLI, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             f"--num-cpus={cpus}", "--num-gpus=0", "--include-dashboard=false",
                             f"--ray-client-server-port={client_port}", f"--temp-dir={root / 'ray'}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cluster = Cluster(f"127.0.0.1:{port}", root, token, root / "scratch", proc)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (root / "ray-start.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start failed:\n{(root / 'ray-start.log').read_text()[-3000:]}")
            time.sleep(0.2)
        assert "Local node IP: 127.0.0.1" in (root / "ray-start.log").read_text()  # loopback only
        yield cluster
    finally:
        cluster.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
