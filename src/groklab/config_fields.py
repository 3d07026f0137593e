"""How each config key enters a run's id, declared where the key is defined.

A run id (`RunConfig.config_hash`) is the store's key: it must change when a setting changes the numbers
a run produces, and only then, or a sweep retrains what it has (or reuses what it must not). So every
key of the schema is defined through one of three helpers, each a `pydantic.Field` that also records
the key's rule:

- `numbers(...)`: the key changes the numbers; it is always part of the id.
- `added(default, ...)`: the key changes the numbers but was added after runs were stored. At
  `omit_at` (its default when it was added: the behaviour before the key existed) it is left out of
  the id, so those runs keep their ids. Should the default ever change, `omit_at` keeps the old value.
- `bookkeeping(...)`: the key changes no number (where runs are stored, progress bars); it is left out,
  or, with `hashed_as`, hashed as that fixed value whatever it is set to (a key that once entered the id
  at that value and no longer should).

`only_with=(sibling, value)` leaves a key out unless a key of the same section has that value (the
plateau window matters only under the plateau stop rule). A section left with no key is left out too.
A key defined without a rule fails at import (`id_rules`), so no key can enter the id by accident.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

_UNSET = object()


@dataclass(frozen=True)
class IdRule:
    numbers: bool  # False: the key changes no number
    omit_at: Any = _UNSET  # left out of the id at this value (JSON form)
    hashed_as: Any = _UNSET  # bookkeeping keys: hashed as this fixed value
    only_with: tuple[str, Any] | None = None  # left out unless the sibling key has this value

    @property
    def has_omit_at(self) -> bool:
        return self.omit_at is not _UNSET


def _field(rule: IdRule, default: Any, kw: dict) -> Any:
    """A pydantic Field carrying `rule` in its JSON-schema extras (so the schema documents it too)."""
    if default is not _UNSET:
        kw["default"] = default
    spec = {k: v for k, v in rule.__dict__.items() if v is not _UNSET and not (k == "only_with" and v is None)}
    return Field(json_schema_extra={"run_id": spec}, **kw)


def _rule_of(field) -> IdRule | None:
    extra = field.json_schema_extra
    spec = extra.get("run_id") if isinstance(extra, dict) else None
    if spec is None:
        return None
    only_with = spec.get("only_with")
    return IdRule(spec["numbers"], spec.get("omit_at", _UNSET), spec.get("hashed_as", _UNSET),
                  tuple(only_with) if only_with is not None else None)


def numbers(default: Any = _UNSET, *, only_with: tuple[str, Any] | None = None, **kw) -> Any:
    """A key that changes the numbers a run produces: always in the run id."""
    return _field(IdRule(True, only_with=only_with), default, kw)


def added(default: Any, *, omit_at: Any = _UNSET, **kw) -> Any:
    """A key that changes the numbers, added after runs were stored: left out of the id at `omit_at`
    (default: `default`), the behaviour the stored runs had."""
    return _field(IdRule(True, omit_at=default if omit_at is _UNSET else omit_at), default, kw)


def bookkeeping(default: Any = _UNSET, *, hashed_as: Any = _UNSET, **kw) -> Any:
    """A key that changes no number: left out of the id (or hashed as the fixed value `hashed_as`)."""
    return _field(IdRule(False, hashed_as=hashed_as), default, kw)


def id_rules(model: type[BaseModel], prefix: str = "") -> dict[str, IdRule]:
    """Every leaf key of `model` ("section.key") and its rule; a key without one is a programming error."""
    out = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(id_rules(ann, f"{prefix}{name}."))
            continue
        rule = _rule_of(field)
        if rule is None:
            raise TypeError(f"config key {prefix}{name} declares no run-id rule: define it with "
                            "numbers(), added() or bookkeeping() (groklab.config_fields)")
        out[f"{prefix}{name}"] = rule
    return out


def id_data(config: BaseModel) -> dict:
    """The part of `config` its run id covers, as plain JSON data (see the module docstring)."""
    dumped = config.model_dump(mode="json")
    out = {}
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            section = id_data(value)
            if section:
                out[name] = section
            continue
        rule = _rule_of(field)
        if rule.only_with is not None and dumped[rule.only_with[0]] != rule.only_with[1]:
            continue
        if not rule.numbers:
            if rule.hashed_as is not _UNSET:
                out[name] = rule.hashed_as
            continue
        if rule.has_omit_at and dumped[name] == rule.omit_at:
            continue
        out[name] = dumped[name]
    return out


def id_hash(config: BaseModel) -> str:
    """16 hex digits of the SHA-256 of `id_data(config)` (keys sorted)."""
    return hashlib.sha256(json.dumps(id_data(config), sort_keys=True).encode()).hexdigest()[:16]
