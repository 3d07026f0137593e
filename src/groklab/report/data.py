"""What the report reads from the store: run sets, their labels and settings, phase-diagram cells.

Everything returns plain frames and `Member`s for `plots`; nothing here draws. Analyses of weight
snapshots (irrep spectra, energy census) are in `snapshots`.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd

from groklab.errors import GroklabError
from groklab.losses.kinds import LOSS_KINDS
from groklab.report.plots import Member, colours

# Config keys that never distinguish runs scientifically (where results go, progress bars).
IGNORED_KEYS = {"name", "store.path", "train.progress", "train.tensorboard", "train.wandb"}
SEED_KEYS = {"train.seeds"}
SHORT_NAMES = {"optim.weight_decay": "wd", "optim.lr": "lr", "train.seeds": "seed", "task.group": "group",
               "task.train_fraction": "p", "optim.kind": "optim", "model.width": "K", "task.modulus": "M",
               "loss.kind": "loss"}


# -- configs and labels ----------------------------------------------------------------------------

def flatten(config: dict, prefix: str = "") -> dict:
    """Nested config -> {"optim.lr": 0.001, ...}; lists become tuples (hashable, comparable)."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = tuple(value) if isinstance(value, list) else value
    return out


def varying_keys(configs: list[dict]) -> list[str]:
    """Dotted config keys whose values differ between the given run configs."""
    flat = [flatten(c) for c in configs]
    keys = sorted(set().union(*flat)) if flat else []
    return [k for k in keys if k not in IGNORED_KEYS and len({json.dumps(f.get(k), default=str) for f in flat}) > 1]


def format_value(value) -> str:
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def label_of(config: dict, keys: list[str]) -> str:
    flat = flatten(config)
    return ", ".join(f"{SHORT_NAMES.get(k, k.split('.')[-1])}={format_value(flat.get(k))}" for k in keys)


def default_label(config: dict) -> str:
    """A lone run's legend label: the settings a reader compares runs by, never its id."""
    flat = flatten(config)
    return ", ".join(f"{name}={format_value(flat.get(key))}" if name != "optim" else format_value(flat.get(key))
                     for key, name in (("optim.kind", "optim"), ("optim.lr", "lr"), ("optim.weight_decay", "wd"),
                                       ("train.seeds", "seed")) if flat.get(key) is not None)


def sort_value(value) -> tuple:
    """Numbers by value (0 < 0.0001 < 0.001) before text; tuples element by element; None first."""
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, (bool, int, float)):
        return (1, float(value), "")
    if isinstance(value, tuple):
        return (2, 0.0, tuple(sort_value(v) for v in value))
    return (3, 0.0, str(value))


def setting_key(config: dict, keys: list[str]) -> tuple:
    """Sort key of a run's setting: its values of `keys`, numbers in numeric order."""
    flat = flatten(config)
    return tuple(sort_value(flat.get(k)) for k in keys)


def sort_by_setting(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Runs ordered by their values of `keys` (numerically), ties in their stored order."""
    order = sorted(range(len(runs)), key=lambda i: (setting_key(runs["config"].iloc[i], keys), i))
    return runs.iloc[order]


def loss_axis_label(config: dict) -> str:
    loss = config.get("loss", {})
    kind, centring = loss.get("kind", "mse"), loss.get("centring", "class")
    known = LOSS_KINDS.get(kind)
    return known.axis_label.format(centring=centring) if known else f"loss ({kind})"


# -- run sets --------------------------------------------------------------------------------------

def _opt_int(value) -> int | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return int(value)


def members_of(runs: pd.DataFrame, keys: list[str] | None = None, group_of: dict | None = None) -> list[Member]:
    """Figure members for runs: labelled by the config keys that vary among them (or the run id),
    coloured per run, or per setting when `group_of` (run_id -> setting label) is given."""
    keys = varying_keys(list(runs["config"])) if keys is None else keys
    group_colour = {}
    if group_of:
        labels = list(dict.fromkeys(group_of.values()))
        group_colour = dict(zip(labels, colours(len(labels))))
    palette = colours(len(runs))
    out = []
    for i, row in enumerate(runs.itertuples()):
        summary = row.summary or {}
        label = group_of[row.run_id] if group_of else (label_of(row.config, keys) if keys else default_label(row.config))
        out.append(Member(
            run_id=row.run_id, label=label, colour=group_colour.get(label, palette[i]),
            memorization_epoch=_opt_int(summary.get("memorization_epoch")), grok_epoch=_opt_int(summary.get("grok_epoch")),
            stages=dict(summary.get("stages") or {})))
    return out


def fill_stages(members: list[Member], series: pd.DataFrame) -> list[Member]:
    """Give members without stored stages the stages segmented from their `li2.*` series
    (`groklab.li2.hook.stages_from_series`), when those series and that module exist."""
    missing = [m for m in members if not m.stages]
    if not missing or series is None or series.empty:
        return members
    try:
        from groklab.li2.hook import stages_from_series
    except ImportError:
        return members
    li2 = series[series["run_id"].isin([m.run_id for m in missing]) & series["key"].str.startswith("li2.")]
    try:
        found = stages_from_series(li2) if not li2.empty else {}
    except (NotImplementedError, GroklabError):  # no segmentation available, or too short a series
        return members
    for m in missing:
        m.stages = {k: v for k, v in (found.get(m.run_id) or {}).items() if v is not None}
    return members


def runs_table(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The page's runs table: one row per run with its distinguishing settings and its summary."""
    rows = []
    for row in runs.itertuples():
        s = row.summary or {}
        status = row.status
        if status == "complete":
            status = "diverged" if s.get("diverged") else ("censored" if s.get("censored") else "grokked")
        entry = {"run": row.run_id[:12]}
        flat = flatten(row.config)
        for k in keys:
            entry[SHORT_NAMES.get(k, k)] = format_value(flat.get(k))
        entry.update({
            "status": status, "memorized": s.get("memorization_epoch"), "grokked": s.get("grok_epoch"),
            "sustained": s.get("sustained_grok_epoch"), "epochs": s.get("epochs"),
            "train acc": s.get("final_train_acc"), "test acc": s.get("final_test_acc"),
            "test loss": s.get("final_test_loss"), "wall (s)": s.get("wall_seconds"),
        })
        rows.append(entry)
    return pd.DataFrame(rows)


# -- sweeps: phase diagram and the settings compared ----------------------------------------------

FRACTION_KEYS = {"task.train_fraction", "task.train_size", "task.critical_ratio", "task.critical_delta"}


@lru_cache(maxsize=256)
def _fraction_and_degree(task_json: str) -> tuple[int, float, int]:
    from groklab.config import TaskConfig
    from groklab.tasks.build import build_task, max_irrep_degree, train_fraction_for

    cfg = TaskConfig(**json.loads(task_json))
    task = build_task(cfg)
    fraction = train_fraction_for(cfg, task)
    if fraction is None:
        fraction = cfg.train_size / len(task.labels)
    return task.group.order, float(fraction), max_irrep_degree(task)


def phase_table(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame | None:
    """(order, fraction, test_acc, d_max) per run when the sweep varies the group and the training
    fraction of group composition; None otherwise."""
    if "task.group" not in keys or not FRACTION_KEYS & set(keys):
        return None
    rows = []
    for row in runs.itertuples():
        s = row.summary or {}
        if row.config["task"].get("op") != "compose" or s.get("final_test_acc") is None:
            continue
        order, fraction, d_max = _fraction_and_degree(json.dumps(row.config["task"], sort_keys=True))
        rows.append({"order": order, "fraction": round(fraction, 6), "test_acc": float(s["final_test_acc"]),
                     "d_max": d_max, "group": row.config["task"]["group"]})
    table = pd.DataFrame(rows)
    if table.empty or table["order"].nunique() < 2 or table["fraction"].nunique() < 2:
        return None
    return table


def grouping_keys(keys: list[str], phase: bool) -> list[str]:
    """Keys that define the settings compared by grok-time statistics: what varies, except the seed
    (and the training fraction when a phase diagram already shows it)."""
    return [k for k in keys if k not in SEED_KEYS and not (phase and k in FRACTION_KEYS)]


def run_groups(runs: pd.DataFrame, keys: list[str]) -> dict[str, str]:
    """run_id -> setting label ("all runs" when no key varies), in numeric order of the settings, so
    that figures and tables list wd = 0, 0.0001, 0.001 rather than in the order the runs were made."""
    return {row.run_id: (label_of(row.config, keys) if keys else "all runs")
            for row in sort_by_setting(runs, keys).itertuples()}


def censor_times(runs: pd.DataFrame) -> dict[str, float]:
    """Last observed epoch per run: its divergence epoch, else its last epoch (the budget)."""
    out = {}
    for row in runs.itertuples():
        s = row.summary or {}
        at = s.get("diverged_epoch") if s.get("diverged") else s.get("epochs")
        out[row.run_id] = float(at if at is not None else row.config["train"]["epochs"])
    return out
