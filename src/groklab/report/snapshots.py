"""Analyses of a run's weight snapshots for the report: irrep spectra of hidden nodes, energy census.

Both apply to the Li2 two-layer net on group composition, where each hidden node's operand blocks
W[j, b·M:(b+1)·M] are functions on the group and Fourier analysis over its irreps is meaningful.
Everything returns arrays/dicts for `plots`; nothing here draws.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from groklab.report.plots import Member, SpectrumPanel


ACTIVE_NODE_FRACTION = 0.25  # "active": ‖w_j‖ ≥ ¼ of the largest, as groklab.li2.features and li2.active_frac
MAX_SPECTRUM_NODES = 256  # rows of a heatmap panel stay readable
MAX_SNAPSHOT_MEMBERS = 4  # members analysed per run page


@lru_cache(maxsize=64)
def _group(name: str):
    from groklab.groups import get_group

    return get_group(name)


def snapshot_group(config: dict):
    """The group whose Fourier analysis applies to this run's first layer, or None."""
    if config.get("task", {}).get("op") != "compose" or config.get("model", {}).get("kind") != "two_layer":
        return None
    if config.get("model", {}).get("complex_weights"):
        return None
    return _group(config["task"]["group"])


def _nearest(available: list[int], epoch: int) -> int:
    return min(available, key=lambda e: (abs(e - epoch), e))


def chosen_epochs(available: list[int], summary: dict) -> list[tuple[int, str]]:
    """Snapshot epochs worth showing: init, memorization, grok (or the middle), final; deduplicated."""
    if not available:
        return []
    wanted = [(available[0], "init")]
    for key, name in (("memorization_epoch", "memorized"), ("grok_epoch", "grokked")):
        if summary.get(key) is not None:
            epoch = _nearest(available, int(summary[key]))
            wanted.append((epoch, name if epoch == summary[key] else f"{name} at {summary[key]}"))
    if summary.get("grok_epoch") is None:
        wanted.append((_nearest(available, (available[0] + available[-1]) // 2), "midway"))
    wanted.append((available[-1], "final"))
    out, seen = [], set()
    for epoch, note in wanted:
        if epoch not in seen:
            seen.add(epoch)
            out.append((epoch, note))
    return sorted(out)


def node_spectra(W: np.ndarray, group) -> np.ndarray:
    """Per-node real-irrep power of the first operand block W[j, :M] -> [K, R] (rows sum to ‖W[j, :M]‖²),
    from `groklab.li2.features` when that module is there, else directly from the group Fourier transform."""
    try:
        from groklab.li2.features import node_spectra as block_spectra
    except ImportError:
        from groklab.groups import real_irrep_power

        return np.asarray(real_irrep_power(group, np.asarray(W[:, : group.order], dtype=np.float64)), dtype=float)
    return block_spectra(np.asarray(W, dtype=np.float64), group)[..., 0, :].numpy()


def _active_nodes(W: np.ndarray, cap: int | None = MAX_SPECTRUM_NODES) -> np.ndarray:
    """Nodes with ‖w_j‖ ≥ ACTIVE_NODE_FRACTION·max (weight decay shrinks unused nodes towards 0),
    largest first, at most `cap`."""
    norms = np.linalg.norm(W, axis=1)
    if not norms.size or norms.max() == 0:
        return np.arange(0)
    active = np.flatnonzero(norms >= ACTIVE_NODE_FRACTION * norms.max())
    return active[np.argsort(-norms[active])][:cap]


def spectra_panels(runs: pd.DataFrame, members: list[Member], store_folder: Path) -> tuple[list[SpectrumPanel], str, str]:
    """Heatmap panels for up to MAX_SNAPSHOT_MEMBERS runs; returns (panels, group name, ordering note)."""
    from groklab.train.checkpoint import load_snapshot, run_snapshots

    panels, group_name = [], ""
    for (_, row), member in list(zip(runs.iterrows(), members))[:MAX_SNAPSHOT_MEMBERS]:
        group = snapshot_group(row["config"])
        if group is None:
            continue
        snaps = dict(run_snapshots(row.to_dict(), store_folder))
        epochs = chosen_epochs(sorted(snaps), row["summary"] or {})
        if not epochs:
            continue
        group_name = group.name
        final = load_snapshot(snaps[epochs[-1][0]], int(row["member"]))["W"].numpy()
        nodes = _active_nodes(final)
        final_power = node_spectra(final[nodes], group)
        order = np.lexsort((-final_power.max(1) / np.maximum(final_power.sum(1), 1e-300), final_power.argmax(1)))
        nodes = nodes[order]
        labels = _irrep_labels(group)
        for epoch, note in epochs:
            W = load_snapshot(snaps[epoch], int(row["member"]))["W"].numpy()
            power = node_spectra(W[nodes], group)
            power = power / np.maximum(power.sum(1, keepdims=True), 1e-300)
            panels.append(SpectrumPanel(member.label, epoch, power, labels, note, total_nodes=final.shape[0]))
    note = (f"active nodes (‖w_j‖ ≥ {ACTIVE_NODE_FRACTION:g}·max at the final epoch, at most {MAX_SPECTRUM_NODES}), "
            "sorted by their final dominant irrep")
    return panels, group_name, note


def _irrep_labels(group) -> list[str]:
    from groklab.groups import real_irrep_groups

    return [g.label for g in real_irrep_groups(group)]


def census_for(run: dict, store) -> dict | None:
    """Energy census of a run's trained nodes, or None when there is nothing to census.

    Computed from the final snapshot: `groklab.li2.census` on the active nodes' unit vectors w/‖w‖,
    with each node's energy E(w/‖w‖) on the full table (definition as written). Returns
    {table: census_rows(...), nodes, group, activation, epoch}.
    """
    group = snapshot_group(run["config"])
    if group is None or run["config"]["task"].get("arity", 2) != 2:
        return None
    from groklab.train.checkpoint import load_snapshot, run_snapshots

    snaps = run_snapshots(run, store.folder)
    if not snaps:
        return None
    import torch

    from groklab.li2 import census, energy, full_data

    W = load_snapshot(snaps[-1][1], int(run["member"]))["W"].to(torch.float64)
    nodes = _active_nodes(W.numpy(), cap=None)
    w = W[nodes] / W[nodes].norm(dim=1, keepdim=True)
    activation = run["config"]["model"].get("activation", "sqr")
    idx, labels = full_data(group)
    result = census(w, group, energies=energy(w, idx, labels, group.order, activation=activation))
    return {"table": census_rows(result, group, closed_form=activation == "sqr"), "nodes": W.shape[0],
            "group": group.name, "activation": activation, "epoch": snaps[-1][0]}


def census_rows(result: dict, group, closed_form: bool = True) -> list[dict]:
    """Per dominant irrep (in irrep order, those that occur): pure and mixed node counts, their
    energies (mean/min/max) and Thm 2's maximum for that irrep."""
    from groklab.li2 import closed_form_energy

    labels, pure = result["label"], result["pure"].tolist()
    energies = None if result["energy"] is None else result["energy"].tolist()
    rows = []
    for name in result["irrep_labels"]:
        idx = [i for i, lab in enumerate(labels) if lab == name]
        if not idx:
            continue
        row = {"irrep": name, "pure": sum(pure[i] for i in idx), "mixed": sum(not pure[i] for i in idx),
               "purity_mean": float(result["purity"][idx].mean())}
        for kind, chosen in (("pure", [i for i in idx if pure[i]]), ("mixed", [i for i in idx if not pure[i]])):
            if energies is not None and chosen:
                e = [energies[i] for i in chosen]
                row.update({f"E_{kind}_mean": float(np.mean(e)), f"E_{kind}_min": float(np.min(e)),
                            f"E_{kind}_max": float(np.max(e))})
        if closed_form:
            row["E_thm2"] = closed_form_energy(group, name)
        rows.append(row)
    return rows
