"""li2-scaling's verdicts as functions of their measurements, and their negative controls. The quick grid's:
each passes on a grid whose boundaries follow the law and fails where its claim is broken (no transition, groups
off one curve, a constant far from the reference's, the prime groups' boundaries swapped). The full mode's
"a boundary exists" and budget check: its own search and budget check run on synthetic seeds (no training) pass
where each seed's outcome depends on the data only, and fail with no crossing (no seed grokking anywhere, or a
flat rate) and where the grok epoch grows without bound as data shrink, so the budget places the boundary."""

import math

import numpy as np
import pandas as pd
import pytest

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


# -- full mode: the search's own verdicts on synthetic seeds ----------------------------------------------

FULL_NAMES = ["D22", "Z23", "Z41"]  # budget_check searches the smallest (D22) and the largest (Z41) twice
SEEDS = 8
SPREAD = np.random.default_rng(0).normal(size=SEEDS)  # each seed's own offset, in ln p (fixed: the same seeds)


def _grok_epoch(kind: str, truth: float, p: float) -> np.ndarray:
    """Each seed's grok epoch at training fraction p (inf: never). "data": a seed groks at epoch 500 iff p is
    above its own threshold truth·e^(0.1·z), never below it, whatever the budget. "budget": no threshold; the
    grok epoch 3000·(truth/p)²·e^(0.2·z) only grows as data shrink, so where half grok depends on the budget.
    "never": no seed groks at any fraction (the mechanism removed: weight decay 0, labels shuffled). "flat":
    three of the eight seeds grok at every fraction, the others at none (a rate with no crossing)."""
    if kind == "data":
        return np.where(np.log(p / truth) >= 0.1 * SPREAD, 500.0, np.inf)
    if kind == "budget":
        return 3000 * (truth / p) ** 2 * np.exp(0.2 * SPREAD)
    if kind == "never":
        return np.full(SEEDS, np.inf)
    assert kind == "flat"
    return np.where(np.arange(SEEDS) < 3, 500.0, np.inf)


def _full_mode(monkeypatch, kinds: dict) -> tuple[int, list]:
    """The full mode's budget check and searches (li2_scaling_search) with each probe answered by `_grok_epoch`
    against the probe's budget instead of by training, and the law fitted as run_search fits it: the budget used
    and the verdicts."""
    from groklab.li2 import boundary as lb
    from groklab.li2.scaling_law import fit_laws
    from groklab.reproduce import li2_scaling_search as ss
    from groklab.sweep.boundary import BoundaryResult, Probe

    def search(ctx, name, mode, seeds, epochs):
        g = get_group(name)
        d_max = int(irreps(g).degrees.max())
        truth = CRITICAL_RATIO_C * (d_max / 2 if d_max > 1 else 1) * math.log(g.order) / g.order
        limits = lb.search_limits(g.order, mode["resolution"], mode["bracket"])
        probes = []

        def probe(p):
            t = _grok_epoch(kinds[name], truth, p)
            grokked = t <= epochs
            probes.append(Probe(p, round(p * g.order ** 2), grokked.tolist(), np.where(grokked, t, np.nan).tolist(),
                                grokked.astype(float).tolist(), int(np.minimum(t, epochs).sum()), [], False))
            return grokked

        fractions, outcomes, status = lb.run_search(probe, limits)
        est = lb.boundary_estimate(fractions, outcomes)
        return BoundaryResult(g.name, g.order, d_max, truth, seeds, mode["resolution"], (limits.lowest, limits.highest),
                              "fixed bracket", status, est["estimate"], est["ci"], est["bracket"], est["resolution"], probes,
                              [float(v) for v in est["samples"]])

    monkeypatch.setattr(ss, "_search", search)
    budget, check = ss.budget_check(None, FULL_NAMES, ss.FULL, SEEDS)
    results = [search(None, name, ss.FULL, SEEDS, budget) for name in FULL_NAMES]
    found = [r for r in results if r.status == "found"]
    law = None
    if len(found) >= ss.MIN_GROUPS:
        law = fit_laws([r.order for r in found], [r.d_max for r in found], [r.estimate for r in found],
                       np.array([r.samples for r in found]), [r.d_max > 1 for r in found])
    verdicts = ss.search_verdicts(results, law, check, budget, ss.FULL, SEEDS)
    assert verdicts[0].claim.startswith("a sharp boundary exists")
    assert verdicts[1].claim.startswith("the boundary is that of the data")
    return budget, verdicts


def test_full_mode_boundary_verdicts_pass_where_the_data_set_the_boundary(monkeypatch):
    budget, (exists, unbound, a, *_) = _full_mode(monkeypatch, dict.fromkeys(FULL_NAMES, "data"))
    assert (budget, exists.passed, unbound.passed) == (3000, True, True)
    assert a.claim.startswith("(a) the constant")  # three groups bracketed: the law is fitted


@pytest.mark.parametrize("kind", ["never", "flat"])
def test_a_boundary_exists_fails_with_no_crossing(monkeypatch, kind):
    """One group (Z23, searched only at the budget) or every group without a crossing: not every group bracketed."""
    for kinds in (dict.fromkeys(FULL_NAMES, "data") | {"Z23": kind}, dict.fromkeys(FULL_NAMES, kind)):
        assert _full_mode(monkeypatch, kinds)[1][0].passed is False


def test_the_law_cannot_be_fitted_on_fewer_than_three_bracketed_groups(monkeypatch):
    """"the law can be fitted" is emitted only where it cannot be, and then it is false: with one of the three
    groups never grokking (with all three bracketed it is replaced by the law's verdicts, as above)."""
    _, verdicts = _full_mode(monkeypatch, dict.fromkeys(FULL_NAMES, "data") | {"Z23": "never"})
    fitted = verdicts[2]
    assert fitted.claim == "the law can be fitted" and fitted.measured == 2 and fitted.passed is False


def test_the_budget_verdict_fails_where_the_budget_sets_the_boundary(monkeypatch):
    """The boundary moves by more than its CI at twice the budget (for one end group, or both): the verdict fails
    and every group is searched at 2×; where it is a group searched only once (Z23), the check cannot see it."""
    for kinds in ({"D22": "budget"}, {"Z41": "budget"}, {"D22": "budget", "Z41": "budget"}):
        budget, verdicts = _full_mode(monkeypatch, dict.fromkeys(FULL_NAMES, "data") | kinds)
        assert (budget, verdicts[1].passed) == (6000, False)
    budget, verdicts = _full_mode(monkeypatch, dict.fromkeys(FULL_NAMES, "data") | {"Z23": "budget"})
    assert (budget, verdicts[1].passed) == (3000, True)
