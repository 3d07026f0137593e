"""Li₂'s three stages from the diagnostic series (docs/li2-quantities.md#stages): where each begins, per member.

The rule (the paper gives none; thresholds are `StageRule` parameters, chosen on the Z71 Fig. 3 run
and Z23 runs). What it gives, diagnostics every epoch unless noted:

    run (Adam)                          memorized  II   III   grokked
    Z71 K=2048 lr 1e-3 wd 2e-4 (seed 0)     14      17    58    131   (every 2 epochs: 18, 58, 132)
    Z71 ... wd 0                            12      15    47    never
    Z23 K=512 lr 5e-3 wd 1e-3 (seeds 0,1)   5, 6    62, 63  94, 96  106, 110   (every 5: 65, 95–100)
    Z23 K=512 lr 1e-3 wd 2e-4               20      25    946   940   (G_F collapses 12× at ~100: a transient)

So Stage II starts once G_F has lined up with ỸỸᵀF̃ (in Z71 right after memorization), and Stage III
where that alignment breaks, which in these grokking runs falls inside the rise of test accuracy (Z71:
as it starts; Z23: near its end). Without weight decay the alignment also breaks — G_F then decays
towards 0 (Eqn 4 with η = 0) rather than turning.

* **Stage I (lazy learning)** begins at the first diagnostic epoch.
* **V settles** at the first epoch from which the cosine distance of consecutive top-layer updates,
  1 − cos(ΔV_t, ΔV_t+1) (`li2.dV_cos`), stays ≤ `settle_tol` for `hold` epochs. In Stage I the top layer
  fits the (nearly frozen) features and turns; once it has settled, the backpropagated gradient is
  near its fixed point. The same definition on `li2.dW_cos` gives W's settling epoch (reported, not
  used for the stages: under Adam, W's consecutive updates are aligned from the first steps).
* **Stage II (independent feature learning)** begins at the first epoch at or after V settles where
  G_F is aligned with its Stage II prediction: cos(G_F, ỸỸᵀF̃) (`li2.gf_stage2_cos`) ≥ `align_frac` ×
  its peak after V settles, held for `hold` epochs. The peak is taken *after* V settles because in
  early Stage I G_F(t) = ỸV₀ᵀ + tỸỸᵀF̃ (Prop. 1) is also aligned — a fast run reaches that early
  alignment before V has fitted and then loses it again while V overshoots (Z23 at lr 5e-3).
  No Stage II when that peak is below `min_align`.
* **Stage III (interactive feature learning)** begins at the first epoch after Stage II where the
  stage-II cosine has departed: ≤ `depart_frac` × its running maximum since Stage II began, held for
  `hold` epochs — B = (F̃ᵀF̃ + ηI)⁻¹ and P_η are no longer ∝ I, so nodes interact (Thm 6, 7).
  A departure that dips deep (below `dip_frac` × that maximum) and then recovers (above `recover_frac`
  × it, for `hold` epochs) is a transient, not Stage III: the top layer's fit has collapsed G_F for a
  while (‖G_F‖ fell 12× in Z23 at lr 1e-3) and the alignment comes back. The search then continues
  from the recovery, against the recovered level.

Sampling: with diagnostics every k epochs the update cosines compare k-step displacements, whose
turning angle is about k times the per-step one, so the tolerance is scaled by k² (k = the median
spacing of the dV samples). The result is ordered I < II < III whenever the later stages exist.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from groklab.errors import GroklabError

STAGE_NAMES = ("I", "II", "III")


@dataclass(frozen=True)
class StageRule:
    """Thresholds of the stage rule (module docstring)."""

    settle_tol: float = 5e-3  # 1 − cos of consecutive updates that counts as settled (li2.every = 1)
    hold: float = 20.0  # epochs a condition must keep holding
    align_frac: float = 0.9  # Stage II: stage-II cosine ≥ this × its peak after V settles
    depart_frac: float = 0.95  # Stage III: stage-II cosine ≤ this × its running max since Stage II
    dip_frac: float = 0.5  # a departure that dips below this × the running max ...
    recover_frac: float = 0.8  # ... and comes back above this × it is a transient, not Stage III
    min_align: float = 0.3  # no Stage II when the stage-II cosine never reaches this

    def __post_init__(self):
        for name, lo, hi in (("settle_tol", 0, 2), ("align_frac", 0, 1), ("depart_frac", 0, 1), ("dip_frac", 0, 1),
                             ("recover_frac", 0, 1), ("min_align", -1, 1)):
            value = getattr(self, name)
            if not lo < value <= hi:
                raise GroklabError(f"stage rule {name}={value!r} must be in ({lo}, {hi}]")
        if self.hold < 0:
            raise GroklabError(f"stage rule hold={self.hold!r} must be ≥ 0 epochs")


@dataclass
class Stages:
    """Onset epochs of the stages (None: not reached) and the markers the rule used."""

    I: int | None
    II: int | None
    III: int | None
    v_settled: int | None
    w_settled: int | None
    stage2_peak: float | None
    settle_tol: float

    def as_dict(self) -> dict:
        """The `stages` entry of a run summary: {"I": e, "II": e, "III": e}."""
        return {"I": self.I, "II": self.II, "III": self.III}

    def details(self) -> dict:
        return asdict(self)


def held_from(epochs: np.ndarray, ok: np.ndarray, hold: float, start: int = 0) -> int | None:
    """Index of the first sample i ≥ start with `ok` true at every sample in [epochs[i], epochs[i] + hold]
    (to the end of the data when that comes sooner); None if there is none."""
    n = len(epochs)
    i = start
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j < n and epochs[j] <= epochs[i] + hold and ok[j]:
            j += 1
        if j == n or epochs[j] > epochs[i] + hold:
            return i
        i = j + 1  # sample j fails: no window starting before it can hold
    return None


def settle_index(epochs: np.ndarray, cos: np.ndarray, tol: float, hold: float) -> int | None:
    """First sample from which 1 − cos stays ≤ tol for `hold` epochs (NaN never counts as settled)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(cos) & (1.0 - cos <= tol)
    return held_from(epochs, ok, hold)


def _spacing(epochs: np.ndarray, values: np.ndarray) -> float:
    e = epochs[np.isfinite(values)]
    return float(np.median(np.diff(e))) if len(e) > 1 else 1.0


def segment(epochs, series: dict, rule: StageRule | None = None) -> Stages:
    """Stage onsets of one member from its diagnostic series.

    `epochs` [E]; `series` maps keys (`li2.dV_cos`, `li2.dW_cos`, `li2.gf_stage2_cos`; other keys are
    ignored) to arrays [E] aligned with `epochs` (NaN where not computed). Missing keys leave the
    stages that need them at None (e.g. no G_F with a non-MSE loss: only Stage I).
    """
    rule = rule or StageRule()
    epochs = np.asarray(epochs, dtype=float)
    order = np.argsort(epochs, kind="stable")
    epochs = epochs[order]

    def get(key):
        if key not in series:
            return None
        value = np.asarray(series[key], dtype=float).reshape(-1)
        if value.shape != epochs.shape:
            raise GroklabError(f"series {key!r} has {value.shape[0]} values for {epochs.shape[0]} epochs")
        return value[order]

    dv, dw, c2 = get("li2.dV_cos"), get("li2.dW_cos"), get("li2.gf_stage2_cos")
    if len(epochs) == 0:
        return Stages(None, None, None, None, None, None, rule.settle_tol)

    spacing = _spacing(epochs, dv) if dv is not None else 1.0
    tol = min(rule.settle_tol * spacing**2, 2.0)
    at = lambda i: None if i is None else int(epochs[i])  # noqa: E731
    iv = settle_index(epochs, dv, tol, rule.hold) if dv is not None else None
    iw = settle_index(epochs, dw, tol, rule.hold) if dw is not None else None
    first = int(epochs[0])

    i2 = i3 = peak = None
    if iv is not None and c2 is not None:
        after = c2[iv:]
        if np.isfinite(after).any() and np.nanmax(after) >= rule.min_align:
            peak = float(np.nanmax(after))
            with np.errstate(invalid="ignore"):
                i2 = held_from(epochs, np.isfinite(c2) & (c2 >= rule.align_frac * peak), rule.hold, start=iv)
    if i2 is not None:
        i3 = _departure(epochs, c2, i2, rule)
    return Stages(first, at(i2), at(i3), at(iv), at(iw), peak, tol)


def _departure(epochs: np.ndarray, c2: np.ndarray, start: int, rule: StageRule) -> int | None:
    """Stage III onset: the first lasting departure of c2 from its running maximum since `start`
    that is not a transient (a deep dip followed by a recovery), or None."""
    finite = np.isfinite(c2)
    value = np.where(finite, c2, np.nan)
    while start < len(epochs):
        running = np.fmax.accumulate(np.where(finite, c2, -np.inf)[start:])
        departed = np.zeros(len(c2), dtype=bool)
        with np.errstate(invalid="ignore"):
            departed[start:] = finite[start:] & (value[start:] <= rule.depart_frac * running)
        i = held_from(epochs, departed, rule.hold, start=start + 1)
        if i is None:
            return None
        ref = running[i - start]
        with np.errstate(invalid="ignore"):
            recovered = finite & (value >= rule.recover_frac * ref)
        back = held_from(epochs, recovered, rule.hold, start=i + 1)
        rest = value[i:back] if back is not None else value[i:]
        deep = np.isfinite(rest).any() and np.nanmin(rest) <= rule.dip_frac * ref
        if back is None or not deep:
            return i
        start = back  # a transient: look for the departure from the recovered level
    return None
