"""groklab.report.stats: its tests against scipy's (which compute most of them), the survival methods against
textbook numbers and scipy's `ecdf` and `logrank`, and what scipy lacks (Holm, the 2-s.e. rule) by hand."""

import math

import numpy as np
import pytest
import scipy.stats as ss

from groklab.errors import GroklabError
from groklab.report import stats as S


def _samples(rng, trial):
    n1, n2 = rng.integers(2, 30, 2)
    a, b = rng.gamma(2.0, 60.0, n1), rng.gamma(2.0, 40.0, n2)
    if trial % 3 == 0:  # many ties, as integer grok epochs on a coarse eval grid have
        a, b = np.round(a / 25), np.round(b / 25)
    return a, b


@pytest.mark.parametrize("equal_var", [True, False])
def test_t_tests_match_scipy(equal_var):
    rng = np.random.default_rng(0)
    for trial in range(60):
        a, b = _samples(rng, trial)
        ref = ss.ttest_ind(a, b, equal_var=equal_var)
        ours = S.t_test(a, b, equal_var=equal_var)
        assert ours["t"] == pytest.approx(ref.statistic, rel=1e-10)
        assert ours["p"] == pytest.approx(ref.pvalue, rel=1e-8)
        assert ours["df"] == pytest.approx(ref.df, rel=1e-10)
    assert S.student_t([1, 2, 3], [4, 5, 7])["df"] == 4  # pooled: n1 + n2 - 2


def test_mann_whitney_matches_scipy_exact_and_asymptotic():
    rng = np.random.default_rng(1)
    methods = set()
    for trial in range(80):
        a, b = _samples(rng, trial)
        ref = ss.mannwhitneyu(a, b, alternative="two-sided")
        ours = S.mann_whitney(a, b)
        methods.add(ours["method"])
        assert ours["U"] == pytest.approx(ref.statistic)
        assert ours["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert methods == {"exact", "asymptotic"}
    # exact path with one small and one large group (Gaussian-binomial counts in exact integers)
    a, b = rng.normal(size=4), rng.normal(size=200) + 0.7
    assert S.mann_whitney(a, b)["p"] == pytest.approx(ss.mannwhitneyu(a, b).pvalue, rel=1e-9)


def test_undefined_tests_are_nan_not_errors():
    assert math.isnan(S.welch_t([5.0], [1.0, 2.0])["t"])
    assert math.isnan(S.student_t([3.0, 3.0], [3.0, 3.0])["p"])  # zero variance in both groups
    assert math.isnan(S.mann_whitney([], [1.0])["U"])
    assert S.t_test([1, 2, None], [3, float("nan"), 5])["n1"] == 2  # censored (None/NaN) runs dropped


def test_describe_never_counts_censored_runs_as_the_budget():
    d = S.describe([10, None, 30, None, 20], censored=[False, True, False, True, False])
    assert (d["n"], d["grokked"], d["censored"]) == (5, 3, 2)
    assert d["mean"] == 20 and d["median"] == 20 and d["max"] == 30
    assert d["q1"] == 15 and d["q3"] == 25 and d["iqr"] == 10
    empty = S.describe([None, None])
    assert empty["censored"] == 2 and math.isnan(empty["mean"])
    with pytest.raises(GroklabError, match="flagged censored"):
        S.describe([10, 20], censored=[False, True])


def test_bootstrap_ci_is_seeded_and_brackets_the_difference():
    rng = np.random.default_rng(2)
    a, b = rng.normal(150, 30, 200), rng.normal(100, 30, 200)
    one = S.bootstrap_mean_diff(a, b, n_boot=2000, seed=7)
    assert one == S.bootstrap_mean_diff(a, b, n_boot=2000, seed=7)
    assert one != S.bootstrap_mean_diff(a, b, n_boot=2000, seed=8)
    assert one["low"] < one["diff"] < one["high"]
    assert one["low"] > 30 and one["high"] < 70  # true difference 50, SE about 3
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert one["high"] - one["low"] == pytest.approx(2 * 1.96 * se, rel=0.15)
    with pytest.raises(GroklabError, match="level"):
        S.bootstrap_mean_diff(a, b, level=95)


# Freireich et al. (1963) leukaemia remission weeks, the survival-analysis textbook example
# (Kleinbaum & Klein, Survival Analysis, ch. 1-2): 6-MP arm with censoring, placebo arm without.
SIX_MP = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [True] * 9 + [False] * 12
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_kaplan_meier_textbook_values():
    km = S.kaplan_meier(SIX_MP, SIX_MP_EVENT)
    at = dict(zip(km["time"], km["survival"]))
    # textbook table: S(6)=18/21, then x16/17, x14/15, x11/12, x10/11, x6/7, x5/6
    expected = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for t, s in expected.items():
        assert at[t] == pytest.approx(s, abs=5e-4)
    assert at[35] == pytest.approx(0.448, abs=5e-4)  # censoring never lowers the curve
    row6 = km[km["time"] == 6].iloc[0]
    assert (row6["at_risk"], row6["events"], row6["censored"]) == (21, 3, 1)
    assert row6["se"] == pytest.approx(0.0764, abs=1e-4)  # Greenwood
    assert S.km_median(km) == 23
    assert S.km_median(S.kaplan_meier(PLACEBO, [True] * 21)) == 8


def test_kaplan_meier_median_edge():
    # one of two grokked: S = 0.5 at t=5 counts as reaching the median; one of three does not
    assert S.km_median(S.kaplan_meier([5, 9], [True, False])) == 5
    assert math.isnan(S.km_median(S.kaplan_meier([5, 9, 9], [True, False, False])))


def test_logrank_textbook_and_hand_computed():
    res = S.logrank(SIX_MP + PLACEBO, SIX_MP_EVENT + [True] * 21, ["6-MP"] * 21 + ["placebo"] * 21)
    # textbook: chi2 = 16.79 on 1 df, p = 4.17e-5, O/E = 9/19.25 (6-MP) and 21/10.75 (placebo)
    assert res["chi2"] == pytest.approx(16.79, abs=5e-3) and res["df"] == 1
    assert res["p"] == pytest.approx(4.17e-5, rel=2e-3)
    assert res["observed"] == [9, 21] and res["expected"][0] == pytest.approx(19.25, abs=5e-3)
    # By hand: A = {1 event, 3 censored}, B = {2 event, 4 event}. Event times 1, 2, 4:
    # t=1: n=4, n_A=2, d=1 -> E_A=1/2, V=1·3/3·(1/2)(1/2)=1/4; t=2: n=3, n_A=1 -> E_A=1/3, V=1·2/2·(1/3)(2/3)=2/9;
    # t=4: n_A=0 -> nothing. O_A − E_A = 1 − 5/6 = 1/6, V = 17/36, chi2 = (1/36)/(17/36) = 1/17.
    hand = S.logrank([1, 3, 2, 4], [True, False, True, True], ["A", "A", "B", "B"])
    assert hand["chi2"] == pytest.approx(1 / 17) and hand["expected"][0] == pytest.approx(5 / 6)
    assert hand["p"] == pytest.approx(ss.chi2.sf(1 / 17, 1))


def _censored_samples(rng, trial):
    n = int(rng.integers(2, 30))
    t = rng.exponential(50, n)
    t = np.round(t / 10) if trial % 2 else t  # ties, as grok epochs on an eval grid have
    return t, rng.random(n) < 0.7


def test_kaplan_meier_matches_scipy_ecdf():
    rng = np.random.default_rng(3)
    for trial in range(40):
        t, d = _censored_samples(rng, trial)
        if not d.any():
            continue
        km = S.kaplan_meier(t, d)
        ref = ss.ecdf(ss.CensoredData(uncensored=t[d], right=t[~d])).sf.evaluate(km["time"].to_numpy())
        np.testing.assert_allclose(km["survival"], ref, rtol=1e-12, atol=1e-15)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # scipy's 0/0 where the test is undefined
def test_two_group_logrank_matches_scipy():
    rng = np.random.default_rng(4)
    for trial in range(40):
        t, d = _censored_samples(rng, trial)
        g = np.arange(t.size) % 2 == 0
        if not (d & g).any() and not (d & ~g).any():
            continue
        ours = S.logrank(t, d, np.where(g, "a", "b"))
        ref = ss.logrank(ss.CensoredData(uncensored=t[g & d], right=t[g & ~d]),
                         ss.CensoredData(uncensored=t[~g & d], right=t[~g & ~d]))
        assert ours["chi2"] == pytest.approx(ref.statistic**2, rel=1e-9, nan_ok=True)
        assert ours["p"] == pytest.approx(ref.pvalue, rel=1e-9, nan_ok=True)


def test_bootstrap_is_scipys_percentile_bootstrap():
    a, b = np.array([3.0, 5.0, 9.0, 4.0]), np.array([1.0, 2.0, 2.5])
    ours = S.bootstrap_mean_diff(a, b, n_boot=999, level=0.9, seed=11)
    ref = ss.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), n_resamples=999,
                       confidence_level=0.9, method="percentile", rng=np.random.default_rng(11))
    assert (ours["low"], ours["high"]) == tuple(ref.confidence_interval)
    one = S.bootstrap_mean_diff([4.0], b, n_boot=200, seed=1)  # a one-run group: resampled by hand, same draws
    rng = np.random.default_rng(1)
    rng.integers(0, 1, size=(200, 1))
    means_b = b[rng.integers(0, b.size, size=(200, b.size))].mean(axis=1)
    assert (one["low"], one["high"]) == tuple(np.percentile(4.0 - means_b, [2.5, 97.5]))


def test_logrank_identical_groups_and_k_groups():
    same = S.logrank([3, 5, 3, 5], [True, True, True, True], ["a", "a", "b", "b"])
    assert same["chi2"] == pytest.approx(0) and same["p"] == pytest.approx(1)
    three = S.logrank(SIX_MP + PLACEBO + PLACEBO, SIX_MP_EVENT + [True] * 42, ["m"] * 21 + ["p"] * 21 + ["q"] * 21)
    assert three["df"] == 2 and three["chi2"] > 16
    with pytest.raises(GroklabError, match="every run needs a time"):
        S.logrank([1, None], [True, False], ["a", "b"])


def test_paper_p_value_does_not_follow_from_its_t():
    check = S.paper_p_check()
    assert check["p_two_sided_min"] == pytest.approx(5.23e-7, rel=2e-3)
    assert check["p_two_sided_min"] > 5.2e-7 > S.PAPER["p"]
    for df in (2, 10, 100, 1000, 10**6):  # p falls with df towards the normal limit, never below it
        assert S.t_to_p(S.PAPER["t"], df) >= check["p_two_sided_min"]
    assert check["p_two_sided_at_df"]["100"] == pytest.approx(2.3e-6, rel=0.02)
    assert check["p_one_sided_min"] == pytest.approx(2.6e-7, rel=0.01)
    assert check["t_needed_for_p_reported"] == pytest.approx(5.41, abs=0.01)
    assert check["consistent"] is False
    assert S.paper_p_check(t=5.0175, p_reported=1e-6)["consistent"] is True


def test_compare_groups_and_sign_test():
    out = S.compare_groups(PLACEBO, [True] * 21, SIX_MP, SIX_MP_EVENT, labels=("placebo", "6-MP"), n_boot=500)
    assert out["student"]["n1"] == 21 and out["student"]["n2"] == 9  # location tests on events only
    assert out["logrank"]["chi2"] == pytest.approx(16.79, abs=5e-3)
    assert out["km_median"] == {"placebo": 8.0, "6-MP": 23.0}
    assert S.sign_test(9, 1)["p"] == pytest.approx(ss.binomtest(9, 10).pvalue)
    assert S.sign_test(0, 0)["p"] == 1.0


def test_describe_by_and_survival_data():
    import pandas as pd

    runs = pd.DataFrame({"opt": ["a", "a", "b", "b"], "grok_epoch": [10, None, 30, 50]})
    table = S.describe_by(runs, ["opt"])
    assert list(table["opt"]) == ["a", "b"] and list(table["censored"]) == [1, 0] and list(table["mean"]) == [10, 40]
    with pytest.raises(GroklabError, match="no column 'task'"):
        S.describe_by(runs, ["task"])
    times, events = S.survival_data([10, None, 30], [1000, 640, 1000])  # censored at the last observed epoch
    assert times.tolist() == [10, 640, 30] and events.tolist() == [True, False, True]


def test_two_se_difference_is_the_maps_noise_rule():
    from groklab.report.stats import two_se_difference

    a, b = [1.0, 1.1, 0.9, 1.0], [0.5, 0.6, 0.4, 0.5]
    d = two_se_difference(a, b)
    se = math.sqrt(np.var(a, ddof=1) / 4 + np.var(b, ddof=1) / 4)
    assert d["diff"] == pytest.approx(0.5) and d["se"] == pytest.approx(se) and d["significant"]
    assert not two_se_difference(a, [x + 0.05 for x in a])["significant"]  # 0.05 < 2 s.e. ≈ 0.12
    assert two_se_difference([3.0, 3.0], [2.0, 2.0])["significant"]  # no spread: any difference counts
    assert not two_se_difference([1.0], [0.0])["significant"]  # one run per side: no s.e., nothing counts


def test_welch_one_sided_matches_scipy_and_undefined_is_no_evidence():
    a, b = [1.0, 1.2, 0.9, 1.1], [1.5, 1.4, 1.7, 1.6]
    assert S.welch_p_below(a, b) == pytest.approx(ss.ttest_ind(a, b, equal_var=False, alternative="less").pvalue)
    assert S.welch_p_below(b, a) == pytest.approx(ss.ttest_ind(b, a, equal_var=False, alternative="less").pvalue)
    assert S.welch_p_below([1.0], b) == 1.0 and S.welch_p_below([1.0, 1.0], [2.0, 2.0]) == 1.0


def test_holm_step_down_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.04 lifts to 0.06
    np.testing.assert_allclose(S.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(S.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    assert S.holm([]).size == 0
    # one cell at p = 0.02 among 25 null cells is not a finding; alone it would be
    assert S.holm([0.02] + [0.5] * 24)[0] == 0.5 and S.holm([0.02])[0] == 0.02


def test_first_to_event_counts_never_as_latest_and_pairs_by_position():
    inf, nan = float("inf"), float("nan")
    out = S.first_to_event([120, 40, 40, inf, 500, None, nan], [90, 40, 45, 900, inf, None, inf])
    # a first: (40 vs 45), (500 vs never); b first: (120 vs 90), (never vs 900); ties: 40/40, both never twice
    assert (out["wins_a"], out["wins_b"], out["ties"]) == (2, 2, 3) and out["p"] == 1.0
    assert S.first_to_event([1] * 6, [2] * 6)["p"] == pytest.approx(2 * 0.5**6)
    with pytest.raises(ValueError, match="as many"):
        S.first_to_event([1, 2], [1])
