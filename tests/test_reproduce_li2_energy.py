"""Negative controls of li2-energy's verdicts, on the quick mode's groups: each verdict is recomputed with the
condition it is about removed (labels shuffled, the two training fractions swapped, the maxima replaced by random
directions, x² and ReLU swapped) and comes out false there."""

import pytest
import torch

from groklab.groups import get_group
from groklab.li2 import ascend_energy, census, full_data
from groklab.li2.maxima import closed_form_energy
from groklab.reproduce import li2_energy as le

LOW, HIGH = 0.15, 0.9


def _shuffled_maxima(group, starts=32, seed=7):
    """Ascent of E on the full table with the targets shuffled: the group structure removed."""
    idx, labels = full_data(group)
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    res = ascend_energy(idx, labels, group.order, starts=starts, seed=seed)
    c = census(res.w, group, res.energy, res.converged)
    closed = torch.tensor([closed_form_energy(group, lab) for lab in c["label"]], dtype=torch.float64)
    return res, c, torch.where(closed > 0, closed, torch.nan), None  # a trivial-dominated vector has no E*


@pytest.fixture(scope="module")
def measured():
    zm = {M: le._maxima(get_group(f"Z{M}"), 32, seed=M) for M in (11, 12)}
    na = {"S4": le._maxima(get_group("S4"), 32, seed=7)}
    mem = le._memorisation(23, LOW, HIGH, starts=16)
    thm5 = {"Z11": le._thm5(get_group("Z11"))}
    return zm, na, mem, thm5


def _passed(zm, na, mem, thm5) -> dict:
    return {v.claim: v.passed for v in le._verdicts(zm, na, mem, thm5, 23, LOW, HIGH)}


def test_energy_verdicts_fail_in_their_controls(measured):
    zm, na, mem, thm5 = measured
    assert all(_passed(zm, na, mem, thm5).values())  # as measured, every verdict passes
    # labels shuffled: the maxima of E are no longer single irreps
    shuffled_zm = {M: (*_shuffled_maxima(get_group(f"Z{M}"), seed=M)[:3], zm[M][3]) for M in zm}
    shuffled_na = {"S4": (*_shuffled_maxima(get_group("S4"))[:3], na["S4"][3])}
    shuffled = _passed(shuffled_zm, shuffled_na, mem, thm5)
    assert shuffled["full Z_M data: every maximum is a single frequency with the closed-form energy"] is False
    assert shuffled["non-abelian group: every maximum lies in one isotypic subspace with Thm 2's energy"] is False
    assert shuffled["the operand blocks of a maximum have equal norms ‖u‖ = ‖v‖ = 1/√2"] is False
    # the maxima replaced by random directions: they no longer score far above random directions
    random_as_maxima = {M: (res, c, rand[: len(res.energy)], rand) for M, (res, c, _, rand) in zm.items()}
    assert _passed(random_as_maxima, na, mem, thm5)["random unit vectors score far below the maxima"] is False
    # the two training fractions swapped: above p* the maxima do not memorise and Fourier starts survive
    swapped = _passed(zm, na, {LOW: mem[HIGH], HIGH: mem[LOW]}, thm5)
    assert swapped["below the critical ratio the maxima memorise: not single-frequency, and above every Fourier energy"] is False
    assert swapped["Fourier starts are destroyed below p* and kept above it"] is False
    # x² and ReLU swapped: the focused and the spread optimum trade places
    relu_for_sqr = {n: dict(t, sqr=t["relu"], relu=t["sqr"]) for n, t in thm5.items()}
    assert _passed(zm, na, mem, relu_for_sqr)["Thm 5: memorisation is focused for x² and spread (s_g ∝ p_g) for ReLU"] is False

