"""Every verdict of every reproduction declares its negative control (`groklab.reproduce.controls`), and every
control named is a test that exists. The verdicts a module emits are read from its source (each `Verdict(...)`
call's claim, up to its first placeholder) and from the committed results in docs/results/."""

import ast
import json
from pathlib import Path

import pytest

from groklab.reproduce import MODULES
from groklab.reproduce.controls import CONTROLS, MEASUREMENT, NONE_YET, control_of

ROOT = Path(__file__).parents[1]
SOURCES = {name: [ROOT / "src/groklab/reproduce" / f"{module}.py"] for name, module in MODULES.items()}
SOURCES["muon-grokking"].append(ROOT / "src/groklab/reproduce/muon_grokking_stats.py")
SOURCES["li2-scaling"].append(ROOT / "src/groklab/reproduce/li2_scaling_search.py")
SOURCES["muon-width-batch"].append(ROOT / "src/groklab/reproduce/muon_width_batch_stats.py")


def _claims_in_source(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                 for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value.value, str)}
    claims = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Verdict" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant):
                claims.append(first.value)
            elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                claims.append(first.values[0].value)  # the constant start of an f-string
            elif isinstance(first, ast.Name) and first.id in constants:
                claims.append(constants[first.id])  # a module-level constant
    return claims


def _committed() -> list[tuple]:
    out = []
    for path in sorted((ROOT / "docs/results").glob("*.json")):
        data = json.loads(path.read_text())
        for v in data.get("verdicts", []):
            out.append((data["name"], v["claim"], v["pass"], v.get("reason")))
    return out


def _test_exists(control: str) -> bool:
    file, _, test = control.partition("::")
    path = ROOT / file
    return path.exists() and any(isinstance(n, ast.FunctionDef) and n.name == test
                                 for n in ast.walk(ast.parse(path.read_text())))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_verdict_in_the_source_declares_a_control(name):
    claims = [c for path in SOURCES[name] for c in _claims_in_source(path)]
    assert claims, name
    missing = [c for c in claims if control_of(name, c) is None]
    assert not missing, f"{name}: verdicts without an entry in groklab.reproduce.controls: {missing}"


def test_every_committed_verdict_declares_a_control_and_measurements_say_why():
    for name, claim, passed, reason in _committed():
        control = control_of(name, claim)
        assert control is not None, (name, claim)
        assert control != MEASUREMENT or passed is None, (name, claim, passed)  # a measurement is never judged
        assert passed is not None or reason, (name, claim)  # not judged: the reason is given


def test_every_control_is_an_existing_test_and_no_verdict_is_left_without_one():
    controls = [c for table in CONTROLS.values() for c in table.values()]
    named = [c for c in controls if c not in (MEASUREMENT, NONE_YET)]
    assert named and all(_test_exists(c) for c in named), [c for c in named if not _test_exists(c)]
    assert set(CONTROLS) == set(MODULES)
    uncontrolled = [(name, claim) for name, table in CONTROLS.items() for claim, c in table.items() if c == NONE_YET]
    assert not uncontrolled, f"verdicts without a negative control (name a test, or report a measurement): {uncontrolled}"


def test_the_docs_list_every_verdict_with_its_control():
    text = (ROOT / "docs/reproductions.md").read_text().replace("\\|", "|")
    for name, table in CONTROLS.items():
        for claim, control in table.items():
            shown = "none yet" if control == NONE_YET else "measurement" if control == MEASUREMENT else f"`{control}`"
            assert f"| {name} | {claim} | {shown}" in text, (name, claim)
