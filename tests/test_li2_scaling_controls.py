"""li2-scaling's quick-grid verdicts as a function of its table, and their negative controls: each verdict
passes on a grid whose boundaries follow the law and fails where its claim is broken (no transition, groups
off one curve, a constant far from the reference's, the prime groups' boundaries swapped). No training."""

import math

import pandas as pd

from groklab.groups import get_group, irreps
from groklab.reproduce.li2_scaling import QUICK, QUICK_GROUPS, grid_verdicts
from groklab.tasks.splits import CRITICAL_RATIO_C

KINDS = {n: k for k, names in QUICK_GROUPS.items() for n in names}


def _table(boundary, width=0.02, flat=None):
    """Two seeds per cell; test accuracy a sharp logistic in the fraction around each group's boundary."""
    rows = []
    for name, kind in KINDS.items():
        g = get_group(name)
        for frac in QUICK["fractions"]:
            acc = flat if flat is not None else 1 / (1 + math.exp(-(frac - boundary[name]) / width))
            for _ in range(2):
                rows.append({"group": name, "kind": kind, "order": g.order, "d_max": int(irreps(g).degrees.max()),
                             "fraction": frac, "test_acc": acc})
    return pd.DataFrame(rows)


def _law(c=CRITICAL_RATIO_C, scale=None):
    out = {}
    for name in KINDS:
        g = get_group(name)
        corr = int(irreps(g).degrees.max()) / 2 if KINDS[name] == "non-abelian" else 1.0
        out[name] = c * corr * math.log(g.order) / g.order * (scale or {}).get(name, 1.0)
    return out


def _passed(table):
    return [v.passed for v in grid_verdicts(table, seeds=2)]


def test_every_quick_verdict_passes_where_the_law_holds():
    assert _passed(_table(_law())) == [True, True, True, True]


def test_each_quick_verdict_fails_in_its_control():
    assert _passed(_table(_law(), flat=0.5))[0] is False  # no transition at all
    assert _passed(_table(_law(scale={"Z41": 0.55, "D22": 1.8})))[1] is False  # groups off one curve
    assert _passed(_table(_law(c=4 * CRITICAL_RATIO_C / 2.5)))[2] is True  # within a factor 2 still passes
    far = _law(c=CRITICAL_RATIO_C / 3)
    assert _passed(_table(far))[2] is False  # a constant three times smaller than the reference's
    law = _law()
    swapped = dict(law, Z23=law["Z41"], Z41=law["Z23"])
    assert _passed(_table(swapped))[3] is False  # the larger prime group crossing later
