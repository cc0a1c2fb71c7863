"""The ``stores`` fixture: every conformance test runs once per store.

The PostgreSQL case carries the ``storage`` marker (CI runs ``-m storage`` again
on a real server) and a fresh database from ``tests/conftest.py``, whose
integrity is checked as it is dropped. The memory case gets the same integrity
check over its tables.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conformance.backends import Backend, memory_backend, postgres_backend
from tests.conformance.memory_inspector import integrity_violations
from worker.memory import MemoryStore


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.storage)])
def stores(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The store under test, with its inspector."""
    if request.param == "postgres":
        engine: AsyncEngine = request.getfixturevalue("engine")
        yield postgres_backend(engine)
        return
    backend = memory_backend()
    yield backend
    if request.node.get_closest_marker("breaks_integrity") is None:
        assert isinstance(backend.store, MemoryStore)
        assert integrity_violations(backend.store.state) == []
