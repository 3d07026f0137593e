"""`groklab features RUN [--epoch E] [--json]`: the irrep features a trained run holds, for either model kind.

Two-layer runs (group composition): what `groklab li2 features` prints — per-irrep node counts and purity,
missing irreps, E_S (Thm 7) and coverage over the snapshots. Transformer runs (group composition, or add/sub
mod p, which is Z_p): per member, the irrep power spectra of the operand embedding and of the unembedding,
their key irreps and key power, the irreps the last block's FFN neurons hold, and the full / restricted /
excluded losses (`groklab.li2.snapshot_features`; definitions in docs/transformer-features.md).
"""

from __future__ import annotations

import math
from typing import Optional

import typer

from groklab.commands.common import existing_store, print_json
from groklab.errors import GroklabError

COVERAGE_POINTS = 12  # snapshots summarised in the two-layer coverage-over-training line


def register(app: typer.Typer) -> None:
    app.command("features")(features_command)


def features_command(
    run_id: str = typer.Argument(..., help="Run id or a unique prefix (from `groklab runs list`)."),
    epoch: Optional[int] = typer.Option(None, "--epoch", help="Snapshot epoch (default: the last)."),
    store: Optional[str] = typer.Option(None, "--store", help="SQLite store (default: store.path)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Irrep features of a trained run: nodes of a two-layer net, or the embedding, unembedding and MLP
    neurons of a transformer with its key irreps and restricted/excluded losses."""
    db = existing_store(store)
    row = db.run(run_id)
    if row["config"].get("model", {}).get("kind") == "transformer":
        from groklab.li2.snapshot_features import run_features

        result = run_features(db, row["run_id"], epoch)
        print_json(result) if as_json else print_transformer(result)
        return
    result = two_layer_features(db, row["run_id"], epoch)
    print_json(result) if as_json else print_two_layer(result)


# -- transformer -------------------------------------------------------------------------------------

def print_transformer(r: dict) -> None:
    typer.echo(f"run {r['run'][:8]}: transformer on {r['task']} ({r['group']}), member {r['member']}, epoch {r['epoch']}")
    typer.echo(f"  key irreps: the fewest non-trivial irreps holding ≥ {r['key_fraction']:g} of the non-trivial power")
    for name in ("embedding", "unembedding"):
        t = r[name]
        typer.echo(f"  {name}: {t['key_count']} key irreps hold {t['key_power']:.3f} ({', '.join(t['key_irreps'])}); "
                   f"trivial share {t['trivial_fraction']:.3f}")
    if r["neurons"] is not None:
        n = r["neurons"]
        typer.echo(f"  FFN neurons (last block): {n['active']}/{n['neurons']} active, covering {n['covered_count']}/"
                   f"{n['irreps']} irreps: {', '.join(n['covered']) or 'none'}")
    loss = r["losses"]
    typer.echo(f"  loss key irreps (the unembedding's, at most half): {', '.join(r['loss_key_irreps']) or 'none'}")
    typer.echo(f"  loss train/test: full {loss['full_train']:.4g}/{loss['full_test']:.4g}, restricted to them "
               f"{loss['restricted_train']:.4g}/{loss['restricted_test']:.4g}, them excluded "
               f"{loss['excluded_train']:.4g}/{loss['excluded_test']:.4g}")
    typer.echo(f"  {'irrep':>8} {'d':>2} {'embedding':>10} {'unembedding':>12} {'neurons':>8}")
    held = {row["irrep"]: row["neurons"] for row in (r["neurons"] or {}).get("per_irrep", [])}
    for e, u in zip(r["embedding"]["spectrum"], r["unembedding"]["spectrum"]):
        mark = "*" if e["key"] else " "
        typer.echo(f"  {e['irrep']:>8} {e['degree']:>2} {e['fraction']:>9.3f}{mark} {u['fraction']:>12.3f} "
                   f"{held.get(e['irrep'], 0):>8}")
    typer.echo("  (* key irrep of the embedding; shares are of all power, the trivial irrep included)")


# -- two-layer ---------------------------------------------------------------------------------------

def two_layer_features(db, run_id: str, epoch: int | None) -> dict:
    """What `groklab li2 features` reports for a two-layer run on group composition."""
    from groklab.li2.experiments import member_weights
    from groklab.li2.features import classify_nodes, coverage, coverage_over_training, missing_features
    from groklab.report.snapshots import snapshot_group
    from groklab.train.checkpoint import load_snapshot, run_snapshots

    row = db.run(run_id)
    group = snapshot_group(row["config"])
    if group is None:
        raise GroklabError(f"run {row['run_id'][:8]} is not a real two-layer network on group composition or a "
                           "transformer; features need model.kind=two_layer and task.op=compose, or model.kind=transformer")
    weights = member_weights(db, row["run_id"], epoch)
    W, V = weights["W"].to(float), weights["V"].to(float)
    nodes = classify_nodes(W, group, V)
    cov = coverage(W, group, nodes=nodes)
    missing = missing_features(W, group)
    snaps = run_snapshots(row, db.folder)
    step = max(1, math.ceil(len(snaps) / COVERAGE_POINTS))
    picked = snaps[::step] + ([snaps[-1]] if (len(snaps) - 1) % step else [])
    over = coverage_over_training(((e, load_snapshot(p, int(row["member"]))["W"]) for e, p in picked), group)

    counted = cov["active"] & (nodes["purity"] >= 0.8)
    per_irrep = []
    for i, label in enumerate(nodes["labels"]):
        holders = counted & (nodes["dominant"] == i)
        if bool(holders.any()):
            per_irrep.append(dict(irrep=label, nodes=int(holders.sum()), mean_purity=round(float(nodes["purity"][holders].mean()), 4),
                                  readout_same_irrep=int((nodes["readout_dominant"][holders] == i).sum())))
    result = dict(
        run=row["run_id"], group=group.name, width=int(W.shape[0]), epoch=epoch if epoch is not None else (snaps[-1][0] if snaps else None),
        active_nodes=int(cov["active"].sum()), mean_purity=round(float(cov["mean_purity"]), 4),
        covered=f"{int(cov['count'])}/{len(nodes['labels']) - 1}", missing=missing["missing"],
        missing_energy_mean=missing["active_energy_mean"], per_irrep=per_irrep,
        coverage_over_training=[dict(epoch=e, fraction=round(float(f), 4)) for e, f in zip(over["epochs"], over["fraction"].tolist())],
    )
    return result


def print_two_layer(result: dict) -> None:
    typer.echo(f"run {result['run'][:8]}: {result['group']}, K={result['width']}, epoch {result['epoch']}")
    typer.echo(f"  active nodes (‖w‖ ≥ ¼ max): {result['active_nodes']}, mean purity {result['mean_purity']:.3f}")
    typer.echo(f"  irreps covered by an active node of purity ≥ 0.8: {result['covered']}; missing: "
               f"{', '.join(result['missing']) or 'none'}")
    typer.echo(f"  E_S of the active nodes (Thm 7; ≈ 0 once S is learned): {result['missing_energy_mean']:.4g}")
    typer.echo("  coverage over training: " + ", ".join(f"{c['epoch']}: {c['fraction']:.2f}" for c in result["coverage_over_training"]))
    typer.echo(f"  {'irrep':>8} {'nodes':>6} {'purity':>7} {'V same irrep':>13}")
    for r in result["per_irrep"]:
        typer.echo(f"  {r['irrep']:>8} {r['nodes']:>6} {r['mean_purity']:>7.3f} {r['readout_same_irrep']:>13}")
