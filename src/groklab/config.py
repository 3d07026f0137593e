"""Run configuration: YAML + dotted `key=value` overrides, validated once into typed models.

The models themselves live in `groklab.config_schema` and are re-exported here, so `groklab.config` is the
one import for users. Every check on user input lives in the schema (or in the constructors it calls) or
here, and every failure is a `GroklabError` naming the key, the value and what is allowed. Unknown keys get
a "did you mean" hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from groklab import config_yaml
from groklab.config_schema import (
    DEFAULT_STORE, SEED_LIMIT, STORE_HELP, FeaturesConfig, Li2Config, LossConfig, ModelConfig, OptimConfig,
    RunConfig, StoreConfig, TaskConfig, TrainConfig, VIEWER_KEYS, default_store_path, one_of)
from groklab.errors import GroklabError, closest

__all__ = [  # the schema's names are re-exported: groklab.config is the one public import
    "DEFAULT_STORE", "SEED_LIMIT", "STORE_HELP", "FeaturesConfig", "Li2Config", "LossConfig", "ModelConfig",
    "OptimConfig", "RunConfig", "StoreConfig", "TaskConfig", "TrainConfig", "VIEWER_KEYS", "default_store_path", "one_of",
    "CONFIG_KEYS", "apply_override", "config_from_dict", "load_yaml", "preset_path", "load_config"]

# -- parsing ---------------------------------------------------------------------------------------

def _all_keys(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _all_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


CONFIG_KEYS = _all_keys()


def _parse_scalar(text: str) -> Any:
    """An override's value as YAML (bounded like a file); text YAML would read as a date, set or binary stays text."""
    try:
        return config_yaml.parse(text, "override value")
    except yaml.YAMLError:
        return text
    except GroklabError as err:
        if "is a YAML" in str(err):
            return text
        raise


def apply_override(data: dict, assignment: str) -> None:
    """Apply one `dotted.key=value` override to a nested dict (values parsed as YAML scalars/lists)."""
    if "=" not in assignment:
        raise GroklabError(f"bad override {assignment!r}: write key=value, e.g. optim.lr=1e-3")
    key, _, raw = assignment.partition("=")
    key = key.strip()
    if key not in CONFIG_KEYS:
        hint = closest(key, CONFIG_KEYS)
        raise GroklabError(f"unknown config key {key!r}" + (f"; did you mean {hint!r}?" if hint else "; see `groklab train --help`"))
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise GroklabError(f"config key {key!r}: {part!r} is not a section")
    node[parts[-1]] = _parse_scalar(raw)


def _check_unknown(data: dict, prefix: str = "", model: type[BaseModel] = RunConfig) -> None:
    for key, value in data.items():
        full = f"{prefix}{key}"
        field = model.model_fields.get(key)
        if field is None:
            hint = closest(full, CONFIG_KEYS)
            raise GroklabError(f"unknown config key {full!r}" + (f"; did you mean {hint!r}?" if hint else ""))
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            if not isinstance(value, dict):
                raise GroklabError(f"config key {full!r} must be a section (a mapping), got {value!r}")
            _check_unknown(value, f"{full}.", ann)


_TYPE_TAGS = {"float", "int", "str", "bool"}  # union branches pydantic puts into an error's location


def _format_validation_error(err: ValidationError) -> str:
    # Of a union's branch errors (optim.lr: float | list[float]) the deepest is the one that explains
    # the input: a list with a NaN at index 1 fails as list[float] at [1], not as "not a float".
    first = max(err.errors(), key=lambda e: len(e["loc"]))
    key = ""
    for part in first["loc"]:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part not in _TYPE_TAGS and "[" not in part:
            key += ("." if key else "") + part
    key = key or "config"
    msg = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    if "got" in msg:
        shown = ""
    return f"invalid {key}: {msg}{shown}"


def config_from_dict(data: dict, overrides: list[str] = ()) -> RunConfig:
    data = json.loads(json.dumps(data))  # deep copy, plain types
    for assignment in overrides:
        apply_override(data, assignment)
    _check_unknown(data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise GroklabError(_format_validation_error(err)) from None


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise GroklabError(f"config file {str(path)!r} not found")
    text = config_yaml.read_text(path)
    try:
        data = config_yaml.parse(text, f"config file {str(path)!r}")
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        if isinstance(err, yaml.reader.ReaderError):  # control characters: a binary file, most likely
            raise GroklabError(f"config file {str(path)!r} holds characters YAML does not allow ({err.reason} at byte "
                               f"{err.position}); give a YAML text file") from None
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        raise GroklabError(f"malformed YAML in {str(path)!r}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GroklabError(f"config file {str(path)!r} must hold a mapping of sections (task:, model:, ...)")
    return data


def preset_path(name: str | Path) -> Path:
    """A YAML path as given, or the packaged preset of that name (`li2_fig3`, `sweep_li2_wd`, ...)."""
    from importlib import resources

    if Path(name).is_file():
        return Path(name)
    folder = resources.files("groklab") / "configs"
    preset = folder / f"{Path(name).stem}.yaml"
    if preset.is_file():
        return Path(str(preset))
    presets = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    raise GroklabError(f"config {str(name)!r} not found: give a YAML path or a preset ({', '.join(presets)})")


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML config — a path or a preset name such as "li2_fig3" — (or the defaults when `path` is
    None) and apply `key=value` overrides."""
    data = load_yaml(preset_path(path)) if path is not None else {}
    return config_from_dict(data, overrides)
