"""Build one combined optimizer for an ensemble from named stacked parameters and a spec.

    opt = build_optimizer(model_params, kind="muon", lr=lr_S, weight_decay=wd_S, routing="li2")
    loss.backward(); opt.step(active); opt.zero_grad()

Kinds: the entries of `groklab.optim.kinds.KINDS`. A kind that does not route (sgd, adam, adamw, ...)
puts every parameter in one group ("main"). For muon a routing preset splits the parameters into a
"muon" group and an "aux" group:

- routing="li2" (the Li2 reference, modular_addition_simple2.py with optim=muon): `W` — and any
  extra hidden K×K layers `U.*` — on Muon; everything else (V) on Adam with coupled L2 weight
  decay, the same lr and wd, torch's default betas (0.9, 0.999) and eps 1e-8. Muon variant "li2".
  Note: the reference builds its optimizers from `model.W` and `model.V` only, so its extra
  residual layers (`other_layers > 0`) are not trained at all there; here they go to Muon.
- routing="hidden" (transformer, Muon-grokking reproduction): stacked 2-D-per-member matrices
  [S, A, B] on Muon, except names containing "embed" or "head"; those and all 1-D-per-member
  parameters (gains, biases) on AdamW with betas (0.9, 0.98), eps 1e-8. `muon_head=True` moves
  the head to Muon (the April-2025 auto-classification ablation). Muon variant "torch".

Options (keyword arguments, validated; an unknown name raises GroklabError): each kind's `options` in
`groklab.optim.kinds`, with the defaults of its class; Muon's:
    muon:       muon_variant ("li2" for routing li2, "torch" for hidden), muon_lr, aux_lr,
                muon_weight_decay, aux_weight_decay (default: lr / weight_decay),
                momentum, nesterov, ns_coefficients, ns_steps, ns_eps, ns_dtype, adjust_lr_fn
                (Muon; defaults from the variant, see groklab.optim.muon), aux_betas, aux_eps,
                muon_head (False). adjust_lr_fn=None/"original" is ignored for the li2 variant
                (it never rescales); "match_rms_adamw" with li2 is an error.
    all kinds:  grokfast (False), grokfast_alpha (0.98), grokfast_lamb (2.0),
                orthograd (False), orthograd_rescale (True)
Gradient transforms run in the order Grokfast, then ⊥Grad (closest to the step, as the ⊥Grad
wrapper does), on every parameter.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from groklab.errors import GroklabError, closest
from groklab.optim.adam import Adam, AdamW
from groklab.optim.base import BatchedOptimizer, HyperValue, member_count, member_hyper
from groklab.optim.combined import CombinedOptimizer
from groklab.optim.kinds import KINDS, ROUTINGS
from groklab.optim.muon import Muon
from groklab.optim.transforms import GrokfastEMA, OrthoGrad

_TRANSFORM_OPTIONS = ("grokfast", "grokfast_alpha", "grokfast_lamb", "orthograd", "orthograd_rescale")
_MUON_KWARGS = {"momentum": "momentum", "nesterov": "nesterov", "ns_coefficients": "ns_coefficients",
                "ns_steps": "ns_steps", "ns_eps": "eps", "ns_dtype": "ns_dtype",
                "adjust_lr_fn": "adjust_lr_fn"}


def _choice_error(what: str, value: Any, allowed) -> GroklabError:
    hint = closest(str(value), allowed)
    return GroklabError(
        f"{what} must be one of {', '.join(allowed)}; got {value!r}"
        + (f" (did you mean {hint!r}?)" if hint else "")
    )


def optimizer_class(kind: str) -> type[BatchedOptimizer]:
    """The batched optimizer class of a registered kind (imported from the module its entry names)."""
    entry = KINDS[kind]
    return getattr(importlib.import_module(f"groklab.optim.{entry.module}"), entry.cls)


def is_li2_muon_param(name: str) -> bool:
    """Li2 routing: the first layer W and extra hidden layers U.* go to Muon."""
    return name in ("W", "U") or name.startswith(("W.", "U."))


def is_hidden_muon_param(name: str, p: Tensor, muon_head: bool = False) -> bool:
    """Hidden routing: stacked 2-D matrices, except embeddings and (unless muon_head) the head."""
    low = name.lower()
    if "embed" in low:
        return False
    if "head" in low:
        return muon_head and p.ndim == 3
    return p.ndim == 3


def route(named_params: Mapping[str, Tensor], routing: str, *, muon_head: bool = False
          ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Split parameters into (muon, aux) by a routing preset."""
    if routing not in ROUTINGS:
        raise _choice_error("optim routing", routing, tuple(ROUTINGS))
    muon, aux = {}, {}
    for name, p in named_params.items():
        if routing == "li2":
            on_muon = is_li2_muon_param(name)
        else:
            on_muon = is_hidden_muon_param(name, p, muon_head)
        (muon if on_muon else aux)[name] = p
    if not muon:
        raise GroklabError(
            f"routing {routing!r} put no parameter on Muon; parameter names: {sorted(named_params)}"
        )
    return muon, aux


def build_optimizer(
    named_params: Mapping[str, Tensor],
    *,
    kind: str,
    lr: HyperValue,
    weight_decay: HyperValue,
    routing: str | None = None,
    **hyper: Any,
) -> CombinedOptimizer:
    """One combined optimizer over stacked parameters, with per-member lr and wd ([S] tensors).

    Args:
        named_params: name -> tensor with leading member axis S (e.g. dict(model.named_parameters())).
        kind: a key of groklab.optim.kinds.KINDS (sgd, adam, adamw, muon, ...).
        lr, weight_decay: numbers or [S] tensors, >= 0.
        routing: muon only (required there): "li2" or "hidden" (see the module docstring).
        **hyper: the options listed in the module docstring.
    """
    if kind not in KINDS:
        raise _choice_error("optim.kind", kind, tuple(KINDS))
    allowed = KINDS[kind].options + _TRANSFORM_OPTIONS
    for key in hyper:
        if key not in allowed:
            raise _choice_error(f"option for optim kind {kind!r}", key, allowed)
    if not isinstance(named_params, Mapping):
        raise GroklabError("build_optimizer needs named parameters: a dict name -> tensor")
    named = {n: p for n, p in named_params.items()}
    if not named:
        raise GroklabError("build_optimizer got no parameters")
    S, device = member_count(named)
    lr = member_hyper(lr, S, "optim.lr", device)
    weight_decay = member_hyper(weight_decay, S, "optim.weight_decay", device)

    groups: dict[str, BatchedOptimizer] = {}
    if not KINDS[kind].routed:
        if routing is not None:
            raise GroklabError(f"optim routing applies to kind 'muon' only; got routing={routing!r} "
                               f"with kind {kind!r}")
        cls = optimizer_class(kind)
        kw = {k: hyper[k] for k in KINDS[kind].options if k in hyper}
        groups["main"] = cls(named, lr=lr, weight_decay=weight_decay, **kw)
    else:
        if routing is None:
            raise _choice_error("optim routing (required for kind 'muon')", None, tuple(ROUTINGS))
        muon_params, aux_params = route(named, routing, muon_head=bool(hyper.get("muon_head", False)))
        variant = hyper.get("muon_variant", "li2" if routing == "li2" else "torch")
        muon_lr = member_hyper(hyper.get("muon_lr", lr), S, "optim.muon_lr", device)
        aux_lr = member_hyper(hyper.get("aux_lr", lr), S, "optim.aux_lr", device)
        muon_wd = member_hyper(hyper.get("muon_weight_decay", weight_decay), S,
                               "optim.muon_weight_decay", device)
        aux_wd = member_hyper(hyper.get("aux_weight_decay", weight_decay), S,
                              "optim.aux_weight_decay", device)
        muon_kw = {dst: hyper[src] for src, dst in _MUON_KWARGS.items() if src in hyper}
        if variant == "li2" and muon_kw.get("adjust_lr_fn") in (None, "original"):
            # adjust_lr_fn is a torch-variant option whose default ("original" = None) a config
            # may pass for every variant; the li2 variant never rescales, so drop it. An explicit
            # "match_rms_adamw" still reaches Muon and is rejected there.
            muon_kw.pop("adjust_lr_fn", None)
        groups["muon"] = Muon(muon_params, lr=muon_lr, weight_decay=muon_wd, variant=variant, **muon_kw)
        if aux_params:
            aux_cls = Adam if routing == "li2" else AdamW
            aux_betas = hyper.get("aux_betas", (0.9, 0.999) if routing == "li2" else (0.9, 0.98))
            groups["aux"] = aux_cls(aux_params, lr=aux_lr, weight_decay=aux_wd,
                                    betas=aux_betas, eps=hyper.get("aux_eps", 1e-8))

    transforms = []
    if hyper.get("grokfast", False):
        transforms.append(GrokfastEMA(named, alpha=hyper.get("grokfast_alpha", 0.98),
                                      lamb=hyper.get("grokfast_lamb", 2.0)))
    if hyper.get("orthograd", False):
        transforms.append(OrthoGrad(named, rescale=hyper.get("orthograd_rescale", True)))
    return CombinedOptimizer(groups, transforms)
