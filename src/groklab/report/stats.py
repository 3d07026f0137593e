"""Statistics for grok epochs: summaries with censoring, two-sample tests, survival analysis.

Pure functions of arrays (and one DataFrame out): no store, no plotting, no torch. The location tests
are scipy's (`ttest_ind`, `mannwhitneyu`, `bootstrap`, `binomtest`); this module chooses their inputs
(grokked runs only), the conventions below and the result's shape. Written out here: what scipy lacks
(Holm's adjustment, the two-standard-error rule, the Kaplan–Meier table with at-risk counts and
Greenwood's standard error, the log-rank test for more than two groups), and the Kaplan–Meier product,
the two-group log-rank statistic and Welch's degrees of freedom, which scipy's `ecdf`, `logrank` and
`ttest_ind` evaluate in another order: equal to the last digits or two (tests/test_stats.py checks them
against scipy), but the stored results in docs/results keep every digit they were written with.

Conventions for grok epochs:
- a run that groks has an event at its grok epoch; a run that does not is *right-censored* at the
  last epoch it was observed (the budget, or the epoch it diverged). Censored runs are counted and
  handed to the survival methods (Kaplan–Meier, log-rank), never given the budget as a grok epoch;
- the location tests (t-tests, Mann–Whitney U, bootstrap) compare grokked runs only, as the paper's
  pooled t-test must have done; read them beside the censored counts and the log-rank test.
Undefined values (a mean of nothing, a t-test on one run) are NaN, not errors.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats as _dist

from groklab.errors import GroklabError

NAN = float("nan")

# Tveit et al. (arXiv 2504.16041): pooled mean grok epochs and their two-sample t-test.
PAPER = {"adamw_mean": 153.09, "muon_mean": 102.89, "t": 5.0175, "p": 6.33e-8}


def _values(x: Iterable, what: str = "values") -> np.ndarray:
    a = np.asarray([NAN if v is None else v for v in np.ravel(np.asarray(x, dtype=object))], dtype=float)
    if np.isinf(a).any():
        raise GroklabError(f"{what} must be finite numbers (or None/NaN for censored runs), got an infinity")
    return a


# -- descriptive -----------------------------------------------------------------------------------

def describe(grok_epochs: Iterable, censored: Iterable | None = None) -> dict:
    """n, grokked, censored and mean/median/quartiles/IQR/std/min/max of the grokked runs' epochs.

    `grok_epochs` holds one value per run, None/NaN for a run that did not grok; `censored` (optional)
    flags those runs explicitly and must agree with the missing values.
    """
    e = _values(grok_epochs, "grok epochs")
    missing = np.isnan(e)
    if censored is not None:
        flags = np.asarray(list(censored), dtype=bool)
        if flags.shape != e.shape:
            raise GroklabError(f"censored flags ({flags.size}) and grok epochs ({e.size}) differ in length")
        if (flags != missing).any():
            raise GroklabError("a run is flagged censored but has a grok epoch (or the reverse)")
    g = e[~missing]
    out = {"n": int(e.size), "grokked": int(g.size), "censored": int(missing.sum())}
    if g.size:
        q1, med, q3 = np.percentile(g, [25, 50, 75])
        out.update(mean=float(g.mean()), median=float(med), q1=float(q1), q3=float(q3), iqr=float(q3 - q1),
                   std=float(g.std(ddof=1)) if g.size > 1 else NAN, min=float(g.min()), max=float(g.max()))
    else:
        out.update({k: NAN for k in ("mean", "median", "q1", "q3", "iqr", "std", "min", "max")})
    return out


def describe_by(runs: pd.DataFrame, by: list[str], epoch: str = "grok_epoch") -> pd.DataFrame:
    """`describe` of one epoch column for every group of a runs table (one row per group, `by` first).

    A missing value (None/NaN) in `epoch` marks a censored run.
    """
    for col in (*by, epoch):
        if col not in runs.columns:
            raise GroklabError(f"runs table has no column {col!r} (columns: {', '.join(map(str, runs.columns))})")
    rows = []
    for key, group in runs.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **describe(group[epoch].tolist())})
    return pd.DataFrame(rows)


def survival_data(epochs: Iterable, observed_until: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """(times, events) for the survival methods: the grok epoch where there is one (event), else the
    last epoch the run was observed (censored)."""
    e = _values(epochs, "grok epochs")
    obs = _values(observed_until, "observed epochs")
    if e.shape != obs.shape:
        raise GroklabError(f"grok epochs ({e.size}) and observed epochs ({obs.size}) differ in length")
    events = ~np.isnan(e)
    return np.where(events, e, obs), events


# -- two-sample location tests ---------------------------------------------------------------------

def _two(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _values(a), _values(b)
    return a[~np.isnan(a)], b[~np.isnan(b)]


def t_test(a: Iterable, b: Iterable, *, equal_var: bool = True) -> dict:
    """Two-sample t-test of mean(a) − mean(b): Student (pooled variance) or Welch; two-sided p.

    Returns {t, p, df, n1, n2, mean_diff}; t/p/df are NaN with fewer than two runs per group or when
    both groups have zero variance.
    """
    a, b = _two(a, b)
    n1, n2 = a.size, b.size
    out = {"t": NAN, "p": NAN, "df": NAN, "n1": int(n1), "n2": int(n2),
           "mean_diff": float(a.mean() - b.mean()) if n1 and n2 else NAN}
    if n1 < 2 or n2 < 2:
        return out
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        return out
    res = _dist.ttest_ind(a, b, equal_var=equal_var)
    df = res.df
    if not equal_var:  # Welch–Satterthwaite as written (see the module docstring)
        w1, w2 = a.var(ddof=1) / n1, b.var(ddof=1) / n2
        df = (w1 + w2) ** 2 / (w1**2 / (n1 - 1) + w2**2 / (n2 - 1))
    out.update(t=float(res.statistic), p=float(res.pvalue), df=float(df))
    return out


def two_se_difference(a: Iterable, b: Iterable, k: float = 2.0) -> dict:
    """mean(a) − mean(b), its standard error √(s_a²/n_a + s_b²/n_b) and whether |diff| > k·se (the map's
    seed-noise rule; k = 2 is about a 95 % interval). With fewer than two values in a group the se is NaN
    and nothing is significant; with zero spread in both, any non-zero difference is."""
    a, b = _two(a, b)
    if a.size == 0 or b.size == 0:
        return {"diff": NAN, "se": NAN, "significant": False}
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return {"diff": diff, "se": NAN, "significant": False}
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return {"diff": diff, "se": se, "significant": bool(abs(diff) > k * se)}


def student_t(a, b) -> dict:
    return t_test(a, b, equal_var=True)


def welch_t(a, b) -> dict:
    return t_test(a, b, equal_var=False)


def welch_p_below(a: Iterable, b: Iterable) -> float:
    """One-sided Welch p-value for mean(a) < mean(b). 1.0 where the test is undefined (fewer than two runs a
    side, or no spread in either): a map read cell by cell should not count such a cell as evidence."""
    if not math.isfinite(welch_t(a, b)["t"]):
        return 1.0
    a, b = _two(a, b)
    return float(_dist.ttest_ind(a, b, equal_var=False, alternative="less").pvalue)


def holm(p_values: Iterable) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control over many cells, no independence
    assumed): sort ascending, multiply the i-th smallest by (m − i), keep them monotone, cap at 1."""
    p = np.asarray(list(p_values), dtype=float)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks with ties given their average rank, and the size of every tie group."""
    return _dist.rankdata(x, method="average"), np.unique(x, return_counts=True)[1]


def mann_whitney(a: Iterable, b: Iterable) -> dict:
    """Two-sided Mann–Whitney U test; U is the statistic of `a` (as scipy reports it).

    p is exact when there are no ties and a group has at most 8 runs, otherwise the normal
    approximation with tie correction and a 0.5 continuity correction (scipy's `method="auto"`, named
    in the result). Returns {U, p, n1, n2, method}.
    """
    a, b = _two(a, b)
    n1, n2 = a.size, b.size
    if not n1 or not n2:
        return {"U": NAN, "p": NAN, "n1": int(n1), "n2": int(n2), "method": None}
    ties = np.unique(np.concatenate([a, b])).size < n1 + n2
    method = "exact" if (n1 <= 8 or n2 <= 8) and not ties else "asymptotic"
    if method == "asymptotic" and np.unique(np.concatenate([a, b])).size == 1:
        p, u1 = 1.0, n1 * n2 / 2  # every value tied: no evidence either way (scipy's normal approximation is 0/0)
    else:
        res = _dist.mannwhitneyu(a, b, alternative="two-sided", method=method)
        p, u1 = res.pvalue, res.statistic
    return {"U": float(u1), "p": float(min(max(p, 0.0), 1.0)), "n1": int(n1), "n2": int(n2), "method": method}


def bootstrap_mean_diff(a: Iterable, b: Iterable, *, n_boot: int = 10_000, level: float = 0.95,
                        seed: int = 0) -> dict:
    """Percentile bootstrap CI of mean(a) − mean(b), resampling each group with replacement (seeded).

    Returns {diff, low, high, level, n_boot, seed}; NaN bounds when a group is empty.
    """
    if not 0 < level < 1:
        raise GroklabError(f"bootstrap level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise GroklabError(f"bootstrap n_boot must be >= 1, got {n_boot}")
    a, b = _two(a, b)
    out = {"diff": NAN, "low": NAN, "high": NAN, "level": level, "n_boot": int(n_boot), "seed": int(seed)}
    if not a.size or not b.size:
        return out
    rng = np.random.Generator(np.random.PCG64(seed))
    if a.size > 1 and b.size > 1:
        res = _dist.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis),
                              n_resamples=n_boot, confidence_level=level, method="percentile", rng=rng)
        low, high = res.confidence_interval
    else:  # scipy resamples groups of two or more; the same draws (each group's in turn) by hand
        means_a = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
        means_b = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
        low, high = np.percentile(means_a - means_b, [50 * (1 - level), 50 * (1 + level)])
    out.update(diff=float(a.mean() - b.mean()), low=float(low), high=float(high))
    return out


def sign_test(wins_a: int, wins_b: int) -> dict:
    """Two-sided exact sign test for paired comparisons (ties dropped beforehand)."""
    n = wins_a + wins_b
    p = 1.0 if n == 0 else float(_dist.binomtest(int(wins_a), int(n), 0.5).pvalue)
    return {"wins_a": int(wins_a), "wins_b": int(wins_b), "p": p}


def first_to_event(a_epochs: Iterable, b_epochs: Iterable) -> dict:
    """Seed-matched pairs: which of a and b reached the event (a grok) first. None, NaN or ∞ = never within
    the budget, later than any observed epoch; both never, or the same epoch, is a tie. Returns the sign
    test over the untied pairs (`sign_test`'s wins_a, wins_b, p) and the tie count."""
    never = lambda v: math.inf if v is None or not math.isfinite(float(v)) else float(v)  # noqa: E731
    a, b = [never(v) for v in a_epochs], [never(v) for v in b_epochs]
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs as many a as b epochs, got {len(a)} and {len(b)}")
    wins_a, wins_b = sum(x < y for x, y in zip(a, b)), sum(y < x for x, y in zip(a, b))
    return {**sign_test(wins_a, wins_b), "ties": len(a) - wins_a - wins_b}


# -- survival analysis (censored grok epochs) ------------------------------------------------------

def _survival_input(times, events) -> tuple[np.ndarray, np.ndarray]:
    t = _values(times, "times")
    d = np.asarray(list(events), dtype=bool)
    if t.shape != d.shape:
        raise GroklabError(f"times ({t.size}) and event flags ({d.size}) differ in length")
    if np.isnan(t).any():
        raise GroklabError("every run needs a time: its grok epoch, or the epoch it was censored at")
    if (t < 0).any():
        raise GroklabError(f"times must be >= 0, got {t.min():g}")
    return t, d


def kaplan_meier(times: Iterable, events: Iterable) -> pd.DataFrame:
    """Kaplan–Meier estimate of S(t) = P(not yet grokked after t) with right-censoring.

    `times`: grok epoch for runs with an event, last observed epoch for censored runs; `events`: True
    where the run grokked. One row per distinct time: time, at_risk, events, censored, survival (after
    that time), se (Greenwood). A run censored at t is still at risk at t (censoring after events).
    """
    t, d = _survival_input(times, events)
    rows, surv, greenwood = [], 1.0, 0.0
    for u in np.unique(t):
        at_risk = int((t >= u).sum())
        ev = int((d & (t == u)).sum())
        cens = int((~d & (t == u)).sum())
        if ev:
            surv *= 1 - ev / at_risk
            greenwood += ev / (at_risk * (at_risk - ev)) if at_risk > ev else math.inf
        se = surv * math.sqrt(greenwood) if math.isfinite(greenwood) else NAN
        rows.append((float(u), at_risk, ev, cens, surv, se))
    return pd.DataFrame(rows, columns=["time", "at_risk", "events", "censored", "survival", "se"])


def km_median(curve: pd.DataFrame) -> float:
    """First time at which the KM survival reaches 0.5 or below; NaN when it never does."""
    hit = curve.loc[curve["survival"] <= 0.5 + 1e-12, "time"]
    return float(hit.iloc[0]) if len(hit) else NAN


def logrank(times: Iterable, events: Iterable, groups: Iterable) -> dict:
    """Log-rank test that the groups share one survival curve (k groups, df = k − 1).

    At each distinct event time j with n_j at risk and d_j events, group g expects
    E_gj = d_j·n_gj/n_j; the statistic (O − E)ᵀ V⁻¹ (O − E) uses the hypergeometric covariance
    V_gh = Σ_j d_j (n_j − d_j)/(n_j − 1) · n_gj/n_j · (δ_gh − n_hj/n_j) over the first k − 1 groups.
    Returns {chi2, p, df, groups, observed, expected}.
    """
    t, d = _survival_input(times, events)
    g = np.asarray(list(groups), dtype=object)
    if g.shape != t.shape:
        raise GroklabError(f"group labels ({g.size}) and times ({t.size}) differ in length")
    labels = list(dict.fromkeys(g.tolist()))
    k = len(labels)
    out = {"chi2": NAN, "p": NAN, "df": k - 1, "groups": [str(x) for x in labels],
           "observed": [0.0] * k, "expected": [0.0] * k}
    if k < 2:
        return out
    member = np.stack([g == lab for lab in labels])  # [k, N]
    O, E, V = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for u in np.unique(t[d]):
        at_risk = member & (t >= u)[None, :]
        n_g = at_risk.sum(1).astype(float)
        d_g = (member & (d & (t == u))[None, :]).sum(1).astype(float)
        n, dj = n_g.sum(), d_g.sum()
        O += d_g
        E += dj * n_g / n
        if n > 1:
            frac = n_g / n
            V += dj * (n - dj) / (n - 1) * (np.diag(frac) - np.outer(frac, frac))
    diff = (O - E)[: k - 1]
    Vr = V[: k - 1, : k - 1]
    out.update(observed=O.tolist(), expected=E.tolist())
    if np.linalg.matrix_rank(Vr) < k - 1:
        return out
    chi2 = float(diff @ np.linalg.solve(Vr, diff))
    out.update(chi2=chi2, p=float(_dist.chi2.sf(chi2, k - 1)))
    return out


# -- the paper's numbers ---------------------------------------------------------------------------

def t_to_p(t: float, df: float | None = None, *, two_sided: bool = True) -> float:
    """p-value of a t statistic (df None: the normal limit, df → ∞)."""
    tail = _dist.norm.sf(abs(t)) if df is None else _dist.t.sf(abs(t), df)
    return float((2 if two_sided else 1) * tail)


def paper_p_check(t: float = PAPER["t"], p_reported: float = PAPER["p"], dfs: tuple = (10, 100, 1000)) -> dict:
    """Does a reported p follow from a reported t? For a two-sample t-test the two-sided p falls as df
    grows, towards the normal limit, so that limit is the smallest p any df can give. For the Muon
    paper (t = 5.0175) it is 5.23e-7 — eight times the reported 6.33e-8 — and a one-sided test gives
    at least 2.6e-7, so the reported p follows from no t-test with that t."""
    p_min = t_to_p(t)
    return {
        "t": t,
        "p_reported": p_reported,
        "p_two_sided_min": p_min,
        "p_one_sided_min": t_to_p(t, two_sided=False),
        "p_two_sided_at_df": {str(df): t_to_p(t, df) for df in dfs},
        "t_needed_for_p_reported": float(_dist.norm.isf(p_reported / 2)),
        "consistent": bool(p_reported >= p_min * (1 - 1e-9)),
    }


# -- everything for two groups at once -------------------------------------------------------------

def compare_groups(a_times, a_events, b_times, b_events, *, labels=("a", "b"), n_boot: int = 10_000,
                   seed: int = 0) -> dict:
    """All the two-group statistics on censored grok epochs: location tests on the runs with events,
    Kaplan–Meier medians and the log-rank test on all runs."""
    ta, da = _survival_input(a_times, a_events)
    tb, db = _survival_input(b_times, b_events)
    ga, gb = ta[da], tb[db]
    return {
        "labels": list(labels),
        "student": student_t(ga, gb),
        "welch": welch_t(ga, gb),
        "mann_whitney": mann_whitney(ga, gb),
        "bootstrap_mean_diff": bootstrap_mean_diff(ga, gb, n_boot=n_boot, seed=seed),
        "km_median": {labels[0]: km_median(kaplan_meier(ta, da)), labels[1]: km_median(kaplan_meier(tb, db))},
        "logrank": logrank(np.concatenate([ta, tb]), np.concatenate([da, db]),
                           [labels[0]] * ta.size + [labels[1]] * tb.size),
    }
