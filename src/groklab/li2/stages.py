"""Li₂'s three stages from the diagnostic series (docs/li2-quantities.md#stages): where each begins, per member.

The paper gives no rule. groklab's rule finds each onset **on its own**, searching the whole run for a
condition that holds at every diagnostic epoch of a `hold`-epoch window; no stage's search starts at
another's onset, so their order is a measurement, not a consequence of the rule:

* **Stage I (lazy learning)** begins at the first diagnostic epoch (training starts lazy by definition;
  the order that can fail is II < III).
* **Stage II (independent feature learning)** begins at the first epoch of a window in which the top
  layer's update direction has settled — the cosine distance of consecutive updates, 1 − cos(ΔV_t, ΔV_t+1)
  (`li2.dV_cos`), is ≤ `settle_tol` — *and* G_F is aligned with its Stage II prediction ỸỸᵀF̃
  (cos ≥ `align`, `li2.gf_stage2_cos`). With V settled, G_F is near its fixed point (Lemma 1); the early
  Stage I alignment of Prop. 1, while V is still turning, does not count.
* **Stage III (interactive feature learning)** begins at the first epoch of a window in which some
  features have been learned: at least a fraction `cover` of the non-trivial irreps is the dominant irrep
  of an active node with purity ≥ 0.8 (`li2.coverage`). From then on the learned nodes steer the others
  towards the missing irreps (Thm 7) and repel each other (Thm 6).

**Calibration** (on runs the li2-fig3 verdict does not judge): Z23 and Z29, K = 512, x², class-centred
MSE, Adam lr 5e-3, half of the pairs, weight decay 1e-3 against 0, seeds 0–2, 300 epochs, diagnostics
every epoch (`benchmarks/stage_calibration.py`; the series are committed in
docs/results/li2-stage-calibration.json). Requirement: every run with weight decay (all grok, epochs
67–110) has all three stages in order, and no run without it (none groks) has a Stage III. On the grid
align ∈ {0.3 … 0.85}, settle_tol ∈ {2e-3 … 5e-2}, cover ∈ {0.05 … 0.9}, hold ∈ {5, 10, 15, 20} the
requirement holds for align ≤ 0.7, settle_tol ≥ 5e-3 (never at 2e-3: V's direction is not that steady)
and hold ≤ 10 for most thresholds; with hold 20 the early aligned window is too short and Stage II is
found only after Stage III in several runs. `cover` does not separate the arms there (without weight
decay no irrep is ever covered). Chosen: align 0.5, settle_tol 1e-2, cover 0.25, hold 10 epochs — inside
the passing region, not at its edge. On these runs they give II at epochs 4–7 and III at 31–50 with
weight decay; without it, II at 6–7 and no III.

Sampling: with diagnostics every k epochs the update cosines compare k-step displacements, whose
turning angle is about k times the per-step one, so `settle_tol` is scaled by k² (k = the median
spacing of the dV samples). W's settling epoch (the same definition on `li2.dW_cos`) is reported, not
used for the stages: under Adam, W's consecutive updates are aligned from the first steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from groklab.errors import GroklabError

STAGE_NAMES = ("I", "II", "III")


@dataclass(frozen=True)
class StageRule:
    """Thresholds of the stage rule (module docstring: what each means and how they were calibrated)."""

    settle_tol: float = 1e-2  # 1 − cos of consecutive V updates that counts as settled (li2.every = 1)
    hold: float = 10.0  # epochs a condition must keep holding
    align: float = 0.5  # Stage II: cos(G_F, ỸỸᵀF̃) at least this while V is settled
    cover: float = 0.25  # Stage III: at least this fraction of the non-trivial irreps covered

    def __post_init__(self):
        for name, lo, hi in (("settle_tol", 0, 2), ("align", -1, 1), ("cover", 0, 1)):
            value = getattr(self, name)
            if not lo < value <= hi:
                raise GroklabError(f"stage rule {name}={value!r} must be in ({lo}, {hi}]")
        if self.hold < 0:
            raise GroklabError(f"stage rule hold={self.hold!r} must be ≥ 0 epochs")


@dataclass
class Stages:
    """Onset epochs of the stages (None: not reached) and the settling epochs the rule reports."""

    I: int | None
    II: int | None
    III: int | None
    v_settled: int | None
    w_settled: int | None
    settle_tol: float

    def as_dict(self) -> dict:
        """The `stages` entry of a run summary: {"I": e, "II": e, "III": e}."""
        return {"I": self.I, "II": self.II, "III": self.III}

    def details(self) -> dict:
        return asdict(self)


def ordered(stages: dict) -> bool:
    """All three onsets found and I < II < III."""
    values = [stages.get(k) if isinstance(stages, dict) else None for k in STAGE_NAMES]
    return all(v is not None for v in values) and values[0] < values[1] < values[2]


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

    `epochs` [E]; `series` maps keys (`li2.dV_cos`, `li2.dW_cos`, `li2.gf_stage2_cos`, `li2.coverage`; other
    keys are ignored) to arrays [E] aligned with `epochs` (NaN where not computed). Missing keys leave the
    stages that need them at None (e.g. no G_F with a non-MSE loss: no Stage II; no group task: no Stage III).
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

    dv, dw, c2, cov = get("li2.dV_cos"), get("li2.dW_cos"), get("li2.gf_stage2_cos"), get("li2.coverage")
    if len(epochs) == 0:
        return Stages(None, None, None, None, None, rule.settle_tol)

    spacing = _spacing(epochs, dv) if dv is not None else 1.0
    tol = min(rule.settle_tol * spacing**2, 2.0)
    at = lambda i: None if i is None else int(epochs[i])  # noqa: E731
    iv = settle_index(epochs, dv, tol, rule.hold) if dv is not None else None
    iw = settle_index(epochs, dw, tol, rule.hold) if dw is not None else None
    i2 = i3 = None
    with np.errstate(invalid="ignore"):
        if dv is not None and c2 is not None:  # searched over the whole run, on its own condition
            i2 = held_from(epochs, np.isfinite(dv) & np.isfinite(c2) & (1.0 - dv <= tol) & (c2 >= rule.align), rule.hold)
        if cov is not None:  # likewise, independent of where Stage II began
            i3 = held_from(epochs, np.isfinite(cov) & (cov >= rule.cover - 1e-12), rule.hold)
    return Stages(int(epochs[0]), at(i2), at(i3), at(iv), at(iw), tol)
