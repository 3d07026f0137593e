"""Finite groups as Cayley tables: named families, irreps and the group Fourier transform.

    from groklab.groups import get_group, irreps, irrep_power
    G = get_group("S4")            # names: Z71, Z4xZ7, D12, Dic12, Q8, S4, A5, Semidirect(7,3,2), ...
    ir = irreps(G)                 # unitary irreps, characters, Frobenius–Schur types (cached)
    power = irrep_power(G, f)      # per-irrep power of f [..., |G|] (numpy or torch)

GAP's SmallGroups catalog lives in `groklab.groups.gap` and is imported only when used.
"""

from groklab.groups.families import (
    alternating,
    cyclic,
    cyclic_product,
    dicyclic,
    dihedral,
    direct_product,
    from_table,
    quaternion,
    semidirect,
    symmetric,
)
from groklab.groups.fourier import (
    RealIrrep,
    fourier_transform,
    inverse_fourier_transform,
    irrep_power,
    isotypic_projector,
    real_irrep_groups,
    real_irrep_power,
)
from groklab.groups.group import FiniteGroup, check_group_axioms
from groklab.groups.irreps import Irreps, irreps
from groklab.groups.names import FamilyInfo, canonical_name, get_group, list_families

__all__ = [
    "FamilyInfo",
    "FiniteGroup",
    "Irreps",
    "RealIrrep",
    "alternating",
    "canonical_name",
    "check_group_axioms",
    "cyclic",
    "cyclic_product",
    "dicyclic",
    "dihedral",
    "direct_product",
    "fourier_transform",
    "from_table",
    "get_group",
    "inverse_fourier_transform",
    "irrep_power",
    "irreps",
    "isotypic_projector",
    "list_families",
    "quaternion",
    "real_irrep_groups",
    "real_irrep_power",
    "semidirect",
    "symmetric",
]
