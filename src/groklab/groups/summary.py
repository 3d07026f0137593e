"""A plain-dict description of a group, for `groklab groups info` and reports."""

from __future__ import annotations

import numpy as np

from groklab.groups.group import FiniteGroup
from groklab.groups.irreps import irreps


def group_summary(group: FiniteGroup) -> dict:
    """Order, abelian flag, classes, irrep degrees (ascending) and Frobenius–Schur types."""
    reps = irreps(group)
    order = np.argsort(reps.degrees, kind="stable")
    return {
        "name": group.name,
        "order": group.order,
        "abelian": group.is_abelian,
        "num_classes": len(group.conjugacy_classes),
        "class_sizes": sorted(len(c) for c in group.conjugacy_classes),
        "irrep_degrees": [int(reps.degrees[k]) for k in order],
        "frobenius_schur": [reps.fs_type[k] for k in order],
        "irrep_labels": [reps.labels[k] for k in order],
        "smallgroup_id": list(group.smallgroup_id) if group.smallgroup_id else None,
    }
