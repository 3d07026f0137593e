"""YAML for configs and sweep specs, read with bounds so that no file can exhaust memory or time.

`yaml.safe_load` builds no arbitrary objects, but it still expands aliases without limit (a few lines
can name 10⁹ nodes: an "alias bomb", which anything that copies the result expands in memory),
recurses once per level of nesting, and builds YAML-only types (dates, binary, sets) that a config
cannot hold. Here the file's size is bounded before it is read, the composed node graph's expanded size
and depth are bounded before anything is constructed, and every value must be JSON-like (mappings
with string keys, lists, strings, numbers, booleans, null); each violation is one line.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import yaml

from groklab.errors import GroklabError

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: the largest shipped spec is a few kB
MAX_NODES = 100_000  # nodes after alias expansion
MAX_DEPTH = 64  # levels of nesting
# libyaml's loader when PyYAML has it (10x faster; it bounds flow nesting itself), else the pure-Python one
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path, what: str = "config file") -> str:
    """The file's text, refusing one over MAX_CONFIG_BYTES before reading it."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise GroklabError(f"cannot read {what} {str(path)!r}: {err.strerror or err}") from None
    if size > MAX_CONFIG_BYTES:
        raise GroklabError(f"{what} {str(path)!r} is {size:,} bytes, more than the {MAX_CONFIG_BYTES:,} a config may "
                           "have; give a smaller file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GroklabError(f"{what} {str(path)!r} is not UTF-8 text (a binary file?); give a YAML file") from None
    except OSError as err:
        raise GroklabError(f"cannot read {what} {str(path)!r}: {err.strerror or err}") from None


def parse(text: str, source: str) -> Any:
    """The YAML document in `text`, bounded as the module docstring says; `source` names it in errors.
    yaml.YAMLError passes through (the caller words it with the line)."""
    loader = _LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise GroklabError(f"{source} nests deeper than {MAX_DEPTH} levels; flatten it") from None
        if node is None:
            return None
        _check_size(node, source)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    _check_types(data, source, "")
    return data


def _check_size(root: yaml.Node, source: str) -> None:
    """Expanded node count and depth of the composed graph, computed without expanding it (memoised per node)."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: the graph may be deep
        node, done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            if len(stack) > 10 * MAX_NODES:
                raise GroklabError(f"{source} has more than {MAX_NODES:,} values; give a smaller file")
            continue
        sizes[key] = 1 + sum(sizes.get(id(c), 0) for c in children)
        depths[key] = 1 + max((depths.get(id(c), 0) for c in children), default=0)
        if sizes[key] > MAX_NODES:
            raise GroklabError(f"{source} expands to more than {MAX_NODES:,} values (aliases such as *a repeat whole "
                               "subtrees); give a smaller file")
        if depths[key] > MAX_DEPTH:
            raise GroklabError(f"{source} nests deeper than {MAX_DEPTH} levels; flatten it")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


_YAML_ONLY = {bytes: "binary (!!binary)", set: "set (!!set)", datetime.date: "date", datetime.datetime: "timestamp",
              tuple: "pairs"}


def _check_types(value: Any, source: str, where: str) -> None:
    """Refuse, naming the key, any value that JSON (and so a config) cannot hold."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise GroklabError(f"{source}: key {k!r}{_at(where)} is not a string; config keys are names")
            _check_types(v, source, f"{where}.{k}" if where else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_types(v, source, f"{where}[{i}]")
    elif not (value is None or isinstance(value, (str, bool, int, float))):
        kind = next((name for t, name in _YAML_ONLY.items() if isinstance(value, t)), type(value).__name__)
        raise GroklabError(f"{source}: {where or 'the document'} is a YAML {kind} value; configs hold only "
                           "mappings, lists, strings, numbers, booleans and null (quote it to make it a string)")


def _at(where: str) -> str:
    return f" under {where!r}" if where else ""
