"""Named group families and name parsing: structure, index conventions, errors."""

import numpy as np
import pytest

from groklab.errors import GroklabError
from groklab.groups import (
    canonical_name,
    check_group_axioms,
    cyclic,
    dihedral,
    direct_product,
    from_table,
    get_group,
    list_families,
    semidirect,
)

# name -> (order, abelian, number of conjugacy classes)
KNOWN = {
    "Z1": (1, True, 1),
    "Z2": (2, True, 2),
    "Z71": (71, True, 71),
    "Z4xZ7": (28, True, 28),
    "Z2xZ2xZ9": (36, True, 36),
    "D4": (4, True, 4),
    "D6": (6, False, 3),
    "D8": (8, False, 5),
    "D10": (10, False, 4),
    "D12": (12, False, 6),
    "Dic12": (12, False, 6),
    "Dic16": (16, False, 7),
    "Q8": (8, False, 5),
    "S1": (1, True, 1),
    "S2": (2, True, 2),
    "S3": (6, False, 3),
    "S4": (24, False, 5),
    "S5": (120, False, 7),
    "S6": (720, False, 11),
    "A2": (1, True, 1),
    "A3": (3, True, 3),
    "A4": (12, False, 4),
    "A5": (60, False, 5),
    "A6": (360, False, 7),
    "Semidirect(7,3,2)": (21, False, 5),
    "Semidirect(5,4,2)": (20, False, 5),
    "Semidirect(9,2,8)": (18, False, 6),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_named_group_structure(name):
    order, abelian, classes = KNOWN[name]
    g = get_group(name)
    assert g.name == name
    assert g.order == order
    assert g.is_abelian == abelian
    assert len(g.conjugacy_classes) == classes
    e = g.identity
    assert (g.table[e] == np.arange(order)).all() and (g.table[:, e] == np.arange(order)).all()
    assert (g.table[np.arange(order), g.inverses] == e).all()
    assert g.labels is not None and len(g.labels) == order
    if order <= 360:  # the exhaustive associativity check is O(n³); families skip it on construction
        check_group_axioms(g.table, name)


def test_names_are_canonicalised_and_cached():
    assert get_group("z4xz7") is get_group("Z4xZ7")
    assert get_group(" d12 ") is get_group("D12")
    assert get_group("dic8") is get_group("Q8")
    assert get_group("semidirect( 7, 3, 2 )").name == "Semidirect(7,3,2)"
    assert canonical_name("smallgroup(24, 12)") == "SmallGroup(24,12)"
    assert canonical_name("S4") == "S4"


def test_mixed_radix_indexing_of_products():
    g = get_group("Z4xZ7")
    assert g.factors == (4, 7)
    idx = lambda x0, x1: x0 + 4 * x1  # first factor fastest
    for a in [(1, 2), (3, 6), (2, 5)]:
        for b in [(3, 1), (0, 6), (2, 2)]:
            s = ((a[0] + b[0]) % 4, (a[1] + b[1]) % 7)
            assert g.table[idx(*a), idx(*b)] == idx(*s)
    assert g.labels[idx(3, 5)] == "(3,5)"
    h = get_group("Z2xZ2xZ9")
    assert h.factors == (2, 2, 9)
    assert h.table[1 + 2 * 1 + 4 * 8, 1 + 4 * 3] == 0 + 2 * 1 + 4 * 2  # (1,1,8)+(1,0,3) = (0,1,2)


def test_direct_product_matches_cyclic_product():
    p = direct_product(cyclic(4), cyclic(7))
    assert p.name == "Z4xZ7" and p.factors == (4, 7)
    assert np.array_equal(p.table, get_group("Z4xZ7").table)
    q = direct_product(get_group("S3"), cyclic(2))
    assert q.order == 12 and not q.is_abelian and q.factors is None
    assert len(q.conjugacy_classes) == 6
    check_group_axioms(q.table)


def test_dihedral_and_dicyclic_conventions():
    d = dihedral(12)  # r^k s^e at k + 6e
    r, s = 1, 6
    assert d.element_orders[r] == 6 and d.element_orders[s] == 2
    assert d.table[d.table[s, r], s] == d.inverses[r]  # s r s⁻¹ = r⁻¹
    q = get_group("Dic12")  # a^k x^e at k + 6e, n = 3
    a, x = 1, 6
    assert q.element_orders[a] == 6 and q.element_orders[x] == 4
    assert q.table[x, x] == 3  # x² = a³
    assert q.table[q.table[x, a], q.inverses[x]] == q.inverses[a]
    q8 = get_group("Q8")
    assert sorted(np.bincount(q8.element_orders).tolist()) == [0, 0, 1, 1, 6]  # orders 1, 2, 4×6


def test_semidirect_product_rule():
    g = semidirect(7, 3, 2)
    idx = lambda a, b: a + 7 * b
    for (a, b), (c, d) in [((1, 1), (3, 2)), ((5, 2), (6, 1)), ((0, 1), (1, 0))]:
        expected = ((a + pow(2, b, 7) * c) % 7, (b + d) % 3)
        assert g.table[idx(a, b), idx(c, d)] == idx(*expected)


def test_symmetric_group_matches_sympy():
    from sympy.combinatorics import Permutation, SymmetricGroup

    perms = list(SymmetricGroup(4).generate_schreier_sims())
    g = get_group("S4")
    index = {tuple(p.array_form): i for i, p in enumerate(perms)}
    rng = np.random.default_rng(0)
    for a, b in rng.integers(0, 24, size=(40, 2)):
        product = perms[a] * perms[b]  # sympy: apply perms[a] first
        assert g.table[a, b] == index[tuple(product.array_form)]
    assert g.labels[index[(1, 2, 0, 3)]] == "(0 1 2)"
    assert g.labels[g.identity] == "()"
    # left-to-right composition: (p*q)(i) = q(p(i))
    p, q = Permutation([1, 2, 0, 3]), Permutation([1, 0, 2, 3])
    assert g.table[index[tuple(p.array_form)], index[tuple(q.array_form)]] == index[(0, 2, 1, 3)]


def test_alternating_group_is_sympys():
    from sympy.combinatorics import AlternatingGroup

    perms = [tuple(p.array_form) for p in AlternatingGroup(5).generate_schreier_sims()]
    g = get_group("A5")
    assert g.order == len(perms) == 60
    s5 = get_group("S5")  # every A5 element is an even permutation: order 1, 2, 3 or 5
    assert set(np.unique(g.element_orders)) == {1, 2, 3, 5}
    assert set(np.unique(s5.element_orders)) == {1, 2, 3, 4, 5, 6}


def test_from_table_checks_axioms():
    g = from_table(get_group("S3").table, name="mine")
    assert g.name == "mine" and g.order == 6
    bad = np.array([[0, 1], [0, 1]])
    with pytest.raises(GroklabError):
        from_table(bad)
    with pytest.raises(GroklabError, match="integers"):
        from_table(np.zeros((2, 2)))


BAD_NAMES = {
    "Z0": "bad group 'Z0': Z<n> needs n >= 1",
    "D7": "bad group 'D7': dihedral D<2n> needs an even order >= 4 (D12 is the dihedral group of order 12)",
    "D2": "even order >= 4",
    "Dic6": "divisible by 4",
    "Dic4": "divisible by 4",
    "S9": "n must be 1..6",
    "S7": "n must be 1..6",
    "A0": "n must be 1..6",
    "Z4xZ": "malformed cyclic product",
    "Z4x7": "malformed cyclic product",
    "Zx": "malformed cyclic product",
    "foo": "accepted patterns",
    "": "accepted patterns",
    "Semidirect(7,3,3)": "r^m must be 1 mod n",
    "Semidirect(7,2,3)": "r^m must be 1 mod n",
    "Semidirect(6,2,2)": "gcd",
    "Semidirect(7,3)": "Semidirect(n,m,r)",
    "SmallGroup(24)": "SmallGroup(order,id)",
    "SmallGroup(0,1)": "order >= 1",
    "Z5000": "order <= 4096",
}


@pytest.mark.parametrize("name", sorted(BAD_NAMES))
def test_bad_names_raise_one_line_errors(name):
    with pytest.raises(GroklabError) as info:
        get_group(name)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"bad group {name!r}")
    assert BAD_NAMES[name] in message


def test_non_string_name():
    with pytest.raises(GroklabError, match="must be a string"):
        get_group(12)


def test_list_families_rows():
    rows = list_families()
    patterns = [r.pattern for r in rows]
    assert {"Z<n>", "D<2n>", "Dic<4n>", "Q8", "S<n>", "A<n>", "Semidirect(n,m,r)", "SmallGroup(n,i)"} <= set(patterns)
    for row in rows:
        assert row.description and row.limits
        if not row.example.startswith("SmallGroup"):
            assert get_group(row.example).name == row.example  # every example is a valid name


@pytest.mark.gap
def test_smallgroup_names_delegate_to_gap():
    g = get_group("smallgroup(24,12)")  # S4
    assert g.name == "SmallGroup(24,12)" and g.smallgroup_id == (24, 12)
    assert g.order == 24 and len(g.conjugacy_classes) == 5
