"""The maxima of the Li₂ energy: Thm 2's closed forms per irrep, isotypic subspaces, the census of
converged maxima by irrep, and Thm 7's energy of the missing features.

For σ = x² and full data the maxima lie in one isotypic subspace with ‖u‖ = ‖v‖ = 1/√2 (u, v the
operand blocks of w) and, definition as written,
    E* = M / (2 d_k)   for a real irrep (Frobenius–Schur ν = +1),
    E* = M / (4 d_k)   for a complex pair k ⊕ k̄ (ν = 0) and for a quaternionic irrep (ν = −1);
equivalently E = (2/M) Σ_{k≠0} d_k ‖û_k v̂_k‖²_F (f̂_k = Σ_g f(g) ρ_k(g)), derived and checked
numerically in the tests. The paper (Thm 2) states M/(8 d_k) and M/(16 d_k), 4× smaller, and does not
treat quaternionic irreps separately: for them the Fourier coefficient of a real function cannot be
rank one, which halves the value, like a complex pair (docs/li2-quantities.md#maxima-of-the-energy).
"""

from __future__ import annotations

from collections import Counter
from numbers import Integral
from typing import Iterable

import numpy as np
import torch

from groklab.errors import GroklabError
from groklab.groups.fourier import isotypic_projector, real_irrep_groups, real_irrep_power
from groklab.groups.group import FiniteGroup
from groklab.groups.irreps import irreps
from groklab.li2.ascent import AscentResult, ascend_energy
from groklab.li2.node_energy import PAPER_FACTOR, as_index_tensor, as_node_batch, energy, full_data

# -- groups: irreps, isotypic subspaces, closed forms ----------------------------------------------


def _real_irrep_of(group: FiniteGroup, irrep) -> int:
    """Index into real_irrep_groups(group) of an irrep index, irrep label or real-irrep label."""
    groups = real_irrep_groups(group)
    ir = irreps(group)
    if isinstance(irrep, str):
        for i, g in enumerate(groups):
            if g.label == irrep:
                return i
        if irrep in ir.labels:
            k = ir.labels.index(irrep)
        else:
            allowed = [g.label for g in groups]
            raise GroklabError(f"no irrep {irrep!r} in {group.name}; labels: {', '.join(allowed)}")
    elif isinstance(irrep, Integral) and not isinstance(irrep, bool):
        k = int(irrep)
        if not 0 <= k < ir.num_irreps:
            raise GroklabError(f"irrep index {k} out of range for {group.name} (0..{ir.num_irreps - 1})")
    else:
        raise GroklabError(f"an irrep is an index or a label, got {irrep!r}")
    for i, g in enumerate(groups):
        if k in g.members:
            return i
    raise AssertionError("irrep not in any real-irrep group")


def closed_form_energy(group, irrep, activation: str = "sqr", paper_constants: bool = False) -> float:
    """Thm 2's maximum energy in one (real) irrep, full data, σ = x², binary products.

    Definition as written (docs/li2-quantities.md#energy-normalisation): M/(2 d_k) for a real irrep,
    M/(4 d_k) for a complex pair and for a quaternionic irrep; 0 for the trivial irrep. So Z_M gives
    M/4 for k ≠ 0 and M/2 for k = M/2. `paper_constants=True` divides by 4 (the paper's M/(8 d_k),
    M/(16 d_k)).

    `group` is a FiniteGroup or an int M (meaning Z_M, irrep = frequency k); `irrep` is an irrep
    index, an irrep label, or a real-irrep label ("k=3", "1b+1c").
    """
    if activation != "sqr":
        raise GroklabError(f"Thm 2's closed form holds for σ = x² only (activation 'sqr'), got {activation!r}")
    if isinstance(group, Integral) and not isinstance(group, bool):
        m = int(group)
        k = int(irrep) % m
        if k == 0:
            value = 0.0
        elif (2 * k) % m == 0:
            value = m / 2
        else:
            value = m / 4
    else:
        ri = real_irrep_groups(group)[_real_irrep_of(group, irrep)]
        ir = irreps(group)
        k = ri.members[0]
        m, d = group.order, ri.degree
        if bool(np.allclose(ir.characters[k], 1.0)):
            value = 0.0
        elif ir.fs_type[k] == "real":
            value = m / (2 * d)
        else:  # complex pair or quaternionic
            value = m / (4 * d)
    return value / PAPER_FACTOR if paper_constants else value


def isotypic_basis(group: FiniteGroup, irrep, arity: int = 2) -> torch.Tensor:
    """Orthonormal real basis [arity·M, arity·r] of node vectors whose every operand block lies in
    the real isotypic subspace of one irrep (H_k, or H_k ⊕ H_k̄ for a complex pair; r = its real
    dimension d_k² or 2d_k²). Pass it as `basis` to `ascend_energy` to maximise within the irrep."""
    ri = real_irrep_groups(group)[_real_irrep_of(group, irrep)]
    proj = isotypic_projector(group, ri.members[0], pair_conjugate=True)
    vals, vecs = np.linalg.eigh(proj)
    block = vecs[:, vals > 0.5]
    m, r = group.order, block.shape[1]
    out = np.zeros((arity * m, arity * r))
    for j in range(arity):
        out[j * m : (j + 1) * m, j * r : (j + 1) * r] = block
    return torch.from_numpy(out)


def isotypic_maximum(
    group: FiniteGroup,
    irrep,
    idx=None,
    labels=None,
    activation: str = "sqr",
    starts: int = 16,
    steps: int = 3000,
    seed: int = 0,
    paper_constants: bool = False,
) -> float:
    """The largest E found by ascent restricted to one irrep's isotypic subspace (both operands).

    Defaults to the full table (then it should equal `closed_form_energy` for σ = x²); on a subset
    it is the best "Fourier" energy to compare memorising maxima with.
    """
    if idx is None:
        idx, labels = full_data(group)
    idx = as_index_tensor(idx, "idx")
    basis = isotypic_basis(group, irrep, arity=idx.shape[1])
    res = ascend_energy(
        idx, labels, group.order, starts=starts, steps=steps, activation=activation, seed=seed,
        basis=basis, paper_constants=paper_constants,
    )
    return float(res.energy.max())


def fourier_vector(m: int, k: int, phase: float = 0.0, arity: int = 2, dtype=torch.float64) -> torch.Tensor:
    """Unit node vector of Z_M frequency k: u_x = cos(kωx), v_x = cos(kωx + phase) (ω = 2π/M),
    each block of norm 1/√arity (k = M/2 gives (−1)^x blocks; phase is then 0 or π in effect).

    A maximiser of Cor. 2 for any phase: the relative phase of the blocks is free
    (docs/li2-quantities.md#phase-freedom)."""
    k = int(k) % m
    if k == 0:
        raise GroklabError("frequency k = 0 (the constant) is not a feature")
    x = torch.arange(m, dtype=dtype)
    omega = 2 * np.pi * k / m
    blocks = [torch.cos(omega * x + (phase if j else 0.0)) for j in range(arity)]
    w = torch.cat([b / b.norm() for b in blocks]) / np.sqrt(arity)
    return w


# -- census of maxima ----------------------------------------------------------------------------


def census(
    w,
    group: FiniteGroup,
    energies=None,
    converged=None,
    purity_threshold: float = 0.99,
) -> dict:
    """Classify node vectors (typically converged maxima) by their dominant real irrep.

    For each w the operand blocks (u = w[:M], v = w[M:2M], ...) are Fourier-analysed over `group`;
    complex-conjugate irreps are paired into one real-irrep label ("k=3" stands for {3, M−3}).
    The dominant label maximises the power summed over blocks; purity is the fraction of the total
    power in it (1 when w lies in one isotypic subspace, as Thm 2's maxima do).

    Returns a dict of:
        irrep_labels: the R real-irrep labels; power: [B, R] power summed over blocks;
        dominant: [B] index into irrep_labels; label: list of B labels; purity: [B];
        block_dominant, block_purity, block_norms: [B, arity];
        energy, converged: as given (or None / all True); pure: [B] purity ≥ threshold;
        summary: {label: count} over converged pure vectors, plus "mixed": converged impure ones;
        table: per label (and "mixed") a dict with count, energy mean/min/max (when energies are
            given) and, for single-irrep labels, `closed_form` (Thm 2, full data, σ = x²,
            definition as written) — the summary table.
    """
    wb, _ = as_node_batch(w)
    m = group.order
    if wb.shape[1] % m:
        raise GroklabError(f"node vectors of length {wb.shape[1]} are not blocks of |{group.name}| = {m}")
    arity = wb.shape[1] // m
    blocks = wb.detach().to(torch.float64).reshape(wb.shape[0], arity, m)
    block_power = real_irrep_power(group, blocks)  # [B, arity, R]
    power = block_power.sum(dim=1)
    total = power.sum(dim=1).clamp_min(1e-300)
    dominant = power.argmax(dim=1)
    purity = power.gather(1, dominant[:, None])[:, 0] / total
    bdom = block_power.argmax(dim=2)
    bpur = block_power.gather(2, bdom[..., None])[..., 0] / block_power.sum(dim=2).clamp_min(1e-300)
    groups = real_irrep_groups(group)
    names = [g.label for g in groups]
    labels = [names[int(i)] for i in dominant]
    conv = torch.ones(wb.shape[0], dtype=torch.bool) if converged is None else torch.as_tensor(converged).bool()
    pure = purity >= purity_threshold
    e = None if energies is None else torch.as_tensor(energies).detach().to(torch.float64)
    keys = [labels[i] if bool(pure[i]) else "mixed" for i in range(wb.shape[0]) if bool(conv[i])]
    kept = [i for i in range(wb.shape[0]) if bool(conv[i])]
    summary = dict(Counter(keys))
    table = []
    order = [n for n in names if n in summary] + (["mixed"] if "mixed" in summary else [])
    for name in order:
        rows = [i for i, key in zip(kept, keys) if key == name]
        entry: dict = {"label": name, "count": len(rows)}
        if e is not None:
            ev = e[rows]
            entry.update(energy_mean=float(ev.mean()), energy_min=float(ev.min()), energy_max=float(ev.max()))
        if name != "mixed" and arity == 2:
            entry["closed_form"] = closed_form_energy(group, name)
        table.append(entry)
    return {
        "irrep_labels": names,
        "power": power,
        "dominant": dominant,
        "label": labels,
        "purity": purity,
        "block_dominant": bdom,
        "block_purity": bpur,
        "block_norms": blocks.norm(dim=2),
        "energy": e,
        "converged": conv,
        "pure": pure,
        "summary": summary,
        "table": table,
    }


# -- Thm 7: missing features ---------------------------------------------------------------------


def missing_feature_projector(group: FiniteGroup, learned: Iterable) -> torch.Tensor:
    """[M, M] real projector (class axis) onto the isotypic subspaces of the non-trivial irreps
    *not* in `learned` (irrep indices or labels; naming one member of a complex pair marks the pair)."""
    groups = real_irrep_groups(group)
    done = {_real_irrep_of(group, x) for x in learned}
    ir = irreps(group)
    proj = np.zeros((group.order, group.order))
    for i, g in enumerate(groups):
        if i in done or bool(np.allclose(ir.characters[g.members[0]], 1.0)):
            continue
        proj += isotypic_projector(group, g.members[0], pair_conjugate=True)
    return torch.from_numpy(proj)


def missing_feature_energy(
    w,
    group: FiniteGroup,
    learned: Iterable,
    idx=None,
    labels=None,
    activation: str = "sqr",
    centre: bool = True,
    paper_constants: bool = False,
) -> torch.Tensor:
    """Thm 7's E_S(w) = ½‖P_S Ỹᵀσ(Xw)‖², P_S the class-axis projector onto the missing irreps
    (those not in `learned`), on the dataset idx/labels (default: the full table). Its local
    maxima are the missing irreps only (σ = x²); a learned irrep's maximiser has E_S = 0."""
    if idx is None:
        idx, labels = full_data(group)
    proj = missing_feature_projector(group, learned)
    return energy(
        w, idx, labels, group.order, activation, centre, class_projector=proj, paper_constants=paper_constants
    )


def ascend_missing_features(
    group: FiniteGroup, learned: Iterable, idx=None, labels=None, **kwargs
) -> AscentResult:
    """`ascend_energy` on E_S (Thm 7), default full table; keyword arguments are passed on."""
    if idx is None:
        idx, labels = full_data(group)
    proj = missing_feature_projector(group, learned)
    return ascend_energy(idx, labels, group.order, class_projector=proj, **kwargs)
