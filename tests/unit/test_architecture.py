"""The layout's rules, checked: package dependencies (import-linter contracts in .importlinter), and
small modules and functions (a 500-line class is several classes)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "api_route", "websocket"}


def _modules() -> list[Path]:
    return sorted(p for p in SERVICES.rglob("*.py") if ".venv" not in p.parts)


def test_import_contracts_hold() -> None:
    """Process packages never import each other; core, rankings and registration import nothing
    built on them; the domain does no I/O; production code never starts the embedded stack."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_over_450_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(REPO)} has {lines} lines"


def _is_route_table(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose body declares routes (``@router.get(...)`` on nested functions)."""
    for node in ast.walk(fn):
        if node is fn or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Attribute) and target.attr in ROUTE_DECORATORS:
                return True
    return False


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _is_route_table(node):
                out.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_no_function_over_60_lines_except_route_tables() -> None:
    long = [entry for path in _modules() for entry in _long_functions(path)]
    assert not long, "\n".join(long)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The function check sees a long function, and a route table is exempt."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    nested = "\n".join(f"        y{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n\ndef table(router):\n    @router.get('/')\n    def r():\n{nested}\n")
    found = [
        node.name
        for node in ast.walk(ast.parse(sample.read_text()))
        if isinstance(node, ast.FunctionDef)
        and (node.end_lineno or 0) - node.lineno + 1 > MAX_FUNCTION_LINES
        and not _is_route_table(node)
    ]
    assert found == ["long", "r"]
