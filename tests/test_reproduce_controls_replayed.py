"""Negative controls replayed on committed full-mode results (docs/results/*.json): each reproduction's verdict
function, fed the committed numbers, gives the committed outcome, and fed the same numbers with the arms swapped
(or the mechanism removed) comes out false."""

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]


def _results(name: str) -> dict:
    return json.loads((ROOT / "docs/results" / f"{name}.json").read_text())


def _number(x) -> float:
    return float("inf") if x == "censored" or x is None else float(x)


def test_depth_verdicts_fail_with_depths_reversed_and_the_untrained_layer():
    from groklab.reproduce.li2_depth import verdicts

    data = _results("li2-depth")
    median = {k: _number(v) for k, v in data["verdicts"][0]["measured"].items()}
    purity = {k: v["trained"] for k, v in data["verdicts"][1]["measured"].items()}
    purity0 = {k: v["at init"] for k, v in data["verdicts"][1]["measured"].items()}
    labels = list(median)
    replay = verdicts(labels, median, True, purity, purity0, "")
    assert [v.passed for v in replay] == [v["pass"] for v in data["verdicts"]] == [True, True]
    deeper_first = verdicts(labels[::-1], median, True, purity, purity0, "")  # depths in reverse order
    untrained = verdicts(labels, median, True, purity0, purity0, "")  # the bottom layer as initialised
    assert deeper_first[0].passed is False and untrained[1].passed is False


def test_complex_verdict_fails_with_the_arms_swapped():
    from groklab.reproduce.li2_complex import ARMS, verdicts

    data = _results("li2-complex")
    per_m = data["verdicts"][0]["measured"]
    orders = [int(key[1:]) for key in per_m]
    median = {f"{key} {arm}": _number(per_m[key][arm]["median grok epoch"]) for key in per_m for arm in ARMS}
    grokked = {f"{key} {arm}": int(per_m[key][arm]["grokked"].split("/")[0]) for key in per_m for arm in ARMS}
    imag = {int(k[1:]): [v["min"], v["max"]] for k, v in data["verdicts"][1]["measured"].items()}
    replay = verdicts(orders, median, grokked, imag, 5, "")
    assert [v.passed for v in replay] == [v["pass"] for v in data["verdicts"]] == [True, True]
    swap = {"real": "complex", "complex": "real"}
    swapped = {f"{key.rsplit(' ', 1)[0]} {swap[key.rsplit(' ', 1)[1]]}": v for key, v in median.items()}
    assert verdicts(orders, swapped, grokked, imag, 5, "")[0].passed is False



def test_complexness_verdict_fails_on_real_weights():
    """The complexness check applied to real first layers (the real arm's kind, and the reference's complex mode,
    which starts real and stays real) comes out false, as measured on complex ones it passes."""
    import torch

    from groklab.reproduce.li2_complex import _complexness, verdicts

    data = _results("li2-complex")
    per_m = data["verdicts"][0]["measured"]
    orders = [int(key[1:]) for key in per_m]
    median = {f"{key} {arm}": 1.0 for key in per_m for arm in ("real", "complex")}
    grokked = {key: 5 for key in median}
    rows = torch.randn(5, 64, 2 * 23, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    real = {M: [_complexness(W) for W in rows] for M in orders}
    rotated = {M: [_complexness(W * torch.exp(torch.tensor(0.7j))) for W in rows] for M in orders}  # real times a phase
    complex_rows = {M: [_complexness(torch.complex(W, torch.randn_like(W))) for W in rows] for M in orders}
    assert verdicts(orders, median, grokked, complex_rows, 5, "")[1].passed is True
    assert verdicts(orders, median, grokked, real, 5, "")[1].passed is False
    assert verdicts(orders, median, grokked, rotated, 5, "")[1].passed is False


def test_zero_init_verdicts_fail_with_the_inits_swapped():
    from groklab.reproduce import li2_zero_init as zi

    data = _results("li2-zero-init")
    measured = data["verdicts"][0]["measured"]
    medians, grokked = {}, {}
    for cell, pair in measured.items():
        group, fraction = cell.split(" p=")
        for name, key in (("default init", "default"), ("zero init", "zero")):
            medians[(int(group[1:]), float(fraction), name)] = _number(pair[key])
            grokked[(int(group[1:]), float(fraction), name)] = zi.FULL["seeds"]  # every run grokked (the README)
    paired = data["verdicts"][2]["measured"]
    pairs = dict(wins_a=paired["zero init later"], wins_b=paired["zero init earlier"], ties=paired["tied"],
                 p=paired["sign test p (two-sided, ties dropped)"])
    replay = zi.verdicts(medians, grokked, pairs, zi.FULL, zi.FULL["seeds"])
    assert [v.passed for v in replay] == [v["pass"] for v in data["verdicts"]]
    assert replay[1].measured == data["verdicts"][1]["measured"]
    swap = {"default init": "zero init", "zero init": "default init"}
    swapped = zi.verdicts({(M, f, swap[n]): v for (M, f, n), v in medians.items()}, grokked,
                          dict(pairs, wins_a=pairs["wins_b"], wins_b=pairs["wins_a"]), zi.FULL, zi.FULL["seeds"])
    assert [v.passed for v in swapped] == [False, False, False]
    assert np.isfinite(list(medians.values())).all()


def _lr_members(by_seed: dict, measured_energy: dict | None = None) -> dict:
    """li2-lr's members per lr (increasing) rebuilt from a report's `by_seed` table."""
    members = {}
    for key, table in by_seed.items():
        if not key.startswith("lr ") or "against" in key:
            continue
        lr = float(key[3:])
        active = measured_energy[key]["active nodes"] if measured_energy else 0.0
        members[lr] = [dict(test=t, train=1.0, energy=e, energy_active=active)
                       for t, e in zip(table["final test accuracy"], table["mean node energy"])]
    return dict(sorted(members.items()))


def test_lr_verdicts_fail_with_the_lrs_reversed():
    """Replayed on the committed full mode (Z127): the accuracy verdict fails as committed, the energy verdict
    passes, and with the lrs' order reversed the energy verdict fails (its control; the accuracy verdict's control,
    on the quick mode where it passes, is in test_reproduce_li2.py's li2-lr check)."""
    from groklab.reproduce.li2_lr import lr_verdicts

    data = _results("li2-lr")
    members = _lr_members(data["by_seed"], data["verdicts"][3]["measured"])
    falls, fits, energy = lr_verdicts(members, "")
    assert (falls.passed, energy.passed) == (data["verdicts"][1]["pass"], data["verdicts"][3]["pass"]) == (False, True)
    assert energy.measured == data["verdicts"][3]["measured"] and falls.measured == data["verdicts"][1]["measured"]
    reversed_lrs = dict(zip(members, list(members.values())[::-1]))
    assert lr_verdicts(reversed_lrs, "")[2].passed is False
