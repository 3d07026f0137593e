"""Sweep specifications: a base config, a grid of axes, zipped lists and seeds, validated once.

A spec is YAML:

    name: wd-grid                      # names the runs (default: the file's stem)
    base: {from: li2_fig3, model.width: 512, task: {group: Z23}}   # or just `base: li2_fig3`
    axes:                              # every combination of these
      optim.weight_decay: [0, 1.0e-4, 2.0e-4]
    zip:                               # these advance together (one more grid axis); a list of
      task.group: [Z23, Z29]           # such mappings gives several zipped axes
      model.width: [512, 640]
    seeds: [0, 1, 2]                   # or an int n for 0..n-1; default: base train.seeds
    retries: 1                         # execution settings: not part of the sweep id
    memory_budget: 64MiB
    max_members: 32

Everything the user can get wrong is checked here, before anything touches the store, and reported
as one `GroklabError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groklab.config import CONFIG_KEYS, VIEWER_KEYS, RunConfig, config_from_dict, load_yaml
from groklab.errors import GroklabError, closest

# A sweep larger than this is refused before it is expanded: expanding and validating runs costs about a
# millisecond each, so a 10^6-run grid would spend many minutes (and gigabytes) before printing anything.
MAX_SWEEP_RUNS = 10_000
SPEC_KEYS = ("name", "base", "axes", "zip", "seeds", "retries", "memory_budget", "max_members")
MEMBER_KEYS = ("optim.lr", "optim.weight_decay")  # the only per-member settings besides the seed
NOT_AXES = {"train.seeds": "use the spec's `seeds` list", "store.path": "one sweep writes one store",
            "name": "the spec's `name` names every run"}
SECTIONS = {key.split(".")[0] for key in CONFIG_KEYS if "." in key}


@dataclass
class SweepSpec:
    """A validated sweep: the base config (dotted keys -> values), the grid axes and the seeds."""

    name: str
    base: dict[str, Any]  # dotted key -> value, applied on top of `base_from`
    base_from: str | None  # a preset name or YAML path, resolved when the spec was read
    axes: dict[str, list]
    zips: list[dict[str, list]]
    seeds: list[int]
    retries: int | None = None
    memory_budget: int | None = None  # bytes per ensemble
    max_members: int | None = None
    base_config: dict = field(default_factory=dict)  # the resolved base config, as a plain dict

    def points(self) -> list[dict[str, Any]]:
        """Every grid point (dotted key -> value), axes in the order written, zipped groups after."""
        dims: list[list[dict]] = [[{key: v} for v in values] for key, values in self.axes.items()]
        for group in self.zips:
            keys = list(group)
            dims.append([dict(zip(keys, row)) for row in zip(*group.values())])
        return [dict(kv for part in combo for kv in part.items()) for combo in itertools.product(*dims)]

    def run_configs(self, store_path: str | None = None) -> list[tuple[dict, RunConfig]]:
        """(grid point incl. seed, single-member config) for every run, validated."""
        out = []
        for point in self.points():
            for seed in self.seeds:
                data = json.loads(json.dumps(self.base_config))
                for key, value in point.items():
                    _set_dotted(data, key, value)
                _set_dotted(data, "train.seeds", [seed])
                data["name"] = self.name
                if store_path is not None:
                    _set_dotted(data, "store.path", str(store_path))
                try:
                    cfg = config_from_dict(data)
                except GroklabError as err:
                    where = ", ".join(f"{k}={v!r}" for k, v in point.items()) or "base"
                    raise GroklabError(f"sweep {self.name!r} run ({where}, seed={seed}): {err}") from None
                out.append((dict(point, seed=seed), cfg))
        return out

    def to_dict(self) -> dict:
        """The spec as recorded in the store's `sweeps` table (enough to re-create it)."""
        return dict(name=self.name, base_from=self.base_from, base=self.base, axes=self.axes, zip=self.zips,
                    seeds=self.seeds, base_config=self.base_config)

    def sweep_id(self) -> str:
        """Hash of what decides the runs: name, resolved base config, axes, zips and seeds."""
        base = RunConfig.model_validate(self.base_config).model_dump(
            mode="json", exclude={"store": True, "name": True, "train": {*VIEWER_KEYS, "seeds"}})
        content = dict(name=self.name, base=base, axes=self.axes, zip=self.zips, seeds=self.seeds)
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- reading -------------------------------------------------------------------------------------

def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec YAML (a preset name in `base` is looked up like `groklab train`'s)."""
    path = Path(path)
    data = load_yaml(path)
    return spec_from_dict(data, name=path.stem, base_dir=path.parent)


def spec_from_dict(data: dict, *, name: str = "sweep", base_dir: str | Path = ".") -> SweepSpec:
    if not isinstance(data, dict):
        raise GroklabError("a sweep spec must be a mapping with base, axes, zip and seeds")
    for key in data:
        if key not in SPEC_KEYS:
            hint = closest(str(key), SPEC_KEYS)
            raise GroklabError(f"unknown sweep spec key {key!r}" + (f"; did you mean {hint!r}?" if hint else "")
                               + f" (allowed: {', '.join(SPEC_KEYS)})")
    base_from, base = _read_base(data.get("base") or {}, Path(base_dir))
    base_config = _base_config(base_from, base)
    axes = _read_axes(data.get("axes") or {}, "axes")
    zips = _read_zips(data.get("zip") or [])
    _no_repeats(axes, zips)
    seeds = _read_seeds(data.get("seeds"), base_config)
    _check_size(axes, zips, seeds)
    spec = SweepSpec(
        name=str(data.get("name") or base_config.get("name") or name), base=base, base_from=base_from, axes=axes,
        zips=zips, seeds=seeds, retries=_read_int(data, "retries", 0), memory_budget=_read_budget(data.get("memory_budget")),
        max_members=_read_int(data, "max_members", 1), base_config=base_config)
    spec.run_configs()  # validate every run now, so that a bad value stops the sweep before it starts
    return spec


def _read_base(base, base_dir: Path) -> tuple[str | None, dict]:
    if isinstance(base, str):
        base = {"from": base}
    if not isinstance(base, dict):
        raise GroklabError(f"sweep base must be a preset name, a YAML path or a mapping of config values, got {base!r}")
    base = dict(base)
    source = base.pop("from", None)
    if source is not None:
        source = _resolve_base(str(source), base_dir)
    flat = {}
    for key, value in _flatten(base).items():
        _check_key(key, "base")
        flat[key] = value
    return source, flat


def _resolve_base(name: str, base_dir: Path) -> str:
    """A path relative to the spec file, a path relative to the working directory, or a preset name."""
    from importlib import resources

    for candidate in (base_dir / name, Path(name)):
        if candidate.is_file():
            return str(candidate.resolve())
    preset = resources.files("groklab") / "configs" / f"{Path(name).stem}.yaml"
    if preset.is_file():
        return str(preset)
    presets = sorted(p.name.removesuffix(".yaml") for p in (resources.files("groklab") / "configs").iterdir()
                     if p.name.endswith(".yaml") and not p.name.startswith("sweep_"))
    raise GroklabError(f"sweep base {name!r} not found: give a YAML path or a preset ({', '.join(presets)})")


def _base_config(source: str | None, base: dict) -> dict:
    data = load_yaml(source) if source else {}
    for key, value in base.items():
        _set_dotted(data, key, value)
    try:
        return config_from_dict(data).model_dump(mode="json")
    except GroklabError as err:
        raise GroklabError(f"sweep base: {err}") from None


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested sections and dotted keys alike become dotted keys (`task: {group: Z23}` -> `task.group`)."""
    out = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and (full in SECTIONS or any(k.startswith(full + ".") for k in CONFIG_KEYS)):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = value
    return out


def _check_key(key: str, where: str) -> None:
    if key not in CONFIG_KEYS:
        hint = closest(key, CONFIG_KEYS)
        raise GroklabError(f"unknown config key {key!r} in {where}" + (f"; did you mean {hint!r}?" if hint else ""))


def _read_axes(axes, where: str) -> dict[str, list]:
    if not isinstance(axes, dict):
        raise GroklabError(f"sweep {where} must map config keys to lists of values, got {axes!r}")
    out = {}
    for key, values in axes.items():
        key = str(key)
        _check_key(key, where)
        if key in NOT_AXES:
            raise GroklabError(f"{key!r} cannot vary in {where}: {NOT_AXES[key]}")
        if not isinstance(values, list):
            raise GroklabError(f"{where} {key!r} must be a list of values, got {values!r}")
        if not values:
            raise GroklabError(f"{where} {key!r} has no values; give at least one")
        if key in MEMBER_KEYS and any(isinstance(v, (list, dict)) for v in values):
            raise GroklabError(f"{where} {key!r} values must be single numbers (one per run), got {values!r}")
        out[key] = values
    return out


def _read_zips(zips) -> list[dict[str, list]]:
    groups = [zips] if isinstance(zips, dict) else zips
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise GroklabError(f"sweep zip must be a mapping of config keys to equal-length lists (or a list of such), got {zips!r}")
    out = []
    for group in groups:
        group = _read_axes(group, "zip")
        lengths = {key: len(values) for key, values in group.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise GroklabError(f"zip lists must have the same length: {shown}")
        if group:
            out.append(group)
    return out


def _no_repeats(axes: dict, zips: list[dict]) -> None:
    seen: set[str] = set()
    for key in list(axes) + [k for g in zips for k in g]:
        if key in seen:
            raise GroklabError(f"config key {key!r} appears twice in axes/zip; give it once")
        seen.add(key)


def _read_seeds(seeds, base_config: dict) -> list[int]:
    if seeds is None:
        seeds = base_config["train"]["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_SWEEP_RUNS:
            raise GroklabError(f"sweep seeds must be a list of ints or a count in 1..{MAX_SWEEP_RUNS}, got {seeds}")
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise GroklabError(f"sweep seeds must be a non-empty list of ints (or a count), got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise GroklabError(f"sweep seeds repeat a value: {seeds}")
    return list(seeds)


def _check_size(axes: dict[str, list], zips: list[dict[str, list]], seeds: list[int]) -> None:
    points = math.prod(len(v) for v in axes.values()) * math.prod(len(next(iter(g.values()))) for g in zips)
    runs = points * len(seeds)
    if runs > MAX_SWEEP_RUNS:
        raise GroklabError(f"this sweep has {runs} runs ({points} grid points x {len(seeds)} seeds), more than the "
                           f"{MAX_SWEEP_RUNS} one sweep may have; split it into several specs (e.g. one per value of "
                           "an axis) or use fewer values or seeds")


def _read_int(data: dict, key: str, minimum: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise GroklabError(f"sweep {key} must be an int >= {minimum}, got {value!r}")
    return value


_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}


def parse_bytes(text) -> int:
    """'64MiB', '2GB', '512m' or a plain number of bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text > 0:
        return int(text)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS or float(match.group(1)) <= 0:
        raise GroklabError(f"bad memory size {text!r}: write e.g. 512MiB, 2GiB or 64MB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _read_budget(value) -> int | None:
    return None if value is None else parse_bytes(value)


def _set_dotted(data: dict, key: str, value) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
