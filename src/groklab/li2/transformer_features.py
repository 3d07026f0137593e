"""Irrep features of a transformer on a group task: pure functions of its weights and activations.

The operand tokens of a group task are the group elements (token g is element g, `tasks/encoding.py`)
and its classes are the group elements too, so three tables of a trained transformer are functions on
the group, one per model dimension or neuron, and the group Fourier transform (`groups/fourier.py`)
splits their power over the irreps. Power is per *real* irrep (an irrep with its complex conjugate,
`real_irrep_groups`), d-weighted by Plancherel, p_r = Σ_{k∈r} d_k ‖f̂_k‖²_F / |G|, so that the powers of a
function sum to its squared norm. Definitions (docs/transformer-features.md):

    embedding spectrum    Σ_j p_r(E[:, j])  over the W columns of the token embedding E restricted to the
                          |G| operand rows                                                      [R]
    unembedding spectrum  Σ_j p_r(U[:, j])  for the head with the final norm's gain folded in,
                          U = Head·diag(g), restricted to the |G| class rows                     [R]
    key irreps            the fewest non-trivial real irreps, by descending power, whose power reaches
                          KEY_FRACTION (0.9) of the non-trivial power (the trivial irrep is a shared offset of
                          every row, which carries no information about the element)
    key power             the share of the non-trivial power that the key irreps hold
    neuron spectrum       for the last block's FFN hidden activation A_i(a, b) at the readout position
                          over the full table: Σ_b p_r(A_i(·, b)) + Σ_a p_r(A_i(a, ·))           [F, R]
    covered irreps        non-trivial real irreps that are the dominant irrep (largest non-trivial power)
                          of an active neuron (non-trivial power ≥ ¼ of the largest) holding ≥ 0.5 of its
                          non-trivial power there
    restricted logits     the logits' components along the class axis in the trivial and loss key irreps'
                          isotypic subspaces (the unembedding's key irreps, at most LOSS_KEY_CAP of the
                          non-trivial ones); excluded logits: the logits minus their key components

Every function takes torch tensors with any leading (member) axes and returns tensors on their device.
"""

from __future__ import annotations

import numpy as np
import torch

from groklab.errors import GroklabError
from groklab.groups import fourier_transform, inverse_fourier_transform, real_irrep_groups, real_irrep_power

# The key set must hold this share of the non-trivial power. It has to keep every irrep the network computes
# with, or the restricted loss measures a missing feature: on grokked Z31 transformers a share of 0.6 kept 3-4
# of the 5-8 irreps that carry the embedding and the logits (restricted loss 1.5-4x the full loss), 0.9 kept
# them all (within 10 %), while the embedding at initialisation needs 14 of 15. Much closer to 1 the set
# would sweep in the thin noise floor that weight decay never removes (docs/transformer-features.md).
KEY_FRACTION = 0.9
# The key set of the restricted/excluded losses is the unembedding's (the classes are what the logits are over),
# capped at this share of the non-trivial irreps: a set holding (nearly) every irrep makes the restricted loss
# the full loss and the excluded loss chance by identity (a width-128 embedding needs 43 of 48 frequencies).
LOSS_KEY_CAP = 0.5
NEURON_PURITY = 0.5  # a neuron holds an irrep when at least half of its non-trivial power is there
ACTIVE_NEURON = 0.25  # active: non-trivial power ≥ ¼ of the largest (weight decay shrinks unused neurons)
# Largest group order analysed: the neuron table is |G|² × F values per member (at 256 and F = 512,
# 134 MB in float32) and the Fourier transforms of the class axis are |G|×|G| per irrep degree.
MAX_FEATURE_ORDER = 256


def check_feature_group(group) -> None:
    """A one-line error for groups too large for the irrep analysis (see MAX_FEATURE_ORDER)."""
    if group.order > MAX_FEATURE_ORDER:
        raise GroklabError(f"group {group.name} has order {group.order}; transformer irrep features are computed for "
                           f"groups of order ≤ {MAX_FEATURE_ORDER} (the full-table neuron grid is |G|² per neuron)")


def irrep_labels(group) -> list[str]:
    return [r.label for r in real_irrep_groups(group)]


def table_spectrum(group, table: torch.Tensor) -> torch.Tensor:
    """Real-irrep power of a table [..., |G|, W] whose rows are the group elements, summed over its W
    columns (each column a function on the group): [..., R], summing to ‖table‖²_F."""
    table = torch.as_tensor(table)
    if table.shape[-2] != group.order:
        raise GroklabError(f"a table over {group.name} needs {group.order} rows, got shape {tuple(table.shape)}")
    return real_irrep_power(group, table.to(torch.float64).transpose(-1, -2)).sum(-2)


def key_irreps(power: torch.Tensor, fraction: float = KEY_FRACTION, max_count: int | None = None) -> dict[str, torch.Tensor]:
    """The key set of a spectrum [..., R] (index 0 is the trivial irrep): `mask` [..., R] bool, `count` [...],
    `key_power` [...] (share of the non-trivial power in the key set; NaN when there is none), `trivial`
    [...] (the trivial irrep's share of all power). Ties keep irrep order. `max_count` caps the set (its
    key power then falls short of `fraction` when more irreps would be needed)."""
    power = torch.as_tensor(power).to(torch.float64)
    rest = power[..., 1:].clamp_min(0)
    total = rest.sum(-1, keepdim=True)
    ordered, order = torch.sort(rest, dim=-1, descending=True, stable=True)
    share = ordered.cumsum(-1) / total.clamp_min(1e-300)
    # the smallest prefix reaching the fraction (tolerance: a share of exactly `fraction` counts)
    count = (share < fraction - 1e-12).sum(-1) + 1
    count = count.clamp(max=rest.shape[-1] if max_count is None else max(1, min(int(max_count), rest.shape[-1])))
    count = torch.where(total[..., 0] > 0, count, torch.zeros_like(count))
    ranks = torch.arange(rest.shape[-1], device=power.device).expand_as(rest)
    chosen = torch.zeros_like(rest, dtype=torch.bool).scatter(-1, order, ranks < count.unsqueeze(-1))
    mask = torch.cat([torch.zeros_like(chosen[..., :1]), chosen], dim=-1)
    key_power = (rest * chosen).sum(-1) / total[..., 0]
    trivial = power[..., 0] / power.sum(-1).clamp_min(1e-300)
    return {"mask": mask, "count": count, "key_power": key_power, "trivial": trivial}


def loss_key_irreps(unembedding_power: torch.Tensor) -> dict[str, torch.Tensor]:
    """The key set of the restricted/excluded losses: the unembedding's key irreps, at most LOSS_KEY_CAP of the
    non-trivial irreps (`key_irreps`' fields)."""
    return key_irreps(unembedding_power, max_count=int(LOSS_KEY_CAP * (unembedding_power.shape[-1] - 1)))


def complex_mask(group, real_mask: torch.Tensor) -> torch.Tensor:
    """A real-irrep mask [..., R] as a mask over the complex irreps [..., num_irreps] (both members of a pair)."""
    groups = real_irrep_groups(group)
    index = torch.empty(sum(len(g.members) for g in groups), dtype=torch.long)
    for r, g in enumerate(groups):
        index[list(g.members)] = r
    return real_mask[..., index.to(real_mask.device)]


def project_classes(group, logits: torch.Tensor, real_mask: torch.Tensor) -> torch.Tensor:
    """The components of `logits` [..., n, C ≥ |G|] along the class axis (its first |G| entries, the group
    elements) in the isotypic subspaces of the real irreps in `real_mask` [..., R] (one mask per leading
    index, broadcast over the rows): Fourier transform, keep the masked irreps' blocks, invert. Extra
    classes beyond |G| (a vocabulary-wide head's OP/EQ) are zero in the result."""
    n = group.order
    z = logits[..., :n].to(torch.float64)
    keep = complex_mask(group, real_mask).to(z.dtype)  # [..., num_irreps]
    coeffs = fourier_transform(group, z)
    masked = [c * keep[..., k, None, None, None].to(c.dtype) for k, c in enumerate(coeffs)]
    out = inverse_fourier_transform(group, masked, real=True).to(torch.float64)
    if logits.shape[-1] > n:
        out = torch.cat([out, torch.zeros_like(logits[..., n:], dtype=out.dtype)], dim=-1)
    return out


def restricted_logits(group, logits: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """Logits kept only in the trivial and key irreps (extra non-group classes unchanged)."""
    mask = key_mask.clone()
    mask[..., 0] = True
    out = project_classes(group, logits, mask)
    out[..., group.order:] = logits[..., group.order:].to(out.dtype)
    return out


def excluded_logits(group, logits: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """Logits with their key-irrep components removed (everything else kept)."""
    return logits.to(torch.float64) - project_classes(group, logits, key_mask)


def neuron_spectra(group, acts: torch.Tensor) -> torch.Tensor:
    """Per-neuron real-irrep power of activations on the full table, acts [..., |G|, |G|, F] indexed by
    (a, b): as a function of a for every b plus as a function of b for every a -> [..., F, R]."""
    acts = torch.as_tensor(acts).to(torch.float64)
    along_a = real_irrep_power(group, acts.movedim(-3, -1)).sum(-3)  # [..., b, F, |G|] -> sum over b
    along_b = real_irrep_power(group, acts.movedim(-2, -1)).sum(-3)  # [..., a, F, |G|] -> sum over a
    return along_a + along_b


def classify_neurons(power: torch.Tensor, purity: float = NEURON_PURITY, active: float = ACTIVE_NEURON) -> dict:
    """From neuron spectra [..., F, R]: `dominant` [..., F] (a non-trivial real irrep index), `purity` [..., F]
    (its share of the neuron's non-trivial power), `active` [..., F], `covered` [..., R] bool and `count` [...]."""
    rest = power[..., 1:]
    total = rest.sum(-1)
    top, arg = rest.max(-1)
    pure = top / total.clamp_min(1e-300)
    is_active = total >= active * total.max(-1, keepdim=True).values.clamp_min(1e-300)
    holds = is_active & (pure >= purity)
    covered = torch.zeros(power.shape[:-2] + (power.shape[-1],), dtype=torch.bool, device=power.device)
    covered.scatter_(-1, torch.where(holds, arg + 1, torch.zeros_like(arg)), holds)  # index 0 only gets False
    return {"dominant": arg + 1, "purity": pure, "active": is_active, "covered": covered, "count": covered.sum(-1)}


def embedding_table(params: dict, group) -> torch.Tensor:
    """The operand rows of the token embedding, [..., |G|, W] (operand token g is element g)."""
    return params["embed"][..., : group.order, :]


def unembedding_table(params: dict, group) -> torch.Tensor:
    """The head's class rows with the final norm's gain folded in (what multiplies the normed state),
    [..., |G|, W]."""
    return (params["head"] * params["final_norm"].unsqueeze(-2))[..., : group.order, :]


def spectrum_rows(group, power: torch.Tensor, mask: torch.Tensor | None = None) -> list[dict]:
    """One row per real irrep of a spectrum [R] (one member): label, degree, power, share of all power,
    and whether it is a key irrep."""
    groups = real_irrep_groups(group)
    total = float(power.sum()) or 1.0
    return [dict(irrep=g.label, degree=g.degree, power=float(power[r]), fraction=round(float(power[r]) / total, 6),
                 **({"key": bool(mask[r])} if mask is not None else {})) for r, g in enumerate(groups)]


def table_summary(group, table: torch.Tensor, fraction: float = KEY_FRACTION) -> dict:
    """Spectrum, key irreps and key power of one table [|G|, W] (one member)."""
    power = table_spectrum(group, table)
    key = key_irreps(power, fraction)
    labels = irrep_labels(group)
    order = torch.argsort(power[1:], descending=True, stable=True) + 1
    return dict(key_irreps=[labels[r] for r in order.tolist() if key["mask"][r]], key_power=round(float(key["key_power"]), 6),
                key_count=int(key["count"]), trivial_fraction=round(float(key["trivial"]), 6),
                spectrum=spectrum_rows(group, power, key["mask"]))


def neuron_summary(group, acts: torch.Tensor) -> dict:
    """Per-irrep neuron counts of one member's full-table activations [|G|, |G|, F]."""
    power = neuron_spectra(group, acts)
    nodes = classify_neurons(power)
    labels = irrep_labels(group)
    holds = nodes["active"] & (nodes["purity"] >= NEURON_PURITY)
    per_irrep = []
    for r in range(1, len(labels)):
        mine = holds & (nodes["dominant"] == r)
        if bool(mine.any()):
            per_irrep.append(dict(irrep=labels[r], neurons=int(mine.sum()),
                                  mean_purity=round(float(nodes["purity"][mine].mean()), 4)))
    return dict(neurons=int(power.shape[-2]), active=int(nodes["active"].sum()),
                mean_purity=round(float(nodes["purity"][nodes["active"]].mean()), 4) if bool(nodes["active"].any()) else None,
                covered=[labels[r] for r in np.flatnonzero(nodes["covered"].cpu().numpy())],
                covered_count=int(nodes["count"]), irreps=len(labels) - 1, per_irrep=per_irrep)


def acquisition_epoch(epochs, covered) -> int | None:
    """The first logged epoch from which a run's neuron coverage has reached the count it ends with (None when
    it ends covering nothing): when its features have arrived, to compare with its grok epoch."""
    epochs, covered = np.asarray(epochs), np.asarray(covered, dtype=float)
    if not covered.size or covered[-1] <= 0:
        return None
    return int(epochs[np.flatnonzero(covered >= covered[-1])[0]])
