"""The columns `groklab runs list` can show: what distinguishes runs, each one short and without spaces.

A column is a function of one stored run (its row with `config` and `summary` decoded, and the status a
listing shows). `DEFAULT` is what `runs list` prints; `--columns` picks any of `COLUMNS`, in its order.
"""

from __future__ import annotations

from typing import Callable

from groklab.errors import GroklabError


def _fmt(value, spec: str = "") -> str:
    return "-" if value is None or value != value else format(value, spec)  # NaN != NaN


def task_label(config: dict) -> str:
    """Z71 (a group product), Z71^3 (three operands), div%97 (a Muon-paper op and its modulus), parity10."""
    task = config.get("task") or {}
    op = task.get("op")
    if op is None:
        return "-"
    if op == "compose":
        return str(task.get("group")) + (f"^{task['arity']}" if task.get("arity", 2) != 2 else "")
    if op == "parity":
        return f"parity{task.get('parity_bits')}"
    return f"{op}%{task.get('modulus')}"


def data_label(config: dict) -> str:
    """How much of the table trains: p=0.4 (fraction), n=2016 (count), crit=1.2 (Li2 critical-ratio mode)."""
    task = config.get("task") or {}
    for key, short in (("train_size", "n"), ("critical_ratio", "crit"), ("train_fraction", "p")):
        if task.get(key) is not None:
            return f"{short}={task[key]:g}"
    return "default" if task else "-"


def model_label(config: dict) -> str:
    """2layer-2048 (Li2 network of width K; +L for residual extra layers) or tf-2x128 (depth x width)."""
    model = config.get("model") or {}
    if not model:
        return "-"
    if model.get("kind") == "transformer":
        return f"tf-{model.get('depth')}x{model.get('width')}"
    extra = model.get("extra_layers") or 0
    return f"2layer{f'+{extra}' if extra else ''}-{model.get('width')}"


def _section(row: dict, section: str, key: str):
    return ((row["config"] or {}).get(section) or {}).get(key)


Column = Callable[[dict], str]
COLUMNS: dict[str, Column] = {
    "run": lambda r: r["run_id"][:8],
    "sweep": lambda r: (r["sweep_id"] or "-")[:8],
    "ensemble": lambda r: (r["ensemble_id"] or "-")[:8],
    "status": lambda r: r["shown_status"],
    "task": lambda r: task_label(r["config"] or {}),
    "data": lambda r: data_label(r["config"] or {}),
    "model": lambda r: model_label(r["config"] or {}),
    "loss": lambda r: _fmt(_section(r, "loss", "kind")),
    "optim": lambda r: _fmt(_section(r, "optim", "kind")),
    "lr": lambda r: _fmt(_section(r, "optim", "lr"), "g"),
    "wd": lambda r: _fmt(_section(r, "optim", "weight_decay"), "g"),
    "epochs": lambda r: _fmt(_section(r, "train", "epochs"), "d"),
    "stop": lambda r: _fmt(_section(r, "train", "stop")),
    "seed": lambda r: _fmt(r["seed"], "d"),
    "grok": lambda r: _fmt((r["summary"] or {}).get("grok_epoch"), "d"),
    "test_acc": lambda r: _fmt((r["summary"] or {}).get("final_test_acc"), ".3f"),
    "name": lambda r: str(r["name"]),
}
DEFAULT = ("run", "sweep", "status", "task", "model", "optim", "lr", "wd", "stop", "seed", "grok", "test_acc", "name")


def parse_columns(text: str | None) -> tuple[str, ...]:
    """`--columns run,task,grok` -> the column names; a one-line error naming the valid ones otherwise."""
    if text is None:
        return DEFAULT
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in COLUMNS]
    if unknown or not names:
        what = f"unknown column {unknown[0]!r}" if unknown else "no column named"
        raise GroklabError(f"--columns: {what}; choose from {', '.join(COLUMNS)} (comma-separated)")
    return names


def table_lines(rows: list[dict], columns: tuple[str, ...]) -> list[str]:
    """The header and one line per run, columns padded to their widest cell."""
    table = [list(columns)] + [[COLUMNS[c](row) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in table]
