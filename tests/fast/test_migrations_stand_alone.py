"""Migrations stand alone: an applied revision does on the next fresh database exactly what it
did when it was written, however the worker's code changes afterwards."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from worker.domain.campaign import record_fingerprint

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
ALLOWED_THIRD_PARTY = {"alembic", "sqlalchemy", "orjson"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.name)
def test_a_migration_imports_nothing_of_the_worker(path: Path) -> None:
    foreign = _imported_roots(path) - ALLOWED_THIRD_PARTY - sys.stdlib_module_names
    assert foreign - {"__future__"} == set(), f"{path.name} imports {sorted(foreign)}"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDS: list[Any] = [
    {"id": "1", "status": "paused", "b": [1, 2.5, None, True], "a": {"z": "é", "y": "😀"}},
    {"id": 7, "total_calls": 10**30, "nested": {"n": -(10**19)}},  # past 64 bits
    {"id": "x", "text": 'line\nbreak \u0000 \\ "quoted"'},
    [],
    {},
]


@pytest.mark.parametrize("record", RECORDS)
def test_revision_0002_keeps_the_fingerprint_it_was_written_with(record: Any) -> None:
    # record_fingerprint is fixed forever too, so the frozen copy and the live one agree
    # today; should the live one ever change, this migration still writes what it wrote.
    frozen = _load("0002_leases_and_vanishing")._fingerprint
    assert frozen(record) == record_fingerprint(record)
