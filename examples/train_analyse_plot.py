"""Train, analyse and plot through the Python API: Li2's weight-decay claim in miniature.

One ensemble of two members on Z23 (K = 512, x², class-centred MSE, full-batch Adam) that differ only
in weight decay. The member with weight decay groks; the one without memorizes. The Li2 analyses
then look inside both: which Fourier frequency each hidden node holds, how many of the 11
non-trivial frequencies the active nodes cover, and the energy of the nodes' directions on the full
table against its closed-form maximum M/4 (definitions in docs/li2-quantities.md).

    python examples/train_analyse_plot.py [--out DIR]

16 s with OMP_NUM_THREADS=1 on a 2-core CPU at a load average of about 5 (46 s with two threads there). Writes DIR/train_analyse_plot.png (default DIR: example-output) and
its runs into the store named by GROKLAB_STORE (default DIR/runs.sqlite).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from matplotlib.figure import Figure

from groklab.config import load_config
from groklab.groups import get_group
from groklab.li2 import classify_nodes, closed_form_energy, coverage, critical_ratio, full_data
from groklab.li2.experiments import node_energies
from groklab.train.cells import member_weights
from groklab.store import Store
from groklab.train.loop import train

GROUP = "Z23"
SETTING = [
    f"task.group={GROUP}", "task.train_fraction=0.5", "model.width=512", "optim.lr=5e-3",
    "optim.weight_decay=[1e-3,0]", "train.epochs=300", "train.eval_every=5", "train.progress=false",
    "train.checkpoint_dense_until=0", "train.checkpoint_every=100",
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    store_path = os.environ.get("GROKLAB_STORE", str(out / "runs.sqlite"))
    cfg = load_config(None, [*SETTING, f"store.path={store_path}"])
    group = get_group(GROUP)
    print(f"{GROUP}: training fraction {cfg.task.train_fraction} against the critical ratio "
          f"p* = {critical_ratio(group.order):.3f}")

    results = train(cfg)  # one dict per member, also stored (a re-run reads them back)
    store = Store(store_path)
    curves = store.metrics([r["run_id"] for r in results])

    peak_energy = closed_form_energy(group, 1)  # M/4 for every Z_M frequency (definition as written)
    table_idx, table_labels = full_data(group)  # the landscape whose maxima Thm 2 describes
    analyses = []
    for result in results:
        W = member_weights(store, result["run_id"])["W"]  # the last snapshot, [K, 2M]
        nodes = classify_nodes(W, group)
        covered = coverage(W, group, nodes=nodes)
        energies = node_energies(W, table_idx, table_labels, group.order)  # E(w_j/‖w_j‖)
        active = covered["active"]
        single = active & (nodes["purity"] >= 0.8)  # the nodes that count towards coverage
        analyses.append(dict(result=result, nodes=nodes, active=active, single=single, energies=energies))
        outcome = (f"grokked at epoch {result['grok_epoch']}" if not result["censored"]
                   else "did not grok")
        print(f"weight decay {result['weight_decay']:g}: {outcome} (final test accuracy "
              f"{result['final_test_acc']:.3f}); {int(active.sum())} active nodes, "
              f"{int(covered['count'])} of {len(covered['labels']) - 1} frequencies covered, "
              f"mean active-node energy {float(energies[active].mean()):.2f} (maximum M/4 = {peak_energy:.2f})")

    figure = plot(curves, analyses, peak_energy)
    path = out / "train_analyse_plot.png"
    figure.savefig(path, dpi=120)
    print(f"figure: {path}")


def plot(curves, analyses, peak_energy: float) -> Figure:
    """Test accuracy per member, nodes holding one frequency, energies of the active nodes."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    acc, freq, energy = fig.subplots(1, 3)
    for a in analyses:
        r = a["result"]
        label = f"wd {r['weight_decay']:g}"
        run = curves[curves["run_id"] == r["run_id"]].dropna(subset=["test_acc"])
        acc.plot(run["epoch"], run["test_acc"], label=label)
        dominant = a["nodes"]["dominant"][a["single"]]
        counts = torch.bincount(dominant, minlength=len(a["nodes"]["labels"]))[1:]  # frequency 0 is never dominant
        freq.bar(torch.arange(1, len(counts) + 1) + (0.2 if r["weight_decay"] == 0 else -0.2), counts, width=0.4,
                 label=label)
        energy.hist(a["energies"][a["active"]].numpy(), bins=30, alpha=0.6, label=label)
    acc.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    freq.set(title="active nodes holding one frequency (purity ≥ 0.8)", xlabel="frequency k", ylabel="nodes")
    energy.axvline(peak_energy, color="k", linestyle="--", label="maximum M/4")
    energy.set(title="energy of active nodes' directions", xlabel="E(w/‖w‖) on the full table", ylabel="nodes")
    for ax in (acc, freq, energy):
        ax.legend()
    return fig


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("example-output"), help="folder for the figure")
    main(parser.parse_args().out)
