"""li2-interactive (Thm 7 in training): the update G_F drives, split into learned and missing irreps; the quick
mode end to end, with its negative control (the Stage II update) reported beside the verdict."""

import numpy as np
import pytest
import torch

from groklab.groups import get_group
from groklab.li2 import fourier_vector
from groklab.li2.interactive import learned_missing_power, node_gradient
from groklab.li2.theory import node_features
from groklab.reproduce import reproduce
from groklab.reproduce.li2_interactive import concentrates, verdicts


def test_node_gradient_is_the_chain_rule_through_x_squared():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 22, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 11, (40, 2), generator=g)
    G = torch.randn(40, 6, generator=g, dtype=torch.float64)
    (node_features(W, idx) * G).sum().backward()
    assert torch.allclose(node_gradient(G, W.detach(), idx), W.grad)


def test_learned_missing_power_splits_by_the_covered_irreps():
    group = get_group("Z11")
    learned = torch.stack([fourier_vector(11, k, 0.0) for k in (1, 2)] * 4)  # 8 pure nodes holding k = 1, 2
    toward_missing = torch.stack([fourier_vector(11, 3, 0.0)] * 8)
    toward_learned = learned.clone()
    out = learned_missing_power(toward_missing, learned, group)
    assert (out["learned"], out["missing"]) == (2, 3) and out["baseline"] == pytest.approx(0.6)
    assert out["share_missing"] == pytest.approx(1.0)
    assert learned_missing_power(toward_learned, learned, group)["share_missing"] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(learned_missing_power(toward_missing, torch.randn(8, 22, dtype=torch.float64), group)["share_missing"])


def test_verdict_and_its_control():
    rows = [dict(epoch=e, learned=l, missing=5 - l, baseline=(5 - l) / 5, actual=(5 - l) / 5 + d, stage2=(5 - l) / 5 - 0.01)
            for e, l, d in ((10, 1, 0.05), (15, 2, 0.05), (20, 3, -0.01), (25, 4, 0.02))]
    series = {"run": dict(grok_epoch=30, rows=rows)}
    assert concentrates(rows, "actual") == (3, 4) and concentrates(rows, "stage2") == (0, 4)
    (v,) = verdicts(series, "")
    assert v.passed is True and v.measured["control passes"] is False
    swapped = {"run": dict(grok_epoch=30, rows=[dict(r, actual=r["stage2"], stage2=r["actual"]) for r in rows])}
    assert verdicts(swapped, "")[0].passed is False  # the Stage II update in the actual update's place fails
    assert verdicts({"run": dict(grok_epoch=30, rows=rows[:2])}, "")[0].passed is None  # too few snapshots


@pytest.mark.slow
def test_quick_mode_measures_every_snapshot_to_the_grok(tmp_path):
    report = reproduce("li2-interactive", quick=True, out=tmp_path / "out", store_path=str(tmp_path / "runs.sqlite"),
                       progress=False, echo=lambda s: None)
    (v,) = report["verdicts"]
    assert set(report["snapshots"]) == {"Z23 seed 0", "Z23 seed 1"}
    for run, s in report["snapshots"].items():
        above, n = concentrates(s["rows"], "actual")
        assert n >= 3 and v["measured"][run]["above baseline"] == f"{above}/{n}"
        assert s["rows"][0]["learned"] == 0 and s["rows"][-1]["missing"] == 0  # from nothing learned to everything
    assert v["measured"]["control passes"] is False
