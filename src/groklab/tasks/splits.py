"""Train/test splits of a task's rows, and the Li₂ critical data ratio.

Three modes:

* ``reference`` (default) — bit-for-bit what the Li₂ reference code gets from
  ``sklearn.model_selection.train_test_split(X, y, test_size=t, random_state=seed)``, without sklearn.
  sklearn (``_validate_shuffle_split`` + ``ShuffleSplit._iter_indices``) does
  ``n_test = ceil(t · n)``, ``n_train = n − n_test``, ``perm = RandomState(seed).permutation(n)``,
  ``test = perm[:n_test]``, ``train = perm[n_test:n_test + n_train]``, and returns the rows in that
  permuted order. With rows enumerated in the reference's order (first-operand-major, see
  datasets.py) this selects the reference's rows.
* ``random`` — ``Generator(PCG64(seed)).permutation(n)``, ``n_train = int(f · n)`` (floor, as the Muon base code's data.py), train first
  (the Muon-grokking base code's "random permutation, fixed fraction" split, but seeded).
* ``bernoulli`` — each row is in the training set independently with probability f, the sampling
  model of the Li₂ proofs (Thm 4); at least one train and one test row are guaranteed.

Index order: ``reference``/``random`` keep the permutation order (as sklearn returns it; this matters
only for mini-batching, never for full-batch training); ``bernoulli`` returns ascending indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from groklab.errors import GroklabError

SPLIT_MODES = ("reference", "random", "bernoulli")
CRITICAL_RATIO_C = 2.7482  # reference `critical_ratio_multiplier` since 15 Sep 2025 (was 5.82)


@dataclass(eq=False)
class Split:
    """Row indices of the training and test sets (int64, disjoint, together all rows)."""

    train: np.ndarray
    test: np.ndarray

    @property
    def n_train(self) -> int:
        return int(self.train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.test.shape[0])

    @property
    def train_fraction(self) -> float:
        """The realised fraction (differs from the requested one by rounding, or by chance for bernoulli)."""
        return self.n_train / (self.n_train + self.n_test)


def _check_fraction(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise GroklabError(f"{what} must be a number in (0, 1), got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise GroklabError(f"{what} must be in (0, 1), got {value:g}")
    return value


def _check_seed(seed) -> int:
    # RandomState accepts 0..2**32-1 only; enforce that range for every mode so that a seed is
    # valid regardless of the mode it is used with.
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**32:
        raise GroklabError(f"split seed must be an integer in 0..{2**32 - 1}, got {seed!r}")
    return int(seed)


def split_rows(
    n_rows: int,
    *,
    seed: int,
    train_fraction: float | None = None,
    train_size: int | None = None,
    test_fraction: float | None = None,
    mode: str = "reference",
) -> Split:
    """Split row indices 0..n_rows-1 into train and test.

    Give exactly one of:
      train_fraction: fraction of rows to train on, in (0, 1).
      train_size: number of training rows, in 1..n_rows-1.
      test_fraction: the reference's own `test_size`, in (0, 1). Reference mode computes
        ``ceil(test_size · n)``, and ``1 − (1 − t)`` is not always ``t`` in floating point
        (t = 0.01, n = 100: ceil gives 1 for t but 2 for 1 − 0.99), so pass the reference config's
        test_size here to reproduce its split exactly. With train_fraction, test_size is computed as
        ``1 − train_fraction`` — exactly what the reference does in critical-ratio mode, and equal to
        the config value for the paper's settings (0.6 with M = 71, 0.8 with M = 127).
    """
    if mode not in SPLIT_MODES:
        raise GroklabError(f"unknown split mode {mode!r}; allowed: {', '.join(SPLIT_MODES)}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, Integral) or n_rows < 2:
        raise GroklabError(f"a split needs at least 2 rows, got {n_rows!r}")
    n = int(n_rows)
    seed = _check_seed(seed)
    given = [k for k, v in (("train_fraction", train_fraction), ("train_size", train_size),
                            ("test_fraction", test_fraction)) if v is not None]
    if len(given) != 1:
        raise GroklabError(
            f"give exactly one of train_fraction, train_size, test_fraction (got {', '.join(given) or 'none'})"
        )

    if train_size is not None:
        if isinstance(train_size, bool) or not isinstance(train_size, Integral) or not 1 <= train_size <= n - 1:
            raise GroklabError(f"train size must be an integer in 1..{n - 1} for {n} rows, got {train_size!r}")
        n_train_fixed: int | None = int(train_size)
        test_size = None
        frac = n_train_fixed / n
    elif train_fraction is not None:
        frac = _check_fraction(train_fraction, "train fraction")
        test_size = 1.0 - frac
        n_train_fixed = None
    else:
        test_size = _check_fraction(test_fraction, "test fraction")
        frac = 1.0 - test_size
        n_train_fixed = None

    if mode == "reference":
        n_test = n - n_train_fixed if n_train_fixed is not None else math.ceil(test_size * n)
        n_train = n - n_test
        _check_counts(n_train, n_test, n, frac)
        perm = np.random.RandomState(seed).permutation(n).astype(np.int64)
        return Split(train=perm[n_test : n_test + n_train], test=perm[:n_test])

    rng = np.random.Generator(np.random.PCG64(seed))
    if mode == "random":
        if n_train_fixed is not None:
            n_train = n_train_fixed
        elif train_fraction is not None:
            n_train = int(frac * n)
        else:
            n_train = n - int(test_size * n)
        _check_counts(n_train, n - n_train, n, frac)
        perm = rng.permutation(n).astype(np.int64)
        return Split(train=perm[:n_train], test=perm[n_train:])

    # bernoulli: i.i.d. membership; repair the (rare) degenerate draws so both sets are non-empty
    mask = rng.random(n) < frac
    if not mask.any():
        mask[rng.integers(n)] = True
    elif mask.all():
        mask[rng.integers(n)] = False
    return Split(train=np.flatnonzero(mask).astype(np.int64), test=np.flatnonzero(~mask).astype(np.int64))


def _check_counts(n_train: int, n_test: int, n: int, frac: float) -> None:
    if n_train < 1 or n_test < 1:
        raise GroklabError(
            f"train fraction {frac:g} of {n} rows leaves {n_train} train and {n_test} test rows; "
            "both must be at least 1 — use a fraction further from 0 and 1"
        )


def critical_fraction(order: int, *, c: float = CRITICAL_RATIO_C, delta: float = 0.0, d_max: int = 1) -> float:
    """The reference's critical training fraction corr·(c − δ)·ln|G| / |G|.

    Definitions: docs/li2-quantities.md#critical-data-ratio.

    corr = 1 when d_max == 1 (abelian), else d_max / 2: the reference's *linear* correction for
    non-abelian `collection` groups, whereas Thm 4 scales with d_k². The two agree at d_max = 2.
    (The reference applies no correction to `sym` groups; pass d_max=1 to reproduce that.)

    The product is evaluated in the reference's floating-point order, so ``1 − result`` is exactly
    the reference's test_size and ``split_rows(train_fraction=result)`` gives its split.
    """
    if isinstance(order, bool) or not isinstance(order, Integral) or order < 2:
        raise GroklabError(f"critical fraction needs a group order ≥ 2, got {order!r}")
    if isinstance(d_max, bool) or not isinstance(d_max, Integral) or d_max < 1:
        raise GroklabError(f"d_max (largest irrep degree) must be an integer ≥ 1, got {d_max!r}")
    corr = 1 if d_max == 1 else d_max / 2
    p = corr * math.log(order) / order * (c - delta)  # same order of operations as the reference
    if not 0.0 < p < 1.0:
        fix = "use a smaller c (or a larger δ) or a larger group" if p >= 1.0 else "c − δ must be positive"
        raise GroklabError(
            f"critical fraction {p:.4g} for |G| = {order} (c = {c:g}, δ = {delta:g}, d_max = {d_max}) "
            f"is not in (0, 1); {fix}"
        )
    return p
