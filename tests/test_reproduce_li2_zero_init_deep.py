"""`groklab reproduce li2-zero-init-deep --quick` (Fig. 17): zero vs default top-layer init in residual nets,
seed for seed; the negative control swaps the inits."""

import json

import numpy as np
import pytest

from groklab.reproduce import reproduce
from groklab.reproduce.li2_zero_init_deep import verdicts


def test_paired_verdict_fails_with_the_inits_swapped():
    grok = {"3 layers, default init": np.array([200.0, 180, np.inf]), "3 layers, zero init": np.array([90.0, 180, 300])}
    paired, ratio = verdicts(grok, "")
    assert paired.passed is True and paired.measured["tied"] == 1 and ratio.passed is None and ratio.reason
    swapped = {"3 layers, default init": grok["3 layers, zero init"], "3 layers, zero init": grok["3 layers, default init"]}
    assert verdicts(swapped, "")[0].passed is False


@pytest.mark.slow
def test_quick_mode_and_its_control(tmp_path):
    report = reproduce("li2-zero-init-deep", quick=True, out=tmp_path / "out", store_path=str(tmp_path / "runs.sqlite"),
                       progress=False, echo=lambda s: None)
    paired, ratio = report["verdicts"]
    assert ratio["pass"] is None and set(ratio["measured"]) == {"3 layers", "4 layers"}
    assert paired["measured"]["pairs"] == 6
    assert json.loads((tmp_path / "out" / "verdict.json").read_text())["verdicts"] == report["verdicts"]
    # negative control on the runs just trained (per seed in the report): with the inits swapped the verdict fails
    grok = {k: np.array([np.inf if g is None else g for g in v]) for k, v in report["grok_epochs"].items()}
    assert verdicts(grok, "")[0].passed == paired["pass"]
    swap = {"default init": "zero init", "zero init": "default init"}
    swapped = {f"{k.split(', ')[0]}, {swap[k.split(', ')[1]]}": v for k, v in grok.items()}
    assert paired["pass"] is False or verdicts(swapped, "")[0].passed is False
