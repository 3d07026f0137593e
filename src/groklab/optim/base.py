"""Shared machinery for batched optimizers over an ensemble of S members.

Every parameter carries a leading member axis S: member s of a parameter `p` is `p[s]`, and
members never interact. Hyperparameters that may differ between members (learning rate and weight
decay) are tensors of shape [S]; inside a step they are cast to the parameter's dtype and viewed as
[S, 1, ..., 1] so that they broadcast over the trailing dimensions. Everything else (betas,
momentum, eps, ...) is a Python scalar shared by all members, as members never differ in shapes.

The `active` mask. `step(active)` takes an optional bool tensor [S]; members with `active[s] ==
False` (frozen, finished or diverged) get no update and no state change at all: their parameter
slices, their state slices and their step counters are bit-for-bit what they were before the call.
The implementation is "step everything, then restore the inactive slices": the slices of the
inactive members are copied out before the step (`index_select`) and copied back afterwards
(`index_copy_`). Members are independent, so a NaN in an inactive member cannot leak into an
active one, and the cost is proportional to the number of inactive members. Finding the inactive
members costs one host-device synchronisation per step when a mask is given; pass `active=None`
when every member is active to avoid it.

State is created eagerly (zeros) at construction, so that masking, `state_dict` and resuming never
see a half-initialised optimizer. For SGD with dampening 0 and for Adam/Muon a zero-initialised
buffer gives exactly the values torch.optim produces with its lazily-initialised buffers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from groklab.errors import GroklabError

HyperValue = float | Tensor


def hyper_dtype(device: torch.device) -> torch.dtype:
    """Dtype in which per-member hyperparameters are kept (float64, except on MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def named_parameters(params: Mapping[str, Tensor] | Iterable[Tensor]) -> dict[str, Tensor]:
    """Normalise `params` (a name -> tensor mapping or an iterable of tensors) to a dict."""
    if isinstance(params, Mapping):
        named = dict(params)
    else:
        named = {str(i): p for i, p in enumerate(params)}
    if not named:
        raise GroklabError("an optimizer needs at least one parameter; got none")
    return named


def member_count(named: Mapping[str, Tensor]) -> tuple[int, torch.device]:
    """The common leading member axis S and device of stacked parameters (validated)."""
    sizes = {}
    devices = set()
    for name, p in named.items():
        if not isinstance(p, Tensor):
            raise GroklabError(f"parameter {name!r} is a {type(p).__name__}, expected a tensor")
        if p.ndim < 1:
            raise GroklabError(
                f"parameter {name!r} has shape {tuple(p.shape)}; stacked parameters need a "
                "leading member axis [S, ...]"
            )
        if not (p.is_floating_point() or p.is_complex()):
            raise GroklabError(f"parameter {name!r} has dtype {p.dtype}; expected a floating or complex dtype")
        sizes[name] = p.shape[0]
        devices.add(p.device)
    if len(set(sizes.values())) != 1:
        raise GroklabError(
            f"all parameters must share the leading member axis S; got sizes {sizes}"
        )
    if len(devices) != 1:
        raise GroklabError(f"all parameters must be on one device; got {sorted(map(str, devices))}")
    return next(iter(sizes.values())), next(iter(devices))


def member_hyper(value: HyperValue, num_members: int, name: str, device: torch.device) -> Tensor:
    """A per-member hyperparameter as a [S] tensor on `device` (float64; float32 on MPS).

    Accepts a Python number, a 0-d tensor or a tensor of shape [S]. Values must be finite and
    non-negative; a bad value raises GroklabError naming it.
    """
    if isinstance(value, Tensor):
        t = value.detach().to(device=device, dtype=hyper_dtype(device))
        if t.ndim == 0:
            t = t.expand(num_members)
        if t.shape != (num_members,):
            raise GroklabError(
                f"{name} must be a number or a tensor of shape [{num_members}] (one value per "
                f"member); got shape {tuple(value.shape)}"
            )
        t = t.clone()
    else:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise GroklabError(f"{name} must be a number or a tensor; got {value!r}") from None
        t = torch.full((num_members,), v, device=device, dtype=hyper_dtype(device))
    bad = ~torch.isfinite(t) | (t < 0)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise GroklabError(
            f"{name} must be finite and >= 0; got {t[i].item()!r} for member {i}"
        )
    return t


def _real_view(t: Tensor) -> Tensor:
    """A complex tensor as a real one with a trailing (re, im) axis (same memory); others unchanged."""
    return torch.view_as_real(t) if t.is_complex() else t


def member_view(v: Tensor, like: Tensor) -> Tensor:
    """View a [S] tensor as [S, 1, ..., 1] so that it broadcasts against `like`."""
    return v.view((v.shape[0],) + (1,) * (like.ndim - 1))


def inactive_index(active: Tensor | None, num_members: int, device: torch.device) -> Tensor | None:
    """Indices of the inactive members, or None when every member is active.

    One host-device synchronisation when a mask is given.
    """
    if active is None:
        return None
    if not isinstance(active, Tensor) or active.dtype != torch.bool:
        raise GroklabError(f"active must be a bool tensor of shape [{num_members}]; got {active!r}")
    if active.shape != (num_members,):
        raise GroklabError(
            f"active must have shape [{num_members}] (one flag per member); got {tuple(active.shape)}"
        )
    idx = (~active.to(device)).nonzero().squeeze(1)
    return idx if idx.numel() else None


@contextmanager
def frozen_members(tensors: Sequence[Tensor], idx: Tensor | None):
    """Restore the slices `idx` (along dim 0) of `tensors` after the block; no-op for None."""
    if idx is None:
        yield
        return
    saved = [t.index_select(0, idx) for t in tensors]
    yield
    for t, s in zip(tensors, saved):
        t.index_copy_(0, idx, s)


class BatchedOptimizer:
    """Base class: stacked parameters, per-member lr / weight decay, masks, state dicts.

    Subclasses define `kind`, `_init_state(name, p) -> dict`, `_shared_state() -> dict` and
    `_update(items, idx)` where `items` lists (name, param, grad, state) for parameters that have a
    gradient. `hyper` holds the shared scalar hyperparameters (saved in the state dict).
    """

    kind = "base"
    # True when the update acts entry by entry (SGD, Adam, AdamW): complex parameters are then stepped as
    # real (re, im) pairs. Muon's orthogonalisation is not elementwise and is defined for real matrices.
    elementwise = False

    def __init__(
        self,
        params: Mapping[str, Tensor] | Iterable[Tensor],
        *,
        lr: HyperValue,
        weight_decay: HyperValue = 0.0,
        hyper: dict[str, Any] | None = None,
    ) -> None:
        self.params = named_parameters(params)
        self.num_members, self.device = member_count(self.params)
        self.hyper: dict[str, Any] = dict(hyper or {})
        self._lr = member_hyper(lr, self.num_members, "lr", self.device)
        self.base_lr = self._lr.clone()
        self._wd = member_hyper(weight_decay, self.num_members, "weight_decay", self.device)
        self._wd_nonzero = bool((self._wd != 0).any())
        self.state: dict[str, dict[str, Tensor]] = {
            name: self._init_state(name, p) for name, p in self.params.items()
        }
        self.shared: dict[str, Tensor] = self._shared_state()
        self._workspace: dict[Any, Tensor] = {}

    # -- per-member hyperparameters -------------------------------------------------------------
    @property
    def lr(self) -> Tensor:
        """Current learning rate per member, [S] (a copy; assign to change it)."""
        return self._lr.clone()

    @lr.setter
    def lr(self, value: HyperValue) -> None:
        self._lr = member_hyper(value, self.num_members, "lr", self.device)

    @property
    def weight_decay(self) -> Tensor:
        """Weight decay per member, [S] (a copy; assign to change it)."""
        return self._wd.clone()

    @weight_decay.setter
    def weight_decay(self, value: HyperValue) -> None:
        self._wd = member_hyper(value, self.num_members, "weight_decay", self.device)
        self._wd_nonzero = bool((self._wd != 0).any())

    def set_lr_scale(self, scale: HyperValue) -> None:
        """Set lr = base_lr * scale (scale a number or [S] tensor), e.g. from a schedule."""
        self._lr = self.base_lr * member_hyper(scale, self.num_members, "lr scale", self.device)

    # -- subclass hooks -------------------------------------------------------------------------
    def _init_state(self, name: str, p: Tensor) -> dict[str, Tensor]:
        return {}

    def _shared_state(self) -> dict[str, Tensor]:
        return {}

    def _update(self, items: list[tuple[str, Tensor, Tensor, dict[str, Tensor]]]) -> None:
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------------
    def _scratch(self, key: Any, like: Tensor, dtype: torch.dtype | None = None,
                 shape: Sequence[int] | None = None) -> Tensor:
        """A reusable work buffer (not part of the state)."""
        shape = tuple(like.shape if shape is None else shape)
        dtype = like.dtype if dtype is None else dtype
        full_key = (key, shape, dtype, like.device)
        buf = self._workspace.get(full_key)
        if buf is None:
            buf = torch.empty(shape, dtype=dtype, device=like.device)
            self._workspace[full_key] = buf
        return buf

    @staticmethod
    def _cast_views(values: Mapping[str, Tensor], p: Tensor, cache: dict) -> dict[str, Tensor]:
        """Per-member constants cast to p's dtype and viewed as [S, 1, ...] (cached per step)."""
        key = (p.dtype, p.ndim)
        out = cache.get(key)
        if out is None:
            out = {k: member_view(v.to(p.dtype), p) for k, v in values.items()}
            cache[key] = out
        return out

    # -- the step ------------------------------------------------------------------------------
    def member_tensors(self) -> list[Tensor]:
        """Every tensor with a member axis that a step may change (params, state, shared)."""
        out = list(self.params.values())
        for st in self.state.values():
            out.extend(st.values())
        out.extend(self.shared.values())
        return out

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params.values():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, active: Tensor | None = None) -> None:
        """One step for every member (or only the members with `active[s]`)."""
        self.step_except(inactive_index(active, self.num_members, self.device))

    def step_except(self, idx: Tensor | None) -> None:
        """One step for every member but those at positions `idx` (an int64 index from `inactive_index`,
        or None: all); the combined optimizer computes `idx` once for its groups and transforms."""
        if idx is not None and idx.numel() == self.num_members:
            return  # nobody is active
        items = [
            (name, p, p.grad, self.state[name])
            for name, p in self.params.items()
            if p.grad is not None
        ]
        if not items:
            return
        for name, p, g, _ in items:
            if g.shape != p.shape:
                raise RuntimeError(f"gradient of {name!r} has shape {tuple(g.shape)}, "
                                   f"parameter has {tuple(p.shape)}")
        if self.elementwise:
            # A complex parameter is updated as its (real, imaginary) pairs, as torch.optim does: Adam's
            # second moment must be g_re^2 and g_im^2, not the complex square g^2. The views share memory.
            items = [(name, *(_real_view(t) for t in (p, g)), {k: _real_view(v) for k, v in st.items()})
                     for name, p, g, st in items]
        with frozen_members(self.member_tensors(), idx):
            self._update(items)

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A self-contained copy of the optimizer state (tensors cloned)."""
        return {
            "kind": self.kind,
            "names": list(self.params),
            "hyper": dict(self.hyper),
            "lr": self._lr.clone(),
            "base_lr": self.base_lr.clone(),
            "weight_decay": self._wd.clone(),
            "state": {n: {k: v.clone() for k, v in st.items()} for n, st in self.state.items()},
            "shared": {k: v.clone() for k, v in self.shared.items()},
        }

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore a state dict written by `state_dict` (same kind, names and shapes)."""
        if sd.get("kind") != self.kind:
            raise GroklabError(f"state dict is for optimizer kind {sd.get('kind')!r}, not {self.kind!r}")
        if list(sd["names"]) != list(self.params):
            raise GroklabError(
                f"state dict parameters {list(sd['names'])} do not match {list(self.params)}"
            )
        saved_hyper = dict(sd.get("hyper", {}))
        if set(saved_hyper) != set(self.hyper):
            raise GroklabError(
                f"state dict hyperparameters {sorted(saved_hyper)} do not match {sorted(self.hyper)}"
            )
        for name, st in self.state.items():
            saved = sd["state"][name]
            if set(saved) != set(st):
                raise GroklabError(f"state dict for {name!r} has {sorted(saved)}, expected {sorted(st)}")
            for k, t in st.items():
                if tuple(saved[k].shape) != tuple(t.shape):
                    raise GroklabError(
                        f"state {name}.{k} has shape {tuple(saved[k].shape)}, expected {tuple(t.shape)}"
                    )
                t.copy_(saved[k])
        for k, t in self.shared.items():
            t.copy_(sd["shared"][k])
        self.hyper = saved_hyper
        self.lr = sd["lr"]
        self.base_lr = member_hyper(sd["base_lr"], self.num_members, "base_lr", self.device)
        self.weight_decay = sd["weight_decay"]

