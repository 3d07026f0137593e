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

from groklab.report.plots import NEAR_PURE, PURE, Member, SpectrumPanel


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


def _at_or_after(available: list[int], epoch: int, event: str) -> tuple[int, str]:
    """The first snapshot after `epoch` (one before would show the net before `event`), or the last
    one when none is after; the note says which, so a title never claims an epoch it does not show."""
    after = [e for e in available if e > epoch]
    if after:
        return after[0], f"first snapshot after {event} at {epoch}"
    return available[-1], f"last snapshot, before {event} at {epoch}"


# The grok first: when both events fall on one snapshot, its title names the grok.
EVENTS = (("grok_epoch", "the grok"), ("memorization_epoch", "memorization"))
EXACT_NOTES = {"memorization": "memorized", "the grok": "grokked"}


def chosen_epochs(available: list[int], summary: dict) -> list[tuple[int, str]]:
    """Snapshot epochs worth showing: init, memorization, grok (or the middle), final; deduplicated.

    Memorization and grok show the snapshot at that epoch or the first after it, titled with the
    snapshot's own epoch: the nearest snapshot could precede the grok and show an ungrokked net."""
    if not available:
        return []
    wanted = [(available[0], "init")]
    for key, event in EVENTS:
        if summary.get(key) is not None:
            at = int(summary[key])
            epoch, note = (at, EXACT_NOTES[event]) if at in available else _at_or_after(available, at, event)
            wanted.append((epoch, note))
    if summary.get("grok_epoch") is None:
        wanted.append((_nearest(available, (available[0] + available[-1]) // 2), "midway"))
    wanted.append((available[-1], "final"))
    out: dict[int, str] = {}
    for epoch, note in wanted:
        out.setdefault(epoch, note)
    return sorted(out.items())


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
    {table: census_rows(...), nodes, group, activation, epoch, purity (per active node)}.
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
    result = census(w, group, energies=energy(w, idx, labels, group.order, activation=activation), purity_threshold=PURE)
    return {"table": census_rows(result, group, closed_form=activation == "sqr"), "nodes": W.shape[0],
            "group": group.name, "activation": activation, "epoch": snaps[-1][0],
            "purity": result["purity"].numpy()}


def census_rows(result: dict, group, closed_form: bool = True) -> list[dict]:
    """Per dominant irrep (in irrep order, those that occur): pure and mixed node counts (and how many
    of the mixed ones are nearly pure), their energies (mean/min/max) and Thm 2's maximum for that irrep."""
    from groklab.li2 import closed_form_energy

    labels, pure = result["label"], result["pure"].tolist()
    energies = None if result["energy"] is None else result["energy"].tolist()
    rows = []
    for name in result["irrep_labels"]:
        idx = [i for i, lab in enumerate(labels) if lab == name]
        if not idx:
            continue
        purity = result["purity"][idx]
        row = {"irrep": name, "pure": sum(pure[i] for i in idx), "mixed": sum(not pure[i] for i in idx),
               "nearly_pure": sum(not pure[i] and float(p) >= NEAR_PURE for i, p in zip(idx, purity)),
               "purity_mean": float(purity.mean())}
        for kind, chosen in (("pure", [i for i in idx if pure[i]]), ("mixed", [i for i in idx if not pure[i]])):
            if energies is not None and chosen:
                e = [energies[i] for i in chosen]
                row.update({f"E_{kind}_mean": float(np.mean(e)), f"E_{kind}_min": float(np.min(e)),
                            f"E_{kind}_max": float(np.max(e))})
        if closed_form:
            row["E_thm2"] = closed_form_energy(group, name)
        rows.append(row)
    return rows


MAX_NORM_SNAPSHOTS = 150  # snapshots read per ensemble for the weight-norm curve (dense early ones are thinned)


def _thinned(pairs: list, cap: int) -> list:
    """At most `cap` of `pairs`, evenly spread, always keeping the first and the last."""
    if len(pairs) <= cap:
        return pairs
    keep = sorted(set(np.linspace(0, len(pairs) - 1, cap).round().astype(int).tolist()))
    return [pairs[i] for i in keep]


def _member(run: dict) -> int:
    member = run.get("member")
    return 0 if member is None or member != member else int(member)  # NaN: a run outside an ensemble


def weight_norms(runs: pd.DataFrame, store_folder: Path, cap: int = MAX_NORM_SNAPSHOTS) -> pd.DataFrame:
    """‖θ‖₂ of every floating-point parameter of each run's member at its snapshot epochs:
    columns run_id, epoch, norm. Each ensemble's snapshot files are read once for all its members."""
    from groklab.train.checkpoint import ensemble_folder, list_snapshots, read_snapshot

    rows, by_folder = [], {}
    for run in runs.to_dict("records"):
        by_folder.setdefault(ensemble_folder(run, store_folder), []).append(run)
    for folder, members in by_folder.items():
        for epoch, path in _thinned(list_snapshots(folder), cap):
            params, stacked = read_snapshot(path)
            squares = sum(v.double().pow(2).reshape(v.shape[0], -1).sum(1) for v in params.values()
                          if v.is_floating_point())
            position = {m: i for i, m in enumerate(stacked)} if stacked is not None else None
            for run in members:
                member, until = _member(run), (run.get("summary") or {}).get("stopped_epoch")
                i = member if position is None else position.get(member)
                if i is not None and (until is None or epoch <= until):
                    rows.append({"run_id": run["run_id"], "epoch": epoch, "norm": float(squares[i].sqrt())})
    return pd.DataFrame(rows, columns=["run_id", "epoch", "norm"])
