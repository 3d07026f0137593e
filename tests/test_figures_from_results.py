"""Figures redrawn from the committed results (docs/results/*.json) without retraining, and what they must not
get wrong."""

import json
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]


def test_li2_muon_map_prints_numbers_in_the_colours_convention(tmp_path):
    """Every printed number has the sign of its cell's colour: + (red) = Muon better, in every column."""
    from groklab.reproduce import li2_muon_map as mp

    measured = json.loads((ROOT / "docs/results/li2-muon.json").read_text())["verdicts"][0]["measured"]
    rows, table = mp.table_from_results(measured)
    assert rows == list(measured["cells"])
    fig = mp.map_figure(rows, table)
    ax = fig.axes[0]
    colours = np.asarray(ax.images[0].get_array())
    checked = 0
    for text in ax.texts:
        x, y = (int(round(v)) for v in text.get_position())
        label = text.get_text().rstrip("*")
        if label == "n/a" or float(label) == 0 or not math.isfinite(colours[y, x]):
            continue
        assert np.sign(float(label)) == np.sign(colours[y, x]), (rows[y], mp.METRICS[x], label, colours[y, x])
        checked += 1
    assert checked > 50
    # the README's cells: Muon ahead on loss at Z23 K = 22, Adam far ahead on loss and accuracy under CE at Z71
    at = {(rows[int(round(t.get_position()[1]))], int(round(t.get_position()[0]))): t.get_text() for t in ax.texts}
    assert at[("Z23 K=22", 0)] == "+0.0223*" and at[("Z71 loss=ce", 0)] == "-2.24*" and at[("Z71 loss=ce", 1)] == "-0.437*"
    fig.savefig(tmp_path / "map.png")
