"""Negative controls of li2-reconstruction's verdicts: each is recomputed on the quick mode's residual curves with
the node family it is about swapped for one it must fail with, and comes out false there."""

import pytest

from groklab.reproduce import li2_reconstruction as rc

ORDERS, NONABELIAN = (11, 23), ("D10",)


@pytest.fixture(scope="module")
def curves():
    return rc.residual_curves(ORDERS, ORDERS[0], NONABELIAN)


def _passed(curves) -> dict:
    return {v.claim: v.passed for v in rc.verdicts(curves, ORDERS, ORDERS[0], NONABELIAN)}


def _swapped(curves, **roles):
    """A copy of the curves with each kind in `roles` given the curves of another (e.g. complex="real")."""
    out = dict(curves)
    for kind, other in roles.items():
        for key in [k for k in curves if k[0] == kind]:
            out[key] = curves[(other, key[1])]
    return out


def test_reconstruction_verdicts_fail_with_the_nodes_swapped(curves):
    assert all(_passed(curves).values())  # as measured, every verdict passes
    complex_as_real = _passed(_swapped(curves, complex="real"))
    assert complex_as_real["2M−2 complex Fourier nodes reconstruct Ỹ exactly"] is False
    assert complex_as_real["with one ± pair fewer (2M−4 nodes) the reconstruction fails"] is False
    real_as_complex = _passed(_swapped(curves, real="complex"))
    assert real_as_complex["exactness is a complex-domain statement: 2M−2 real nodes fail, real nodes need 3(M−1)"] is False
    random_as_fourier = _passed(_swapped(curves, random="complex"))
    assert random_as_fourier["generic (random) nodes need ≈ M² − 1 to reconstruct: memorisation, not features"] is False
    one_pair_missing = dict(curves)
    ks, res = curves[("irrep", "D10")]
    one_pair_missing[("irrep", "D10")] = (ks[:-1], res[:-1])  # the last ± pair of irrep nodes removed
    claim = "non-abelian groups: the 2Σd_k³ irrep nodes reconstruct exactly, one ± pair fewer fails"
    assert _passed(one_pair_missing)[claim] is False
