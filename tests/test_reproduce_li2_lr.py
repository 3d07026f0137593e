"""Negative controls of li2-lr's settle and fit verdicts, on cheap real runs of its quick setting (Z23 at 1.33·p*,
K = 256, cross-entropy, one seed per lr; a few seconds) and replayed on the committed full mode: each verdict
passes where its claim holds and fails where it cannot (a budget the runs meet before their accuracy settles; a
budget too short for the runs to fit their training sets)."""

import json
from pathlib import Path

import pytest

from groklab.reproduce.li2_lr import LRS, PLATEAU_DELTA, by_lr_of, lr_verdicts, member_summary, settled_verdict
from groklab.train.cells import train_cells

BASE = ["task.group=Z23", "task.train_fraction=0.5", "model.width=256", "model.activation=sqr", "loss.kind=ce",
        "optim.kind=adam", "optim.weight_decay=2e-4", "train.eval_every=10", "train.checkpoint_every=1000",
        f"train.seeds=[{','.join('0' for _ in LRS)}]", f"optim.lr=[{','.join(f'{lr:g}' for lr in LRS)}]"]
EVALS = 10  # the plateau rule's window, shrunk from the full mode's 100 evaluations


def _members(tmp_path, *overrides) -> dict:
    (cell,) = train_cells(BASE, [("lr grid", list(overrides))], str(tmp_path / "runs.sqlite"), progress=False)
    return by_lr_of([member_summary(r) for r in cell.results])


def _settles(by_lr: dict, epochs: int) -> bool | None:
    return settled_verdict("", by_lr, epochs, EVALS, PLATEAU_DELTA).passed


def test_settle_verdict_fails_where_the_runs_meet_the_budget(tmp_path):
    """With room for the plateau rule (1500 epochs; measured: every member stops by epoch 340) every member
    settles; with 100 epochs (fewer evaluations than two windows) each one stops at the budget instead."""
    plateau = ["train.stop=plateau", f"train.plateau_evals={EVALS}", f"train.plateau_delta={PLATEAU_DELTA}"]
    room = _members(tmp_path, *plateau, "train.epochs=1500")
    assert _settles(room, 1500) is True
    short = _members(tmp_path, *plateau, "train.epochs=100")
    assert [x["stop"] for v in short.values() for x in v] == [100] * len(LRS)
    assert _settles(short, 100) is False


def test_settle_verdict_replayed_on_the_full_mode_fails_with_a_shorter_budget():
    """The committed full mode (Z127, 30 000 epochs): every member stopped on the plateau rule, as replayed; had
    the budget been 8000 epochs, the members still moving then (stopped later) would have met it."""
    data = json.loads((Path(__file__).parents[1] / "docs/results/li2-lr.json").read_text())
    committed = data["verdicts"][0]
    assert committed["claim"].startswith("every run's test accuracy settles") and committed["pass"] is True
    stops = {float(key[3:]): row["stop epochs"] for key, row in committed["measured"].items()}
    full = {lr: [dict(stop=e, settled=True) for e in es] for lr, es in stops.items()}
    replay = settled_verdict("", full, 30000, 100, PLATEAU_DELTA)
    assert replay.passed is True and replay.measured == committed["measured"]
    cut = {lr: [dict(stop=min(x["stop"], 8000), settled=x["stop"] <= 8000) for x in v] for lr, v in full.items()}
    assert settled_verdict("", cut, 8000, 100, PLATEAU_DELTA).passed is False


@pytest.mark.parametrize("epochs, fits", [(300, True), (20, False)])
def test_fit_verdict_fails_on_runs_stopped_before_they_fit(tmp_path, epochs, fits):
    """The quick setting fits its training set by 300 epochs (measured: train accuracy 1.0 at every lr, test
    accuracy still near chance: memorisation); stopped at 20 epochs it has not (train accuracy 0.16–0.33)."""
    by_lr = _members(tmp_path, f"train.epochs={epochs}")
    fit = lr_verdicts({lr: [x | dict(energy=0.0, energy_active=0.0) for x in v] for lr, v in by_lr.items()}, "")[1]
    assert fit.claim.startswith("every run fits its training set")
    assert fit.passed is fits, fit.measured
