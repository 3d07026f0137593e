"""The group Fourier transform and per-irrep power, for numpy arrays or torch tensors.

Conventions (ρ_k the unitary irreps of `irreps(group)`, d_k their degrees, n = |G|):

    forward   f̂_k = Σ_g f(g) ρ_k(g)                                  [..., n] -> [..., d_k, d_k]
    inverse   f(g) = (1/n) Σ_k d_k tr(ρ_k(g)ᴴ f̂_k)                   (inverse ∘ forward = id)
    power     p_k  = d_k ‖f̂_k‖²_F / n,  so Σ_k p_k = Σ_g |f(g)|²     (Plancherel)

For `Z_M` this is f̂_k = Σ_x f(x) e^{+2πi kx/M}. A function whose transform lives only at k spans
the ρ_k-isotypic subspace of C^G under the left regular action (L_g f)(x) = f(g⁻¹x); that subspace
is what `isotypic_projector` projects onto, so p_k = ‖P_k f‖².

For real f, the complex irrep k and its conjugate carry equal power; `real_irrep_groups` pairs
them for per-"real irrep" reports (the Li2 maxima of Thm 2 live on H_k ⊕ H_k̄).

Every function takes a numpy array or a torch tensor and returns the same kind (torch results stay
on the input's device and keep autograd). Precision follows the input: float32/complex64 (and
torch's half types and integers) compute in complex64, everything else in complex128.
"""

from __future__ import annotations

import sys
import weakref
from typing import NamedTuple

import numpy as np

from groklab.errors import GroklabError
from groklab.groups.group import FiniteGroup
from groklab.groups.irreps import Irreps, irreps

# torch copies of the irrep bases, per (device, dtype), so repeated calls skip the host→device copy
_TORCH_BASES: "weakref.WeakKeyDictionary[Irreps, dict]" = weakref.WeakKeyDictionary()


class RealIrrep(NamedTuple):
    """An irrep together with its conjugate (one member when the character is real)."""

    label: str
    members: tuple[int, ...]
    degree: int


# -- backend helpers ------------------------------------------------------------------------
def _is_torch(x) -> bool:
    torch = sys.modules.get("torch")  # never import torch just to find out
    return torch is not None and isinstance(x, torch.Tensor)


def _complex_dtype(x):
    if _is_torch(x):
        import torch

        double = x.dtype in (torch.float64, torch.complex128)
        return torch.complex128 if double else torch.complex64
    single = np.asarray(x).dtype in (np.float32, np.float16, np.complex64)
    return np.complex64 if single else np.complex128


def _bases(ir: Irreps, like, dtype) -> list[tuple[np.ndarray, int, object]]:
    """by_degree with each basis as [n, m·d·d] in the backend and dtype of `like`."""
    n = len(ir.characters[0])
    if not _is_torch(like):
        return [(idx, d, basis.reshape(n, -1).astype(dtype, copy=False)) for idx, d, basis in ir.by_degree]
    per_irreps = _TORCH_BASES.setdefault(ir, {})
    key = (like.device, dtype)
    if key not in per_irreps:
        import torch

        per_irreps[key] = [
            (idx, d, torch.from_numpy(basis.reshape(n, -1).copy()).to(device=like.device, dtype=dtype))
            for idx, d, basis in ir.by_degree
        ]
    return per_irreps[key]


def _check_last_axis(group: FiniteGroup, f) -> None:
    if f.ndim == 0 or f.shape[-1] != group.order:
        raise GroklabError(
            f"a function on {group.name} needs a last axis of length {group.order}, got shape {tuple(f.shape)}"
        )


def _resolve(ir: Irreps, k) -> int:
    if isinstance(k, str):
        if k not in ir.labels:
            raise GroklabError(f"no irrep labelled {k!r} for {ir.group_name}; labels: {', '.join(ir.labels)}")
        return ir.labels.index(k)
    k = int(k)
    if not 0 <= k < ir.num_irreps:
        raise GroklabError(f"irrep index {k} out of range for {ir.group_name} (0..{ir.num_irreps - 1})")
    return k


# -- transforms ------------------------------------------------------------------------------
def fourier_transform(group: FiniteGroup, f) -> list:
    """f̂_k = Σ_g f(g) ρ_k(g) for f [..., n]: a list over irreps of [..., d_k, d_k] (complex)."""
    f = f if _is_torch(f) else np.asarray(f)
    _check_last_axis(group, f)
    ir = irreps(group)
    dtype = _complex_dtype(f)
    fc = f.to(dtype) if _is_torch(f) else np.asarray(f).astype(dtype, copy=False)
    batch = tuple(f.shape[:-1])
    out: list = [None] * ir.num_irreps
    for idx, d, basis in _bases(ir, f, dtype):
        coeffs = (fc @ basis).reshape(batch + (len(idx), d, d))  # one matmul per degree
        for j, k in enumerate(idx):
            out[k] = coeffs[..., j, :, :]
    return out


def inverse_fourier_transform(group: FiniteGroup, coeffs, real: bool = False):
    """f(g) = (1/n) Σ_k d_k tr(ρ_k(g)ᴴ f̂_k) from a list of [..., d_k, d_k]; complex unless `real`.

    `real=True` returns the real part, for coefficients of a real function (their imaginary part
    is then round-off).
    """
    ir = irreps(group)
    if len(coeffs) != ir.num_irreps:
        raise GroklabError(f"{group.name} has {ir.num_irreps} irreps, got {len(coeffs)} Fourier coefficients")
    first = coeffs[0] if _is_torch(coeffs[0]) else np.asarray(coeffs[0])
    torch_mode = _is_torch(first)
    dtype = _complex_dtype(first)
    batch = tuple(first.shape[:-2])
    total = None
    for idx, d, basis in _bases(ir, first, dtype):
        if torch_mode:
            import torch

            block = torch.stack([coeffs[k].to(dtype) for k in idx], dim=-3)
        else:
            block = np.stack([np.asarray(coeffs[k]).astype(dtype, copy=False) for k in idx], axis=-3)
        if tuple(block.shape) != batch + (len(idx), d, d):
            raise GroklabError(f"Fourier coefficients of degree-{d} irreps must have shape {batch + (d, d)}")
        # Σ_ij conj(ρ(g)_ij) F_ij for every g, as one matmul with the conjugated basis
        part = block.reshape(batch + (-1,)) @ basis.conj().T * (d / group.order)
        total = part if total is None else total + part
    return total.real if real else total


def irrep_power(group: FiniteGroup, f):
    """p_k = d_k ‖f̂_k‖²_F / n for f [..., n] -> [..., num_irreps] (real); Σ_k p_k = Σ_g |f(g)|²."""
    ir = irreps(group)
    f = f if _is_torch(f) else np.asarray(f)
    coeffs = fourier_transform(group, f)
    if _is_torch(f):
        import torch

        norms = torch.stack([(c.abs() ** 2).sum(dim=(-2, -1)) for c in coeffs], dim=-1)
        degrees = torch.tensor(ir.degrees.tolist(), device=f.device, dtype=norms.dtype)
    else:
        norms = np.stack([(np.abs(c) ** 2).sum(axis=(-2, -1)) for c in coeffs], axis=-1)
        degrees = ir.degrees.astype(norms.dtype)
    return norms * degrees / group.order


# -- real irreps and projectors --------------------------------------------------------------
def real_irrep_groups(group: FiniteGroup) -> list[RealIrrep]:
    """Each irrep grouped with its conjugate, in irrep order of the first member.

    Labels: the irrep's own label for a self-conjugate irrep; for a pair, the first member's label
    for DFT irreps ("k=3" stands for {3, M-3}) and "1b+1c" otherwise.
    """
    ir = irreps(group)
    out, done = [], set()
    for k in range(ir.num_irreps):
        if k in done:
            continue
        c = int(ir.conjugate[k])
        members = (k,) if c == k else (k, c)
        done.update(members)
        if len(members) == 1 or ir.exact:
            label = ir.labels[k]
        else:
            label = f"{ir.labels[k]}+{ir.labels[c]}"
        out.append(RealIrrep(label, members, int(ir.degrees[k])))
    return out


def real_irrep_power(group: FiniteGroup, f):
    """irrep_power summed over each `real_irrep_groups` entry: [..., num_real_irreps]."""
    power = irrep_power(group, f)
    groups = real_irrep_groups(group)
    if _is_torch(power):
        import torch

        return torch.stack([power[..., list(g.members)].sum(dim=-1) for g in groups], dim=-1)
    return np.stack([power[..., list(g.members)].sum(axis=-1) for g in groups], axis=-1)


def isotypic_projector(group: FiniteGroup, k, pair_conjugate: bool = False) -> np.ndarray:
    """Orthogonal projector [n, n] onto the ρ_k-isotypic subspace of C^G (left regular action).

    P_k = (d_k/n) Σ_g conj(χ_k(g)) L_g, i.e. P_k[x, h] = (d_k/n) conj(χ_k(x h⁻¹)); it is Hermitian,
    idempotent, of rank d_k², and irrep_power(f)[k] = ‖P_k f‖². `k` is an index or a label.

    Returns complex128. With `pair_conjugate=True` it returns P_k + P_k̄ (just P_k when k is
    self-conjugate), which equals (d_k/n)·(2 Re χ_k or χ_k)(x h⁻¹): a real symmetric float64
    projector onto the real subspace that real-valued features (Li2 Thm 2) live in.
    """
    ir = irreps(group)
    k = _resolve(ir, k)
    quotient = group.table[:, group.inverses]  # quotient[x, h] = x h⁻¹
    chi = ir.characters[k]
    scale = ir.degrees[k] / group.order
    if not pair_conjugate:
        return scale * np.conj(chi)[quotient]
    weight = 1.0 if ir.conjugate[k] == k else 2.0
    return (weight * scale) * chi.real[quotient]
