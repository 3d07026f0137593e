"""The memorisation/generalisation boundary from probes: where half of the seeds grok.

A *probe* trains the same N seeds at one training fraction p and records, per seed, whether it
grokked within the budget. These pure functions decide where to probe next (galloping out from the
predicted p*, then bisection) and estimate the boundary with a confidence interval:

    next_fraction        the next p to probe (galloping from the prediction, then bisecting), or why
                         the search is over
    half_crossing        p where the grok rate crosses 1/2: isotonic (non-decreasing) fit of the
                         rate over p, then linear interpolation between the probes around 1/2
    boundary_estimate    half_crossing of the observed rates, and a bootstrap CI over seeds
    fit_c                c in p* = c·corr·ln M/M through the origin, with a bootstrap CI

The confidence interval resamples seeds (the columns of the outcome matrix, which are the same seeds
at every probe) and recomputes the crossing. The search cannot place the boundary more finely than
its final bracket, so each bootstrap replicate is also shifted uniformly within ± half the bracket
width, and the interval is widened to contain the bracket. `fit_c` refits c on the same replicates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from groklab.errors import GroklabError

HALF = 0.5
DIGITS = 4  # probed fractions are rounded to this many decimals


@dataclass(frozen=True)
class SearchLimits:
    lowest: float  # smallest training fraction worth probing
    highest: float  # largest
    tol: float  # stop once the bracket is this narrow (absolute, in training fraction)


def search_limits(order: int, tol: float, lowest: float | None = None, highest: float = 0.95) -> SearchLimits:
    """Limits of a search on a group of `order` elements; refuses a group too small to resolve `tol`."""
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise GroklabError(f"--tol must be a positive training-fraction width, got {tol!r}; e.g. --tol 0.02")
    pairs = int(order) ** 2
    step = 1.0 / pairs
    if pairs < 4 or step > tol:
        raise GroklabError(
            f"a group of order {order} is too small to split at --tol {tol:g}: its {pairs} pairs move the training "
            f"fraction in steps of {step:.3g}; use a larger group" + (f" or --tol ≥ {step:.3g}" if pairs >= 4 else ""))
    return SearchLimits(lowest=max(step, 0.005) if lowest is None else lowest, highest=highest, tol=float(tol))


def bracket(fractions, rates) -> tuple[float | None, float | None]:
    """(lo, hi): hi the smallest probed fraction where at least half grokked, lo the largest below hi
    where fewer than half did (None where no such probe exists)."""
    f, r = np.asarray(fractions, dtype=float), np.asarray(rates, dtype=float)
    up = f[r >= HALF]
    hi = float(up.min()) if up.size else None
    down = f[(r < HALF) & (f < hi)] if hi is not None else f[r < HALF]
    lo = float(down.max()) if down.size else None
    return lo, hi


def bracket_width(lo: float, hi: float, digits: int = DIGITS) -> float:
    """hi − lo at the precision the fractions carry: 0.4683 − 0.3747 is 0.09360000000000002 in floats,
    and a tolerance of 0.0936 must count that bracket as narrow enough."""
    return round(hi - lo, digits)


def next_fraction(fractions, rates, start: float, limits: SearchLimits, digits: int = DIGITS) -> tuple[float | None, str]:
    """The next training fraction to probe and the search status: ("searching" with a fraction), or
    None with "found" (bracket ≤ tol or no new fraction between), "all grok" or "none grok".

    Until the grok rate is bracketed the search gallops away from the prediction: its first step is the
    tolerance itself and each further step doubles (tol, 2·tol, 4·tol, ...). A good prediction — the point
    of the scaling law — is then bracketed at the requested precision in two probes; a poor one costs
    log2(distance/tol) steps, as doubling the fraction would. Small first steps matter because a probe
    below the boundary cannot stop early (every seed trains to the budget) while one above it stops at
    each seed's grok."""
    if len(fractions) == 0:
        return round(min(max(start, limits.lowest), limits.highest), digits), "searching"
    lo, hi = bracket(fractions, rates)
    step = limits.tol * 2 ** (len(fractions) - 1)  # unbracketed, every probe so far was a step one way
    if hi is None:
        top = max(fractions)
        return (None, "none grok") if top >= limits.highest else (round(min(top + step, limits.highest), digits), "searching")
    if lo is None:
        bottom = min(fractions)
        return (None, "all grok") if bottom <= limits.lowest else (round(max(bottom - step, limits.lowest), digits), "searching")
    mid = round((lo + hi) / 2, digits)
    if bracket_width(lo, hi, digits) <= limits.tol or mid in (round(lo, digits), round(hi, digits)):
        return None, "found"
    return mid, "searching"


def _isotonic(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks = [[float(v), float(wt), 1] for v, wt in zip(y, w)]
    out: list[list[float]] = []
    for b in blocks:
        out.append(b)
        while len(out) > 1 and out[-2][0] > out[-1][0]:
            v2, w2, n2 = out.pop()
            v1, w1, n1 = out.pop()
            out.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([[v] * int(n) for v, _, n in out])


def half_crossing(fractions, rates, weights=None, clamp: bool = False) -> float:
    """Training fraction where the (isotonic) grok rate reaches 1/2, linearly interpolated; nan when the
    rate is at or above 1/2 at the smallest fraction or below it everywhere (with `clamp`, the smallest
    or the largest fraction instead: the crossing lies at or beyond it)."""
    f = np.asarray(fractions, dtype=float)
    order = np.argsort(f)
    f, r = f[order], np.asarray(rates, dtype=float)[order]
    w = np.ones_like(f) if weights is None else np.asarray(weights, dtype=float)[order]
    fit = _isotonic(r, w)
    above = np.flatnonzero(fit >= HALF)
    if above.size == 0 or above[0] == 0:
        return float("nan") if not clamp else float(f[-1] if above.size == 0 else f[0])
    i = above[0]
    return float(f[i - 1] + (HALF - fit[i - 1]) * (f[i] - f[i - 1]) / (fit[i] - fit[i - 1]))


def boundary_estimate(fractions, outcomes, boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Estimate of the half-grok fraction from probes: `outcomes` [P, N] booleans (probe × seed).

    Returns {"estimate", "ci": (lo, hi), "bracket": (lo, hi), "samples": bootstrap estimates [boot]}; the
    estimate is nan (and the CI the bracket's open side) when the probes do not bracket 1/2."""
    f = np.asarray(fractions, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if y.ndim != 2 or y.shape[0] != f.size or y.shape[1] < 1:
        raise GroklabError(f"outcomes must be [probes, seeds] = [{f.size}, N ≥ 1], got shape {y.shape}")
    estimate = half_crossing(f, y.mean(1))
    lo, hi = bracket(f, y.mean(1))
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, y.shape[1], size=(boot, y.shape[1]))
    # a resample whose rates do not cross within the probes puts the boundary at the probed edge
    samples = np.array([half_crossing(f, y[:, c].mean(1), clamp=True) for c in cols])
    if lo is not None and hi is not None:
        samples = samples + rng.uniform(-(hi - lo) / 2, (hi - lo) / 2, size=boot)
    alpha = (1 - level) / 2
    if lo is None or hi is None:
        ci = (lo if lo is not None else float("nan"), hi if hi is not None else float("nan"))
    else:
        q_lo, q_hi = np.quantile(samples, [alpha, 1 - alpha])
        ci = (min(float(q_lo), lo), max(float(q_hi), hi))
    return {"estimate": estimate, "ci": ci, "bracket": (lo, hi), "samples": samples}


def fit_c(boundaries, x, samples=None, level: float = 0.95) -> dict:
    """c through the origin from boundaries p*_g and x_g = corr·ln M/M (least squares: Σxp/Σx²); with
    `samples` [G, B] (bootstrap boundaries per group), a CI from refitting each replicate."""
    p, x = np.asarray(boundaries, dtype=float), np.asarray(x, dtype=float)
    keep = np.isfinite(p)
    if not keep.any():
        return {"c": float("nan"), "ci": (float("nan"), float("nan")), "groups": 0}
    c = float((x[keep] * p[keep]).sum() / (x[keep] ** 2).sum())
    ci = (float("nan"), float("nan"))
    if samples is not None:
        s = np.asarray(samples, dtype=float)[keep]
        ok = np.isfinite(s).all(0)
        reps = (x[keep, None] * s[:, ok]).sum(0) / (x[keep] ** 2).sum()
        if reps.size:
            alpha = (1 - level) / 2
            ci = tuple(float(v) for v in np.quantile(reps, [alpha, 1 - alpha]))
    return {"c": c, "ci": ci, "groups": int(keep.sum())}
