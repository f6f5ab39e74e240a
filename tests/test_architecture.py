"""The package map's rules hold (docs/architecture.md): the import contracts in pyproject.toml,
and every activity and child workflow a workflow calls is registered in the worker."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
from importlinter.cli import lint_imports
from sqlalchemy.ext.asyncio import create_async_engine

from openpoint.settings import Settings
from worker.main import WORKFLOWS, activities

ROOT = Path(__file__).resolve().parents[1]
CALLS = {"execute_activity", "start_activity", "execute_local_activity", "start_local_activity"}
CHILDREN = {"execute_child_workflow", "start_child_workflow"}


def test_the_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
    assert kept, capsys.readouterr().out[-4000:]  # the broken contracts, with their import chains


def _called(module: Any) -> tuple[set[str], set[str]]:
    """(activity names, child workflow class names) that a workflows/ module calls."""
    names: set[str] = set()
    children: set[str] = set()
    tree = ast.parse(Path(module.__file__).read_text())
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        first = node.args[0]
        value = getattr(module, first.id, None) if isinstance(first, ast.Name) else None
        if node.func.attr in CALLS and isinstance(value, str):
            names.add(value)
        elif node.func.attr in CHILDREN and isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name):
            children.add(first.value.id)
    # Activity names handed to the module's own helpers (jobs' _finish(FINISH_IMPORT, ...)).
    helpers = {f.name for f in tree.body if isinstance(f, ast.AsyncFunctionDef | ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers and node.args:
            first = node.args[0]
            value = getattr(module, first.id, None) if isinstance(first, ast.Name) else None
            if isinstance(value, str):
                names.add(value)
    return names, children


def test_every_activity_and_child_workflow_a_workflow_calls_is_registered() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # never connected
    registered = {f.__temporal_activity_definition.name for f in activities(None, Settings(), engine)}  # type: ignore[attr-defined]
    workflows = {w.__name__ for w in WORKFLOWS}
    called: set[str] = set()
    children: set[str] = set()
    for path in sorted((ROOT / "workflows").glob("*.py")):
        found = _called(importlib.import_module(f"workflows.{path.stem}"))
        called |= found[0]
        children |= found[1]
    assert called and children  # the scan found the calls
    assert called <= registered, f"called but not registered: {sorted(called - registered)}"
    assert children <= workflows, f"child workflows not registered: {sorted(children - workflows)}"
