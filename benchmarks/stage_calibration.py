"""Calibration runs of the Li2 stage rule: Z23 and Z29, each seed with and without weight decay.

The stage rule's thresholds (`groklab.li2.stages.StageRule`) are set on these runs, never on the Z71
runs that `groklab reproduce li2-fig3` judges. This script trains them and writes the series the rule
reads, with li2-fig3's other diagnostics, test accuracy and the grok and memorization epochs, to
docs/results/li2-stage-calibration.json, which the tests replay: the rule must find all three stages in
order in every grokking run and must not find Stage III in the runs without weight decay, and li2-fig3's
verdicts must come out false on these runs with the two arms swapped (their negative controls).

    PYTHONPATH=src python benchmarks/stage_calibration.py [OUT.json]      # ≈ 1–2 min on one core

Setting: x², class-centred MSE, full-batch Adam lr 5e-3, K = 512, half of the pairs (reference split),
weight decay 1e-3 against 0, seeds 0–2, 300 epochs, diagnostics and test accuracy every epoch.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from groklab.config import load_config
from groklab.train.loop import run_ensemble

GROUPS = ("Z23", "Z29")
SEEDS = (0, 1, 2)
WD = (1e-3, 0.0)
EPOCHS = 300
KEYS = ("li2.dV_cos", "li2.dW_cos", "li2.gf_stage2_cos", "li2.gf_norm_class", "li2.gf_norm", "li2.gf_norm_ref",
        "li2.coverage", "li2.kernel_offdiag", "li2.ff_ideal_dist")  # what the stage rule and li2-fig3's verdicts read
OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "li2-stage-calibration.json"


def config(group: str):
    seeds = [s for s in SEEDS for _ in WD]
    wds = [w for _ in SEEDS for w in WD]
    return load_config("li2_fig3", [
        f"task.group={group}", "task.train_fraction=0.5", "model.width=512", "optim.lr=5e-3",
        f"train.seeds={seeds}", f"optim.weight_decay={wds}", f"train.epochs={EPOCHS}", "train.eval_every=1",
        "li2.every=1", "train.checkpoint_dense_until=0", "train.checkpoint_every=100000", "train.progress=false"])


def members(group: str) -> list[dict]:
    cfg = config(group)
    with tempfile.TemporaryDirectory() as tmp:
        out = run_ensemble(cfg, Path(tmp))
    rows = []
    for i, (seed, wd) in enumerate(zip(cfg.member_seeds(), cfg.member_values("weight_decay"))):
        series: dict[str, dict[int, float]] = {k: {} for k in KEYS}
        for e, k, v in out.history.series_rows(i):
            if k in series:
                series[k][int(e)] = float(f"{v:.5g}")
        epochs = sorted(set().union(*series.values()))
        acc = {int(e): va for e, _, _, _, va, _ in out.history.metric_rows(i) if va is not None}
        result = out.results[i]
        rows.append(dict(group=group, seed=int(seed), weight_decay=float(wd), grok_epoch=result["grok_epoch"],
                         memorization_epoch=result["memorization_epoch"],
                         final_test_acc=round(float(result["final_test_acc"]), 4), epochs=epochs,
                         test_acc=[round(float(acc.get(e, np.nan)), 4) for e in epochs],
                         series={k: [series[k].get(e) for e in epochs] for k in KEYS}))
    return rows


def main(path: Path = OUT) -> None:
    data = {"setting": "x², class-centred MSE, Adam lr 5e-3, K = 512, train fraction 0.5 (reference split), "
                       f"wd {WD[0]:g} vs 0, seeds {list(SEEDS)}, {EPOCHS} epochs, diagnostics every epoch",
            "members": [m for g in GROUPS for m in members(g)]}
    path.write_text(json.dumps(data, separators=(",", ":")))
    for m in data["members"]:
        print(m["group"], m["seed"], m["weight_decay"], "grok", m["grok_epoch"])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
