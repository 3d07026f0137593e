"""Irrep spectra of hidden nodes (RC4, Thm 7; docs/li2-quantities.md#features-of-trained-nodes)."""

import numpy as np
import pytest
import torch

from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.groups import get_group, isotypic_projector
from groklab.li2 import features as feats
from groklab.li2.energy import fourier_vector
from groklab.train.checkpoint import list_snapshots, load_snapshot
from groklab.train.loop import run_ensemble


def test_planted_single_frequency_nodes_of_Z_M():
    G = get_group("Z13")
    g = torch.Generator().manual_seed(0)
    rows = [fourier_vector(13, k, phase=float(k)) for k in (1, 4, 6)]
    noise = 1e-3 * torch.randn(3, 26, generator=g, dtype=torch.float64)
    W = torch.stack(rows) + noise + 0.05  # a constant shift (trivial irrep) does not change the answer
    c = feats.classify_nodes(W, G)
    assert [c["labels"][int(i)] for i in c["dominant"]] == ["k=1", "k=4", "k=6"]
    assert (c["purity"] > 0.999).all() and (c["block_purity"] > 0.999).all()
    assert (c["trivial_fraction"] > 0).all()
    # Plancherel: the block powers add up to the squared norm of the row
    assert torch.allclose(feats.node_spectra(W, G).sum(dim=(-1, -2)), W.norm(dim=1) ** 2)
    cov = feats.coverage(W, G)
    assert int(cov["count"]) == 3 and cov["missing"] == ["k=2", "k=3", "k=5"]


def test_planted_isotypic_node_of_a_non_abelian_group():
    G = get_group("S4")
    labels = feats.irrep_labels(G)
    g = torch.Generator().manual_seed(1)
    for k, label in enumerate(labels):
        P = torch.from_numpy(isotypic_projector(G, k, pair_conjugate=True).real)
        if torch.allclose(P, torch.full_like(P, 1 / 24)):  # the trivial irrep is not a feature
            continue
        u, v = P @ torch.randn(24, generator=g, dtype=torch.float64), P @ torch.randn(24, generator=g, dtype=torch.float64)
        c = feats.classify_nodes(torch.cat([u, v])[None], G, V=P @ torch.randn(24, 1, generator=g, dtype=torch.float64))
        assert c["labels"][int(c["dominant"][0])] == label
        assert float(c["purity"][0]) == pytest.approx(1.0, abs=1e-9)
        assert float(c["readout_purity"][0]) == pytest.approx(1.0, abs=1e-9)


def test_active_nodes_and_batching():
    W = torch.zeros(2, 4, 10, dtype=torch.float64)
    W[:, :, 0] = torch.tensor([[1.0, 0.5, 0.2, 0.0], [2.0, 2.0, 0.1, 1.0]])
    assert feats.active_nodes(W).tolist() == [[True, True, False, False], [True, True, False, True]]
    G = get_group("Z5")
    c = feats.coverage(W, G)
    assert c["fraction"].shape == (2,) and "missing" not in c
    with pytest.raises(GroklabError, match="operand blocks"):
        feats.node_spectra(torch.zeros(3, 11), G)
    with pytest.raises(GroklabError, match="threshold"):
        feats.active_nodes(W, threshold=2)


def test_missing_features_energy_vanishes_inside_the_learned_set():
    G = get_group("Z7")
    W = torch.stack([fourier_vector(7, 1), fourier_vector(7, 2, phase=0.3)])
    out = feats.missing_features(W, G)
    assert out["covered"] == ["k=1", "k=2"] and out["missing"] == ["k=3"]
    assert torch.allclose(out["node_energy"], torch.zeros(2, dtype=torch.float64), atol=1e-10)
    # with only k=1 learned, a unit node of frequency 2 carries its full Thm 2 energy M/4 under E_S
    from groklab.li2.energy import missing_feature_energy

    assert float(missing_feature_energy(W[1], G, ["k=1"])) == pytest.approx(7 / 4)
    assert feats.missing_features(W[:1], G)["missing"] == ["k=2", "k=3"]


def test_trained_Z23_nodes_are_single_frequency_and_cover_all_frequencies(tmp_path):
    """RC4 after a short run that groks (measured: epoch ~106; ~53 active nodes, ~94 % with purity
    > 0.8, all 11 frequencies covered for seeds 0 and 1)."""
    cfg = load_config(None, ["task.group=Z23", "task.train_fraction=0.5", "model.width=512", "optim.lr=5e-3",
                             "optim.weight_decay=1e-3", "train.epochs=300", "train.eval_every=10", "train.seeds=[0]",
                             "train.checkpoint_dense_until=0", "train.checkpoint_every=150", "train.progress=false"])
    out = run_ensemble(cfg, tmp_path)
    assert out.results[0]["final_test_acc"] > 0.99
    G = get_group("Z23")
    snaps = list_snapshots(tmp_path)
    W = load_snapshot(snaps[-1][1], 0)["W"]
    nodes = feats.classify_nodes(W, G)
    active = feats.active_nodes(W)
    assert 22 <= int(active.sum()) <= 200  # weight decay leaves a few nodes per frequency
    assert float((nodes["purity"][active] > 0.8).float().mean()) > 0.85
    cov = feats.coverage(W, G)
    assert int(cov["count"]) == 11 and cov["missing"] == []
    over = feats.coverage_over_training([(e, load_snapshot(p, 0)["W"]) for e, p in snaps], G)
    assert over["epochs"] == [0, 150, 300]
    assert float(over["fraction"][0]) < 0.5 and float(over["fraction"][-1]) == 1.0  # init nodes are not pure
    assert float(over["mean_purity"][0]) < 0.4 < 0.9 < float(over["mean_purity"][-1])


def test_spectra_equal_real_irrep_power():
    from groklab.groups import real_irrep_power

    g = torch.Generator().manual_seed(3)
    for name in ("Z12", "S4", "Q8"):
        G = get_group(name)
        W = torch.randn(2, 5, 2 * G.order, generator=g, dtype=torch.float64)
        expect = real_irrep_power(G, W.reshape(2, 5, 2, G.order))
        assert torch.allclose(feats.node_spectra(W, G), expect, atol=1e-10)
        V = torch.randn(G.order, 5, generator=g, dtype=torch.float64)
        assert torch.allclose(feats.readout_spectra(V, G), real_irrep_power(G, V.T), atol=1e-10)
