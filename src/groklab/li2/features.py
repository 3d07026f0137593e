"""Features of trained networks (RC4, Thm 7): irrep spectra of hidden nodes.

Definitions and the choices below: docs/li2-quantities.md#features-of-trained-nodes.

A node j of the first layer W [K, arity·M] reads operand block b through the row slice
W[j, b·M:(b+1)·M], a function on the group; its readout is the column V[:, j] (a function on the C = |G|
classes). Each is split into real-irrep power — the values of `groklab.groups.real_irrep_power`
(Plancherel: the powers of a block sum to its squared norm; a complex irrep and its conjugate form one
real irrep, so for Z_M the labels are the frequencies k = 0..⌊M/2⌋), computed as squared coordinates in
an orthonormal real basis of the isotypic subspaces (one real matmul; tested equal).

    node_spectra / readout_spectra   power per node (and per operand block)   [.., K, (arity,) R]
    classify_nodes                   dominant non-trivial irrep, purity, block purity, node norm
    active_nodes                     nodes with non-negligible norm
    coverage                         which non-trivial irreps are the dominant irrep of an active node
                                     whose purity is ≥ 0.8 (single-irrep, as RC4 asks)
    coverage_over_training           the same from snapshots, per epoch
    complexness                      per complex node, its distance from a phase-rotated real row
    missing_features                 the irreps not covered and E_S of the nodes (Thm 7)

Choices (the papers are silent): the trivial irrep (the constant function) is left out of dominance
and purity — a constant shift of an operand block only adds functions of one operand, which carry no
label information; its share is reported as `trivial_fraction`. Dominance and purity use the power
summed over operand blocks (Thm 2's maxima put one irrep in every block). A node is active when its
‖w_j‖ is at least `threshold` (default 0.25) of the largest in its member: weight decay shrinks unused
nodes towards 0 while the used ones grow, and at initialisation every node is active. Measured on a
Z23 run that groks (K = 512): 53 active nodes of 512, 94 % of them with purity > 0.8, all 11
frequencies covered; at initialisation purity ≈ 0.2 and nothing is covered.
All functions are pure and accept one member (W [K, D]) or an ensemble ([S, K, D]).
"""

from __future__ import annotations

import weakref
from typing import Iterable

import numpy as np
import torch

from groklab.errors import GroklabError
from groklab.groups.fourier import real_irrep_groups
from groklab.groups.group import FiniteGroup
from groklab.groups.irreps import irreps

ACTIVE_THRESHOLD = 0.25
_BASES: "weakref.WeakKeyDictionary[FiniteGroup, tuple]" = weakref.WeakKeyDictionary()
PURITY_THRESHOLD = 0.8  # a node counts towards coverage when it is (nearly) single-irrep, as RC4 asks


def _trivial_index(group: FiniteGroup) -> int:
    ir = irreps(group)
    for i, g in enumerate(real_irrep_groups(group)):
        if bool(np.allclose(ir.characters[g.members[0]], 1.0)):
            return i
    raise AssertionError("a group always has the trivial irrep")


def irrep_labels(group: FiniteGroup) -> list[str]:
    """Labels of the real irreps, in the order of the spectra's last axis."""
    return [g.label for g in real_irrep_groups(group)]


def operand_blocks(W: torch.Tensor, group: FiniteGroup) -> torch.Tensor:
    """W [.., K, arity·M] -> [.., K, arity, M] (operand b of node j is W[j, b·M:(b+1)·M])."""
    W = torch.as_tensor(W)
    m = group.order
    if W.shape[-1] % m:
        raise GroklabError(f"first-layer rows of length {W.shape[-1]} are not operand blocks of |{group.name}| = {m}")
    return W.reshape(*W.shape[:-1], W.shape[-1] // m, m)


def _real(W) -> torch.Tensor:
    """Float tensor; float32 stays float32 (classification does not need double precision and the
    training hook calls this every few epochs), anything else becomes float64."""
    W = torch.as_tensor(W).detach()
    return W if W.dtype == torch.float32 else W.to(torch.float64)


def _real_basis(group: FiniteGroup) -> tuple[torch.Tensor, torch.Tensor]:
    """An orthogonal real M×M matrix whose columns run through orthonormal bases of the real isotypic
    subspaces (`energy.isotypic_basis`), and the real-irrep index of each column. ‖fQ restricted to
    irrep r‖² is then `real_irrep_power(group, f)[r]` (Plancherel), with one real matmul instead of a
    complex transform per irrep — what makes the spectra cheap enough for a per-epoch hook."""
    if group not in _BASES:
        from groklab.li2.energy import isotypic_basis

        cols, owner = [], []
        for r in range(len(real_irrep_groups(group))):
            B = isotypic_basis(group, r, arity=1)
            cols.append(B)
            owner += [r] * B.shape[1]
        Q = torch.cat(cols, dim=1)
        if Q.shape != (group.order, group.order):
            raise AssertionError(f"isotypic bases of {group.name} do not span the group algebra")
        _BASES[group] = (Q, torch.tensor(owner))
    return _BASES[group]


@torch.no_grad()
def node_spectra(W, group: FiniteGroup) -> torch.Tensor:
    """Real-irrep power of each operand block of each node: [.., K, arity, R] (W's precision);
    equal to `groklab.groups.real_irrep_power` of the blocks."""
    return _power(operand_blocks(_real(W), group), group)


def _power(f: torch.Tensor, group: FiniteGroup) -> torch.Tensor:
    Q, owner = _real_basis(group)
    coef = f @ Q.to(device=f.device, dtype=f.dtype)
    members = torch.nn.functional.one_hot(owner, int(owner.max()) + 1).to(device=f.device, dtype=f.dtype)
    return (coef * coef) @ members  # sum the squared coordinates of each irrep's basis vectors


@torch.no_grad()
def readout_spectra(V, group: FiniteGroup) -> torch.Tensor:
    """Real-irrep power of each node's readout column V[:, j] (V [.., C, K] with C = |G|): [.., K, R]."""
    V = _real(V)
    if V.shape[-2] != group.order:
        raise GroklabError(f"V must have |{group.name}| = {group.order} rows (classes), got shape {tuple(V.shape)}")
    return _power(V.transpose(-1, -2), group)


def _dominance(power: torch.Tensor, trivial: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dominant non-trivial irrep and its share of the non-trivial power along the last axis."""
    p = power.clone()
    p[..., trivial] = 0.0
    total = p.sum(dim=-1)
    dom = p.argmax(dim=-1)
    purity = p.gather(-1, dom[..., None])[..., 0] / total.clamp_min(1e-300)
    return dom, torch.where(total > 0, purity, torch.zeros_like(purity))


@torch.no_grad()
def classify_nodes(W, group: FiniteGroup, V=None) -> dict:
    """Per node: the dominant non-trivial real irrep (over the summed operand blocks) and its purity.

    Returns a dict of tensors shaped [.., K] unless noted: `dominant` (index into `labels`), `purity`
    (dominant power / non-trivial power; 1 for a node in one isotypic subspace), `block_dominant` and
    `block_purity` [.., K, arity], `trivial_fraction`, `norm` (‖w_j‖), `power` [.., K, R] (summed over
    blocks), `labels` (list of R); with V also `readout_dominant`, `readout_purity`.
    """
    block_power = node_spectra(W, group)
    power = block_power.sum(dim=-2)
    trivial = _trivial_index(group)
    dom, purity = _dominance(power, trivial)
    bdom, bpur = _dominance(block_power, trivial)
    total = power.sum(dim=-1)
    out = dict(dominant=dom, purity=purity, block_dominant=bdom, block_purity=bpur,
               trivial_fraction=power[..., trivial] / total.clamp_min(1e-300), norm=total.sqrt(), power=power,
               labels=irrep_labels(group))
    if V is not None:
        rdom, rpur = _dominance(readout_spectra(V, group), trivial)
        out.update(readout_dominant=rdom, readout_purity=rpur)
    return out


def active_nodes(W, threshold: float = ACTIVE_THRESHOLD) -> torch.Tensor:
    """Nodes with ‖w_j‖ ≥ threshold · max_j ‖w_j‖ (per member): bool [.., K]."""
    if not 0 <= threshold <= 1:
        raise GroklabError(f"threshold must be in [0, 1], got {threshold}")
    W = torch.as_tensor(W).detach()
    norms = W.to(torch.complex128 if W.is_complex() else torch.float64).norm(dim=-1)  # |w|, never Re(w) alone
    return norms >= threshold * norms.amax(dim=-1, keepdim=True)


@torch.no_grad()
def coverage(W, group: FiniteGroup, threshold: float = ACTIVE_THRESHOLD, min_purity: float = PURITY_THRESHOLD,
             nodes: dict | None = None) -> dict:
    """Which non-trivial real irreps are the dominant irrep of at least one active node.

    Nodes count when active (`active_nodes`) and their purity is ≥ `min_purity` (default 0.8: at
    initialisation nodes are mixtures, purity ≈ 0.2, and cover nothing). Returns
    `covered` bool [.., R] (the trivial irrep always False), `count` and `fraction` [..] (of the R − 1
    non-trivial irreps), `active` [.., K] (active nodes, whatever their purity), `labels`, `missing`
    (labels; for one member only), and `mean_purity` [..] over active nodes. `nodes`: a `classify_nodes` result to reuse.
    """
    nodes = nodes or classify_nodes(W, group)
    active = active_nodes(W, threshold)
    counted = active & (nodes["purity"] >= min_purity)
    R = nodes["power"].shape[-1]
    hits = torch.nn.functional.one_hot(nodes["dominant"], R).to(torch.bool) & counted[..., None]
    covered = hits.any(dim=-2)
    covered[..., _trivial_index(group)] = False
    count = covered.sum(dim=-1)
    purity = torch.where(active, nodes["purity"], torch.zeros_like(nodes["purity"])).sum(dim=-1) / active.sum(dim=-1).clamp_min(1)
    out = dict(covered=covered, count=count, fraction=count.to(torch.float64) / (R - 1), active=active,
               labels=nodes["labels"], mean_purity=purity)
    if covered.ndim == 1:
        out["missing"] = [lab for i, lab in enumerate(nodes["labels"]) if i != _trivial_index(group) and not bool(covered[i])]
    return out


@torch.no_grad()
def complexness(W) -> torch.Tensor:
    """Per node, how far a complex first-layer row is from a real row times a phase: σ₂/σ₁ of the 2×D real
    matrix [Re w_j; Im w_j] ([.., K], in [0, 1]). A phase e^{iφ} per node changes nothing the x² net computes
    (V absorbs e^{−2iφ}), so a share of imaginary power alone cannot tell a complex net from a rotated real
    one; this can: 0 for any e^{iφ}·(real row), 1 for a complex exponential e^{2πikx/M} (Thm 3's complex node)."""
    W = torch.as_tensor(W).detach()
    if not W.is_complex():
        return torch.zeros(W.shape[:-1], dtype=torch.float64)
    pair = torch.stack([W.real, W.imag], dim=-2).to(torch.float64)  # [.., K, 2, D]
    s = torch.linalg.svdvals(pair)
    return s[..., 1] / s[..., 0].clamp_min(1e-300)


def coverage_over_training(snapshots: Iterable[tuple[int, torch.Tensor]], group: FiniteGroup,
                           threshold: float = ACTIVE_THRESHOLD, min_purity: float = PURITY_THRESHOLD) -> dict:
    """Coverage per epoch from (epoch, W) pairs (W of one member [K, D], or [S, K, D]).

    Returns `epochs` (list), `fraction`, `count` and `mean_purity` stacked over epochs ([E] or [E, S]),
    and `covered` [E, (S,) R].
    """
    epochs, fraction, count, purity, covered = [], [], [], [], []
    for epoch, W in snapshots:
        c = coverage(W, group, threshold, min_purity)
        epochs.append(int(epoch))
        fraction.append(c["fraction"])
        count.append(c["count"])
        purity.append(c["mean_purity"])
        covered.append(c["covered"])
    if not epochs:
        raise GroklabError("coverage_over_training needs at least one snapshot")
    stack = lambda xs: torch.stack([torch.as_tensor(x) for x in xs])  # noqa: E731
    return dict(epochs=epochs, fraction=stack(fraction), count=stack(count), mean_purity=stack(purity),
                covered=stack(covered), labels=irrep_labels(group))


@torch.no_grad()
def missing_features(W, group: FiniteGroup, threshold: float = ACTIVE_THRESHOLD, min_purity: float = PURITY_THRESHOLD,
                     idx=None, labels=None, paper_constants: bool = False) -> dict:
    """Thm 7 for one member's first layer W [K, arity·M]: the irreps no active node covers, and E_S.

    E_S(w) = ½‖P_S Ỹᵀσ(Xw)‖² (σ = x²; `groklab.li2.energy.missing_feature_energy`, definition as
    written unless `paper_constants`) with S the covered irreps, evaluated at each node's unit vector
    on the dataset idx/labels (default: the full table with W's number of operands). Thm 7: once S is learned, G_F points to the
    missing irreps only, and nodes inside S have E_S ≈ 0.

    Returns `covered` / `missing` (labels), `node_energy` [K] (E_S of ŵ_j), `active` [K] and
    `active_energy_mean` (mean E_S over active nodes).
    """
    from groklab.li2.energy import missing_feature_energy

    W = torch.as_tensor(W).detach().to(torch.float64)
    if W.ndim != 2:
        raise GroklabError(f"missing_features takes one member's W [K, arity·M], got shape {tuple(W.shape)}")
    if idx is None:  # the whole table, with as many operands as W has blocks
        from groklab.li2.energy import full_data

        idx, labels = full_data(group, arity=W.shape[1] // group.order)
    cov = coverage(W, group, threshold, min_purity)
    learned = [lab for lab, c in zip(cov["labels"], cov["covered"].tolist()) if c]
    unit = W / W.norm(dim=1, keepdim=True).clamp_min(1e-300)
    energy = missing_feature_energy(unit, group, learned, idx=idx, labels=labels, paper_constants=paper_constants)
    active = cov["active"]
    return dict(covered=learned, missing=cov["missing"], node_energy=energy, active=active,
                active_energy_mean=float(energy[active].mean()) if bool(active.any()) else float("nan"))
