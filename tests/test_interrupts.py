"""SIGINT and SIGTERM end train, sweep, li2 boundary and reproduce with one line and exit 130 / 143, runs are
marked `interrupted` (never left `running`), and the same command resumes to the numbers of an
uninterrupted run."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from helpers import cli
from groklab.store import Store

# The signal is sent from inside the training loop at a chosen epoch: the same path as a Ctrl-C or a
# `kill` from outside, without timing races.
SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from groklab.train import loop
    at, sig = int(sys.argv[1]), getattr(signal, sys.argv[2])
    loop.release_free_heap = lambda epoch: epoch == at and os.kill(os.getpid(), sig)
    from groklab.cli import main
    main(sys.argv[3:])
""")
TINY = ["task.group=Z7", "model.width=16", "task.train_fraction=0.5", "train.dtype=float64", "train.progress=false",
        "train.checkpoint_dense_until=0", "train.checkpoint_every=10", "train.seeds=[3,4]"]


def signalled(tmp_path, at, sig, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1", GROKLAB_STORE=str(tmp_path / "s.sqlite"))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(at), sig, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr


def numbers(out):
    rows = [json.loads(line) for line in out.splitlines()]
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


def statuses(path):
    return sorted(Store(path).runs()["status"].tolist())


@pytest.mark.parametrize("sig, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_train_stops_at_the_epoch_says_so_and_resumes_bit_for_bit(capsys, tmp_path, sig, status):
    store = tmp_path / "runs.sqlite"
    args = ["train", "li2_fig3", *TINY, "train.epochs=40", f"store.path={store}", "--json"]
    code, err = signalled(tmp_path, 13, sig, *args)
    assert code == status and err == "interrupted at epoch 14; run the same command to resume\n", err
    assert statuses(store) == ["interrupted", "interrupted"]
    code, out, _ = cli(capsys, *args)
    assert code == 0 and statuses(store) == ["complete", "complete"]
    code, ref, _ = cli(capsys, *args[:-2], f"store.path={tmp_path / 'ref.sqlite'}", "--json")
    assert numbers(out) == numbers(ref)  # every summary number equal to the uninterrupted run's
    s = Store(store)
    assert len(s.metrics()) == 2 * 41  # each epoch exactly once


def test_a_second_signal_stops_at_once_and_still_marks_the_runs(tmp_path):
    script = SCRIPT.replace("epoch == at and os.kill(os.getpid(), sig)",
                            "epoch in (at, at + 1) and os.kill(os.getpid(), sig)")
    store = tmp_path / "runs.sqlite"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    # the first signal is deferred to the end of the epoch; a second inside the same epoch raises at once
    script = script.replace("loop.release_free_heap = ", "loop.release_free_heap = lambda epoch: [os.kill(os.getpid(), sig), os.kill(os.getpid(), sig)] if epoch == at else None\n_unused = ")
    done = subprocess.run([sys.executable, "-c", script, "5", "SIGINT", "train", "li2_fig3", *TINY, "train.epochs=40",
                           f"store.path={store}"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 130 and done.stderr.count("\n") == 1 and "run the same command to resume" in done.stderr
    assert statuses(store) == ["interrupted", "interrupted"]


def test_sweep_is_interrupted_in_one_line_and_resumes(capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: tiny
        base: {{from: li2_fig3, task.group: Z7, model.width: 16, task.train_fraction: 0.5, train.epochs: 30,
                train.progress: false, train.checkpoint_dense_until: 0, train.checkpoint_every: 10,
                store.path: {tmp_path / 'runs.sqlite'}}}
        axes: {{optim.weight_decay: [0.0, 1.0e-3]}}
        seeds: [0]
    """))
    code, err = signalled(tmp_path, 7, "SIGTERM", "sweep", spec, "--workers", "0")
    assert code == 143 and err.count("\n") == 1 and err.startswith("interrupted at epoch 8"), err
    assert "running" not in statuses(tmp_path / "runs.sqlite")
    code, _, _ = cli(capsys, "sweep", spec, "--workers", "0")
    assert code == 0 and statuses(tmp_path / "runs.sqlite") == ["complete", "complete"]


def test_li2_boundary_is_interrupted_in_one_line(tmp_path):
    code, err = signalled(tmp_path, 3, "SIGINT", "li2", "boundary", "Z7", "model.width=16", "train.epochs=30", "--resolution", "0.05", "--bracket", "0.1,0.9",
                          "--seeds", "2", "--store", tmp_path / "runs.sqlite")
    assert code == 130 and err.count("\n") == 1 and "interrupted at epoch 4; run the same command" in err, err
    assert set(statuses(tmp_path / "runs.sqlite")) == {"interrupted"}


def test_reproduce_is_interrupted_in_one_line(tmp_path):
    code, err = signalled(tmp_path, 2, "SIGTERM", "reproduce", "li2-fig3", "--quick", "--store", tmp_path / "r.sqlite",
                          "--out", tmp_path / "out")
    assert code == 143 and err.strip().splitlines()[-1].startswith("interrupted at epoch 3"), err
    assert "running" not in statuses(tmp_path / "r.sqlite")


def test_ctrl_c_to_a_sweep_with_worker_processes_stops_them_all_in_one_line(tmp_path):
    import signal
    import time

    store = tmp_path / "runs.sqlite"
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: long
        base: {{from: li2_fig3, task.group: Z7, model.width: 16, task.train_fraction: 0.5, train.epochs: 200000,
                train.progress: false, train.checkpoint_dense_until: 0, train.checkpoint_every: 500,
                train.snapshot_every: 100000, store.path: {store}}}
        axes: {{optim.weight_decay: [0.0, 1.0e-3]}}
        seeds: [0]
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    driver = subprocess.Popen([sys.executable, "-c", "from groklab.cli import main; main()", "sweep", str(spec),
                               "--workers", "2"], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob("runs/*/resume.pt")):
        time.sleep(0.5)  # until a worker has written its first resume state
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130 and err.count("\n") == 1, err
    assert err.startswith("interrupted with 0 of 2 runs done; run the same command to resume")
    assert statuses(store) == ["interrupted", "interrupted"]
