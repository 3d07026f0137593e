"""Transformer irrep features as pure functions: group composition encoded for the transformer over every
group family, irrep power of hand-built tables (one irrep's matrix coefficients hold all power), key irreps,
isotypic projections of logits against the projector matrices, neuron spectra of known activations."""

import math

import numpy as np
import pytest
import torch

from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.groups import get_group, irreps, isotypic_projector, real_irrep_groups
from groklab.li2 import transformer_features as T
from groklab.tasks.build import build_task
from groklab.tasks.encoding import token_sequences
from groklab.train.setup import setup

FAMILIES = ["Z4xZ7", "D10", "Dic12", "Q8", "S4", "A5", "Semidirect(7,3,2)"]


@pytest.mark.parametrize("name", FAMILIES)
def test_compose_for_the_transformer_is_a_b_then_composition_for_every_family(name):
    group = get_group(name)
    cfg = load_config("muon_grokking", ["task.op=compose", f"task.group={name}", "task.train_fraction=0.5",
                                        "task.split=random", "model.width=8", "model.depth=1", "train.device=cpu"])
    task = build_task(cfg.task)
    tokens, vocab = token_sequences(task)
    n = group.order
    assert vocab == n + 2 and tokens.shape == (n * n, 4)
    a, b = tokens[:, 0], tokens[:, 2]
    assert (tokens[:, 1] == n).all() and (tokens[:, 3] == n + 1).all()  # [a, OP, b, EQ]
    assert np.array_equal(task.labels, group.table[a, b])  # the label is the composition a∘b
    run = setup(cfg)
    data, model = run.data, run.model
    assert model.vocab_size == n + 2 and model.num_classes == n
    assert data.x_train.shape[-1] == 4 and int(data.x_train[..., [0, 2]].max()) < n
    logits = model(data.x_train[:, :5])
    assert logits.shape == (1, 5, n)


def _coefficient_table(group, k):
    """The real and imaginary parts of every matrix coefficient of irrep k as columns: [|G|, 2 d²]."""
    M = irreps(group).matrices[k]
    return torch.from_numpy(np.concatenate([M.real.reshape(group.order, -1), M.imag.reshape(group.order, -1)], 1))


@pytest.mark.parametrize("name", ["D10", "S4", "Q8", "Semidirect(7,3,2)"])
def test_an_embedding_of_one_irreps_matrix_coefficients_holds_all_power_there(name):
    group = get_group(name)
    reals = real_irrep_groups(group)
    for r, real in enumerate(reals[1:], start=1):
        table = _coefficient_table(group, real.members[0])
        power = T.table_spectrum(group, table)
        assert float(power.sum()) == pytest.approx(float((table**2).sum()), rel=1e-10)  # Plancherel
        assert float(power[r]) == pytest.approx(float(power.sum()), rel=1e-10)
        summary = T.table_summary(group, table)
        assert summary["key_irreps"] == [real.label] and summary["key_count"] == 1 and summary["key_power"] == pytest.approx(1)


def test_key_irreps_are_the_fewest_by_descending_power_reaching_the_fraction():
    group = get_group("S4")
    reals = real_irrep_groups(group)  # 1a, 1b, 2a, 3a, 3b
    parts = {3: 0.5, 4: 0.3, 2: 0.2}  # shares of the non-trivial power
    table = torch.cat([math.sqrt(w) * _coefficient_table(group, reals[r].members[0])
                       / _coefficient_table(group, reals[r].members[0]).norm() for r, w in parts.items()], 1)
    table = table + 0.7  # a constant offset: trivial power, outside the key set
    power = T.table_spectrum(group, table)
    assert (power[1:] / power[1:].sum())[[2, 3, 1]].tolist() == pytest.approx([0.5, 0.3, 0.2], abs=1e-10)
    for fraction, count in ((0.5, 1), (0.6, 2), (0.8, 2), (0.9, 3)):
        key = T.key_irreps(power, fraction)
        assert int(key["count"]) == count
        assert key["mask"].tolist() == [False] + [r in sorted(parts, key=parts.get, reverse=True)[:count] for r in range(1, 5)]
    assert float(T.key_irreps(power, 0.6)["key_power"]) == pytest.approx(0.8)
    assert float(T.key_irreps(power)["trivial"]) == pytest.approx(float(power[0] / power.sum()))
    stacked = T.key_irreps(torch.stack([power, power.flip(0)]), 0.6)  # leading (member) axes work
    assert stacked["count"].shape == (2,) and int(stacked["count"][0]) == 2


@pytest.mark.parametrize("name", ["S4", "Z12", "Semidirect(7,3,2)"])
def test_restricted_and_excluded_logits_are_the_isotypic_projections(name):
    group = get_group(name)
    reals = real_irrep_groups(group)
    z = torch.randn(3, 7, group.order, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(3, len(reals), dtype=torch.bool)
    mask[0, 1] = mask[1, -1] = mask[2, 1:] = True  # a different key set per member
    for s in range(3):
        P = sum(isotypic_projector(group, k) for r in np.flatnonzero(mask[s]) for k in reals[r].members)
        expected = (z[s].numpy() @ np.asarray(P).T).real
        assert np.allclose(T.project_classes(group, z, mask)[s].numpy(), expected, atol=1e-10)
        trivial = isotypic_projector(group, 0).real
        assert np.allclose(T.restricted_logits(group, z, mask)[s].numpy(), expected + z[s].numpy() @ trivial.T, atol=1e-10)
        assert np.allclose(T.excluded_logits(group, z, mask)[s].numpy(), z[s].numpy() - expected, atol=1e-10)
    # every non-trivial irrep excluded leaves only the mean over the classes
    excluded = T.excluded_logits(group, z, mask[2:])
    assert torch.allclose(excluded, z.mean(-1, keepdim=True).expand_as(z), atol=1e-10)


def test_extra_vocabulary_classes_pass_through_the_projection():
    group = get_group("D10")
    z = torch.randn(1, 4, group.order + 2, dtype=torch.float64)
    mask = torch.zeros(1, len(real_irrep_groups(group)), dtype=torch.bool)
    assert torch.equal(T.restricted_logits(group, z, mask)[..., -2:], z[..., -2:])
    assert torch.equal(T.excluded_logits(group, z, mask)[..., -2:], z[..., -2:])


def test_neurons_of_one_frequency_cover_exactly_that_frequency():
    group = get_group("Z13")
    a = torch.arange(13, dtype=torch.float64)
    grid = (a[:, None] + a[None, :]) * 2 * math.pi / 13
    acts = torch.stack([torch.cos(3 * grid), torch.sin(5 * grid), torch.cos(3 * grid) + 0.1 * torch.cos(grid),
                        1e-3 * torch.cos(2 * grid)], -1)  # the last is inactive (tiny)
    power = T.neuron_spectra(group, acts)
    assert power.shape == (4, 7)
    nodes = T.classify_neurons(power)
    assert nodes["dominant"].tolist()[:3] == [3, 5, 3] and nodes["active"].tolist() == [True, True, True, False]
    assert nodes["covered"].tolist() == [False, False, False, True, False, True, False] and int(nodes["count"]) == 2
    assert float(nodes["purity"][0]) == pytest.approx(1.0) and float(nodes["purity"][2]) < 1


def test_groups_beyond_the_feature_limit_are_refused_in_one_line():
    with pytest.raises(GroklabError, match=r"order ≤ 256"):
        T.check_feature_group(get_group("Z257"))
    T.check_feature_group(get_group("S5"))
