"""Tests for groklab.tasks: tables, splits, critical ratio and encodings."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup
from groklab.tasks import (
    critical_fraction,
    flat_input_index,
    group_composition,
    make_task,
    operand_indices,
    split_rows,
    token_sequences,
)


# Groups are built from tables here so these tests do not depend on groklab.groups' name registry.
def cyclic(n: int) -> FiniteGroup:
    a = np.arange(n)
    return FiniteGroup(f"Z{n}", (a[:, None] + a[None, :]) % n)


def symmetric3() -> FiniteGroup:
    perms = list(itertools.permutations(range(3)))
    index = {p: i for i, p in enumerate(perms)}
    # a·b = apply a first, then b (sympy's convention); any fixed convention is a group
    table = [[index[tuple(b[a[k]] for k in range(3))] for b in perms] for a in perms]
    return FiniteGroup("S3", np.array(table))


RNG = np.random.default_rng(1234)


def spot_rows(n_rows: int, k: int = 200) -> np.ndarray:
    return RNG.integers(0, n_rows, size=k)


# -- tables -------------------------------------------------------------------------------------


def test_compose_row_count_order_and_labels():
    g = cyclic(71)
    task = group_composition(g)
    assert len(task) == 5041 and task.inputs.shape == (5041, 2)
    assert task.num_classes == task.num_values == 71 and task.group is g and task.op == "compose"
    assert task.inputs.dtype == np.int64 and task.labels.dtype == np.int64
    # first-operand-major: row = a·M + b, the order of itertools.product
    assert np.array_equal(task.inputs, np.array(list(itertools.product(range(71), repeat=2))))
    for r in spot_rows(5041):
        a, b = task.inputs[r]
        assert r == a * 71 + b and task.labels[r] == (a + b) % 71


def test_compose_arity3_left_associative_nonabelian():
    g = symmetric3()
    task = group_composition(g, arity=3)
    assert len(task) == 216 and task.arity == 3
    for r in spot_rows(216, 50):
        a, b, c = task.inputs[r]
        assert task.labels[r] == g.table[g.table[a, b], c]
    assert len(group_composition(cyclic(7), arity=3)) == 343
    t7 = make_task("compose", group=cyclic(7), arity=3)
    assert np.array_equal(t7.labels, t7.inputs.sum(axis=1) % 7)


def test_compose_errors():
    with pytest.raises(GroklabError, match="arity must be 2 or 3"):
        group_composition(cyclic(5), arity=4)
    with pytest.raises(GroklabError, match="needs a group"):
        make_task("compose")
    with pytest.raises(GroklabError, match="allowed: compose, add"):
        make_task("addd")
    with pytest.raises(GroklabError, match="binary"):
        make_task("add", arity=3)


@pytest.mark.parametrize(
    "op, fn",
    [
        ("add", lambda a, b, p: (a + b) % p),
        ("sub", lambda a, b, p: (a - b) % p),
        ("mul", lambda a, b, p: (a * b) % p),
        ("exp", lambda a, b, p: pow(a, b, p)),
        ("gcd", lambda a, b, p: math.gcd(a, b)),
    ],
)
def test_modular_tasks(op, fn):
    task = make_task(op, modulus=97)
    assert len(task) == 9409 and task.num_classes == 97 and task.num_values == 97 and task.group is None
    assert task.labels.min() >= 0 and task.labels.max() < 97
    for r in spot_rows(9409):
        a, b = (int(v) for v in task.inputs[r])
        assert r == a * 97 + b and task.labels[r] == fn(a, b, 97)


def test_edge_values():
    exp = make_task("exp", modulus=97)
    gcd = make_task("gcd", modulus=97)
    assert exp.labels[0] == 1  # 0^0 = 1
    assert gcd.labels[0] == 0  # gcd(0, 0) = 0
    assert gcd.labels[96] == 96  # gcd(0, 96)
    # exp over a composite modulus still matches pow
    e10 = make_task("exp", modulus=10)
    assert all(e10.labels[i] == pow(int(a), int(b), 10) for i, (a, b) in enumerate(e10.inputs))


def test_division():
    task = make_task("div", modulus=97)
    assert len(task) == 9312 == 97 * 96 and (task.inputs[:, 1] != 0).all()
    a, b = task.inputs[:, 0], task.inputs[:, 1]
    assert np.array_equal((b * task.labels) % 97, a)  # b·(a/b) = a for every row
    assert tuple(task.inputs[0]) == (0, 1) and tuple(task.inputs[96]) == (1, 1)  # a-major, b from 1


def test_division_needs_prime_and_modulus_bounds():
    with pytest.raises(GroklabError, match=r"division needs a prime modulus \(got 96\): "):
        make_task("div", modulus=96)
    with pytest.raises(GroklabError, match="modulus must be an integer ≥ 2"):
        make_task("add", modulus=1)


def test_parity():
    task = make_task("parity")
    assert task.inputs.shape == (1024, 10) and task.num_values == 2 and task.num_classes == 2
    assert np.array_equal(task.inputs, np.array(list(itertools.product((0, 1), repeat=10))))
    assert np.array_equal(task.labels, np.array([bin(i).count("1") % 2 for i in range(1024)]))
    assert len(make_task("parity", parity_bits=4)) == 16
    with pytest.raises(GroklabError, match="parity bits"):
        make_task("parity", parity_bits=0)


# -- splits -------------------------------------------------------------------------------------


def test_reference_split_sizes():
    s = split_rows(71 * 71, seed=0, train_fraction=0.4)
    assert (s.n_train, s.n_test) == (2016, 3025)  # Fig. 3: n = 2016
    s = split_rows(127 * 127, seed=0, train_fraction=0.2)
    assert (s.n_train, s.n_test) == (3225, 12904)  # Fig. 7: n = 3225
    s = split_rows(5041, seed=0, train_size=100)
    assert (s.n_train, s.n_test) == (100, 4941)


def test_reference_split_matches_sklearn_permutation_rule():
    # sklearn's ShuffleSplit draws rng.permutation(n_samples) from check_random_state(seed), i.e.
    # np.random.RandomState(seed), and puts the first n_test indices in the test set. The values
    # below are pinned from np.random.RandomState(0).permutation(5041) (n_test = ceil(0.6·5041) = 3025),
    # which is what train_test_split(X, y, test_size=0.6, random_state=0) selects.
    s = split_rows(5041, seed=0, train_fraction=0.4)
    assert s.train[:6].tolist() == [1970, 585, 4993, 360, 603, 2877]
    assert s.test[:4].tolist() == [825, 4978, 1487, 304]
    perm = np.random.RandomState(7).permutation(1000)
    s = split_rows(1000, seed=7, test_fraction=0.25)
    assert np.array_equal(s.test, perm[:250]) and np.array_equal(s.train, perm[250:])


def test_test_fraction_float_subtlety():
    # ceil(0.01·100) = 1 but 1 − 0.99 = 0.010000000000000009, so ceil gives 2: test_fraction lets a
    # config's test_size be reproduced exactly.
    assert split_rows(100, seed=0, test_fraction=0.01).n_test == 1
    assert split_rows(100, seed=0, train_fraction=0.99).n_test == 2


@pytest.mark.parametrize("mode", ["reference", "random", "bernoulli"])
def test_split_partition_and_determinism(mode):
    n = 2000
    a = split_rows(n, seed=3, train_fraction=0.3, mode=mode)
    b = split_rows(n, seed=3, train_fraction=0.3, mode=mode)
    c = split_rows(n, seed=4, train_fraction=0.3, mode=mode)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(np.sort(a.train), np.sort(c.train))
    assert np.intersect1d(a.train, a.test).size == 0
    assert np.array_equal(np.sort(np.concatenate([a.train, a.test])), np.arange(n))
    assert a.train.dtype == np.int64


def test_random_and_bernoulli_fractions():
    assert split_rows(9409, seed=0, train_fraction=0.8, mode="random").n_train == int(0.8 * 9409)
    fracs = [split_rows(20000, seed=s, train_fraction=0.3, mode="bernoulli").train_fraction for s in range(5)]
    assert abs(np.mean(fracs) - 0.3) < 0.01  # sd of one draw ≈ 0.0032
    assert len({round(f, 6) for f in fracs}) > 1  # the count varies, unlike the fixed-size modes
    tiny = split_rows(2, seed=0, train_fraction=0.001, mode="bernoulli")
    assert tiny.n_train == 1 and tiny.n_test == 1  # degenerate draws repaired


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.5, 1.5])
def test_bad_fraction_one_line_error(bad):
    with pytest.raises(GroklabError) as info:
        split_rows(100, seed=0, train_fraction=bad)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("train fraction must be in (0, 1), got ")
    if bad == 0:
        assert msg == "train fraction must be in (0, 1), got 0"


def test_split_argument_errors():
    with pytest.raises(GroklabError, match="exactly one"):
        split_rows(100, seed=0)
    with pytest.raises(GroklabError, match="exactly one"):
        split_rows(100, seed=0, train_fraction=0.5, train_size=10)
    with pytest.raises(GroklabError, match=r"train size must be an integer in 1\.\.99"):
        split_rows(100, seed=0, train_size=100)
    with pytest.raises(GroklabError, match="allowed: reference, random, bernoulli"):
        split_rows(100, seed=0, train_fraction=0.5, mode="stratified")
    with pytest.raises(GroklabError, match="seed"):
        split_rows(100, seed=-1, train_fraction=0.5)
    with pytest.raises(GroklabError, match="leaves 0 train"):
        split_rows(10, seed=0, train_fraction=0.01)


# -- critical ratio -------------------------------------------------------------------------------


def test_critical_fraction_table():
    expected = {23: 0.375, 41: 0.249, 71: 0.165, 89: 0.139, 127: 0.105}  # docs/li2-quantities.md#critical-data-ratio
    for m, p in expected.items():
        assert round(critical_fraction(m), 3) == p


def test_critical_fraction_correction_and_delta():
    base = critical_fraction(48)
    assert critical_fraction(48, d_max=2) == pytest.approx(base)  # d_max/2 = 1
    assert critical_fraction(48, d_max=3) == pytest.approx(1.5 * base)  # linear, not d²
    assert critical_fraction(71, delta=0.5) == pytest.approx((2.7482 - 0.5) * math.log(71) / 71)
    # reference float order: test_size = 1 − corr·ln|G|/|G|·(c − δ)
    assert 1 - critical_fraction(71) == 1 - 1 * math.log(71) / 71 * (2.7482 - 0.0)


def test_critical_fraction_errors():
    with pytest.raises(GroklabError, match="smaller c"):
        critical_fraction(3)  # 2.7482·ln3/3 ≈ 1.006
    with pytest.raises(GroklabError, match="smaller c"):
        critical_fraction(5, d_max=4)  # 2·0.88
    with pytest.raises(GroklabError, match="positive"):
        critical_fraction(71, delta=3.0)


# -- encodings ------------------------------------------------------------------------------------


def test_flat_input_index():
    task = group_composition(cyclic(5), arity=3)
    flat = flat_input_index(operand_indices(task), task.num_values)
    assert flat.shape == (125, 3) and flat.dtype == np.int64
    assert flat[7].tolist() == [task.inputs[7, 0], 5 + task.inputs[7, 1], 10 + task.inputs[7, 2]]
    assert flat.max() == 14


def test_token_layout_binary_and_ternary():
    tokens, vocab = token_sequences(make_task("add", modulus=97))
    assert vocab == 99 and tokens.shape == (9409, 4)
    assert tokens[97 * 3 + 5].tolist() == [3, 97, 5, 98]
    tokens, vocab = token_sequences(group_composition(cyclic(7), arity=3))
    assert vocab == 9 and tokens.shape == (343, 6)
    assert tokens[1 * 49 + 2 * 7 + 3].tolist() == [1, 7, 2, 7, 3, 8]
    tokens, vocab = token_sequences(make_task("div", modulus=97))
    assert vocab == 99 and (tokens[:, 1] == 97).all() and (tokens[:, 3] == 98).all()


def test_token_layout_parity():
    task = make_task("parity")
    tokens, vocab = token_sequences(task)
    assert vocab == 3 and tokens.shape == (1024, 11)
    assert (tokens[:, -1] == 2).all() and np.array_equal(tokens[:, :10], task.inputs)
