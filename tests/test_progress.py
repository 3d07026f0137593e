"""Training progress: a log line about every 30 s off a terminal, the notebook bar in Jupyter, quiet short runs."""

import io
import sys
import types

from groklab.config import load_config
from groklab.train import progress
from groklab.train.loop import train

TINY = ["task.group=Z5", "model.width=8", "train.epochs=12", "train.checkpoint_dense_until=0"]


def test_log_lines_come_every_interval_with_epoch_elapsed_and_eta():
    now = [0.0]
    stream = io.StringIO()
    lines = progress.LogLines("li2-fig3", total=101, stream=stream, every=30, clock=lambda: now[0])
    for epoch in range(101):
        now[0] += 0.5  # 2 epochs a second
        lines.set_postfix(train="0.990", test="0.412")
        lines.update(1)
    written = stream.getvalue().splitlines()
    assert len(written) == 1  # 50 s in all: one line, at 30 s
    assert written[0] == "li2-fig3: epoch 60/101 (59%), 30 s elapsed, about 20 s left; train=0.990 test=0.412"
    assert progress.duration(200) == "3 min 20 s" and progress.duration(3900) == "1 h 05 min"


def test_training_off_a_terminal_logs_lines_and_keeps_stdout_clean(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    cfg = load_config(None, [*TINY, f"store.path={tmp_path / 'runs.sqlite'}"])
    train(cfg, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "run: epoch 13/13 (100%)" in err and "about" in err and "test=" in err

    monkeypatch.setattr(progress, "LOG_EVERY_S", 30.0)  # a run shorter than the interval says nothing
    train(cfg, progress=True, force=True)
    assert capsys.readouterr().err == ""


def test_jupyter_gets_the_notebook_bar_and_a_text_bar_without_ipywidgets(monkeypatch):
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert progress.in_notebook()
    bar = progress.progress_bar("run", 10)
    from importlib.util import find_spec

    if find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as expected
    else:
        from tqdm.std import tqdm as expected
    assert isinstance(bar, expected) and not bar.disable and bar.leave
    bar.close()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not progress.in_notebook() and isinstance(progress.progress_bar("run", 10), progress.LogLines)


def test_a_sweep_off_a_terminal_prints_progress_lines_with_the_runs_done(tmp_path, capsys, monkeypatch):
    import groklab.sweep.driver as driver
    from groklab.sweep.spec import spec_from_dict

    monkeypatch.setattr(driver, "PROGRESS_LINE_S", 0.0)  # a line at every poll instead of every minute
    spec = spec_from_dict({"name": "lines", "base": {"from": "li2_fig3", "task.group": "Z7", "model.width": 16,
                                                     "train.epochs": 5}, "axes": {"optim.weight_decay": [0.0, 1e-3]},
                           "seeds": [0]})
    report = driver.run_sweep(spec, workers=0, store_path=str(tmp_path / "s.sqlite"), progress=None)
    err = capsys.readouterr().err
    assert report.done == 2 and "sweep lines: 2.0/2 runs (100%)" in err and "done=2 failed=0" in err
