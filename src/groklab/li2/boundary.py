"""The memorisation/generalisation boundary from probes: where half of the seeds grok.

A *probe* trains the same N seeds at one training fraction p and records, per seed, whether it
grokked within the budget. These pure functions decide where to probe next and estimate the
boundary with a confidence interval:

    next_fraction      the next p to probe, or why the search is over. By default the search knows
                       nothing of the prediction: it bisects, in log p, a fixed bracket (0.02, 0.9)
                       whose ends are taken as "fewer than half grok" and "at least half grok" until a
                       probe says otherwise (an end is probed only when the bracket closes on it).
                       With a `start` (e.g. the predicted p*) it probes there first and gallops away
                       (factors r, r², r⁴, ... with r = 1 + resolution) until the rate is bracketed.
    run_search         the probe loop around next_fraction for any probe function (training, or the
                       synthetic trainer of `groklab.li2.boundary_sim`)
    crossing           p where a logistic curve in ln p, fitted to every seed's outcome at every
                       probe, crosses 1/2 (batched over bootstrap replicates)
    boundary_estimate  the crossing, a percentile CI from a bootstrap over seeds only (new seeds drawn
                       from the fitted curve at the probed fractions), and the final bracket with its
                       resolution hi/lo − 1, reported beside the CI and never mixed into it
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from groklab.errors import GroklabError

HALF = 0.5
DIGITS = 4  # probed fractions are rounded to this many decimals
BRACKET = (0.02, 0.9)  # the fixed, data-independent start of a search
RESOLUTION = 0.1  # stop once the bracket's hi/lo ≤ 1 + RESOLUTION
RIDGE = 1e-3  # penalty on the logistic slope: keeps a fit of perfectly separated outcomes finite


@dataclass(frozen=True)
class SearchLimits:
    lowest: float  # the bracket's low end: the smallest training fraction the search probes
    highest: float  # its high end
    resolution: float  # stop once hi/lo ≤ 1 + resolution


def search_limits(order: int, resolution: float = RESOLUTION, bracket: tuple[float, float] = BRACKET) -> SearchLimits:
    """Limits of a search on a group of `order` elements; refuses a bracket outside (0, 1) and a group
    whose pairs are too few to train on any at the bracket's low end."""
    if not (isinstance(resolution, (int, float)) and math.isfinite(resolution) and resolution > 0):
        raise GroklabError(f"--resolution must be a positive relative width (hi/lo − 1), got {resolution!r}; "
                           "e.g. --resolution 0.1")
    lo, hi = (float(v) for v in bracket)
    if not (0 < lo < hi < 1):
        raise GroklabError(f"--bracket must be two training fractions 0 < LO < HI < 1, got {lo:g},{hi:g}; "
                           "e.g. --bracket 0.02,0.9")
    pairs = int(order) ** 2
    if pairs < 4 or lo * pairs < 1:
        raise GroklabError(
            f"a group of order {order} is too small for a bracket from p = {lo:g}: {lo:g} of its {pairs} pairs is "
            f"less than one pair; use a larger group or a higher bracket (--bracket {max(2 / max(pairs, 1), 0.02):.3g},0.9)")
    return SearchLimits(lowest=lo, highest=hi, resolution=float(resolution))


def bracket(fractions, rates) -> tuple[float | None, float | None]:
    """(lo, hi): hi the smallest probed fraction where at least half grokked, lo the largest below hi
    where fewer than half did (None where no such probe exists)."""
    f, r = np.asarray(fractions, dtype=float), np.asarray(rates, dtype=float)
    up = f[r >= HALF]
    hi = float(up.min()) if up.size else None
    down = f[(r < HALF) & (f < hi)] if hi is not None else f[r < HALF]
    lo = float(down.max()) if down.size else None
    return lo, hi


def resolution_of(lo: float | None, hi: float | None) -> float:
    """The bracket's relative width hi/lo − 1 (nan when open)."""
    return float("nan") if lo is None or hi is None else round(hi / lo - 1, DIGITS)


def _closed(lo: float, hi: float, limits: SearchLimits, digits: int) -> bool:
    mid = round(math.sqrt(lo * hi), digits)
    return hi / lo <= 1 + limits.resolution + 1e-9 or mid in (round(lo, digits), round(hi, digits))


def next_fraction(fractions, rates, limits: SearchLimits, start: float | None = None,
                  digits: int = DIGITS) -> tuple[float | None, str]:
    """The next training fraction to probe and the search status: ("searching" with a fraction), or
    None with "found" (bracket ≤ resolution), "all grok" or "none grok" (the probed end of the fixed
    bracket says the boundary lies outside it)."""
    f = [float(v) for v in fractions]
    lo, hi = bracket(f, rates) if f else (None, None)
    if start is not None and (lo is None or hi is None):
        return _gallop(f, lo, hi, limits, start, digits)
    lo_end, hi_end = (limits.lowest if lo is None else lo), (limits.highest if hi is None else hi)
    if not _closed(lo_end, hi_end, limits, digits):
        return round(math.sqrt(lo_end * hi_end), digits), "searching"
    if lo is None:  # the bracket closed on its low end, never probed: probe it, or the boundary lies below
        low = round(limits.lowest, digits)
        return ((None, "all grok") if low in [round(v, digits) for v in f] else (low, "searching"))
    if hi is None:
        high = round(limits.highest, digits)
        return ((None, "none grok") if high in [round(v, digits) for v in f] else (high, "searching"))
    return None, "found"


def _gallop(f, lo, hi, limits: SearchLimits, start: float, digits: int) -> tuple[float | None, str]:
    """From `start`, steps of ratio r, r², r⁴, ... (r = 1 + resolution) away until the rate is bracketed."""
    if not f:
        return round(min(max(start, limits.lowest), limits.highest), digits), "searching"
    factor = (1 + limits.resolution) ** (2 ** (len(f) - 1))
    if hi is None:
        top = max(f)
        return (None, "none grok") if top >= limits.highest else (round(min(top * factor, limits.highest), digits), "searching")
    bottom = min(f)
    return (None, "all grok") if bottom <= limits.lowest else (round(max(bottom / factor, limits.lowest), digits), "searching")


def run_search(probe: Callable[[float], np.ndarray], limits: SearchLimits, start: float | None = None,
               max_probes: int = 16) -> tuple[list[float], np.ndarray, str]:
    """Probe until next_fraction stops: `probe(p)` returns the N seeds' grokked flags at p. Returns the
    fractions, the outcome matrix [probes, N] and the status ("probe limit" when `max_probes` ran out)."""
    fractions, rows = [], []
    while len(fractions) < max_probes:
        p, status = next_fraction(fractions, [float(np.mean(r)) for r in rows], limits, start)
        if p is None:
            return fractions, np.array(rows, dtype=bool), status
        fractions.append(p)
        rows.append(np.asarray(probe(p), dtype=bool))
    return fractions, np.array(rows, dtype=bool), "probe limit"


def _logistic(fractions, grokked, seeds: int, iters: int = 60):
    """Penalised Newton fits of a logistic curve in ln p to `grokked` [B, P] (counts of seeds that grokked
    per probe, out of `seeds`; B fits at once): (beta [B, 2], design [P, 2], centre, scale of ln p)."""
    z = np.log(np.asarray(fractions, dtype=float))
    k = np.atleast_2d(np.asarray(grokked, dtype=float))
    centre, scale = z.mean(), max(z.std(), 1e-6)
    X = np.stack([np.ones_like(z), (z - centre) / scale], axis=1)
    beta = np.zeros((k.shape[0], 2))
    penalty = np.diag([0.0, RIDGE * seeds * len(z)])
    for _ in range(iters):
        mu = 1 / (1 + np.exp(-np.clip(beta @ X.T, -30, 30)))  # [B, P]
        grad = (k - seeds * mu) @ X - beta @ penalty
        hess = np.einsum("bp,pi,pj->bij", seeds * mu * (1 - mu) + 1e-9, X, X) + penalty
        step = np.clip(np.linalg.solve(hess, grad[..., None])[..., 0], -5, 5)
        beta = beta + step
        if np.abs(step).max() < 1e-8:
            break
    return beta, X, centre, scale


def crossing(fractions, grokked, seeds: int) -> np.ndarray:
    """Where the logistic curve in ln p fitted to `grokked` [B, P] crosses 1/2, one per row. Clipped to the
    probed range: a fit whose rate does not cross within it sits at the edge the crossing lies beyond."""
    k = np.atleast_2d(np.asarray(grokked, dtype=float))
    beta, _, centre, scale = _logistic(fractions, k, seeds)
    z = np.log(np.asarray(fractions, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        zc = np.where(beta[:, 1] > 0, -beta[:, 0] / beta[:, 1], np.where(k.mean(1) >= seeds / 2, -np.inf, np.inf))
    return np.exp(np.clip(zc * scale + centre, z.min(), z.max()))


def boundary_estimate(fractions, outcomes, boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Estimate of the half-grok fraction from probes: `outcomes` [P, N] booleans (probe × seed).

    Returns {"estimate", "ci": (lo, hi), "bracket": (lo, hi), "resolution": hi/lo − 1, "samples":
    bootstrap estimates [boot]}. The CI is a bootstrap over seeds only: each replicate draws N new seeds'
    outcomes at the probed fractions from the fitted curve and refits (resampling the observed seed
    columns instead covers far less often: a probe where all 8 of 8 seeds grokked then never yields 7 of 8).
    Where the probes do not bracket 1/2 the estimate is nan and the CI the bracket's open side."""
    f = np.asarray(fractions, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if y.ndim != 2 or y.shape[0] != f.size or y.shape[1] < 1:
        raise GroklabError(f"outcomes must be [probes, seeds] = [{f.size}, N ≥ 1], got shape {y.shape}")
    n = y.shape[1]
    lo, hi = bracket(f, y.mean(1))
    if lo is None or hi is None:
        nan = float("nan")
        return {"estimate": nan, "ci": (lo if lo is not None else nan, hi if hi is not None else nan),
                "bracket": (lo, hi), "resolution": nan, "samples": np.full(boot, nan)}
    beta, X, _, _ = _logistic(f, y.sum(1)[None], n)
    estimate = float(crossing(f, y.sum(1)[None], n)[0])
    rate = 1 / (1 + np.exp(-np.clip(X @ beta[0], -30, 30)))
    samples = crossing(f, np.random.default_rng(seed).binomial(n, rate, size=(boot, f.size)), n)
    alpha = (1 - level) / 2
    ci = tuple(float(v) for v in np.quantile(samples, [alpha, 1 - alpha]))
    return {"estimate": estimate, "ci": ci, "bracket": (lo, hi), "resolution": resolution_of(lo, hi), "samples": samples}
