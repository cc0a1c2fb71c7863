"""The two stores under test, each with its inspector.

A :class:`Backend` is what a conformance test or a lifecycle scenario gets: a
store implementing ``worker.ports.Store``, an inspector reading what it holds,
and the one store operation outside the port that a worker calls as it starts
(closing the runs of expired leases).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conformance.inspector import Inspector
from tests.conformance.memory_inspector import MemoryInspector
from tests.conformance.postgres_inspector import PostgresInspector
from worker.domain.campaign import TargetKey
from worker.memory import MemoryStore
from worker.ports import Store
from worker.storage.lapsed import abandon_expired
from worker.storage.postgres import PostgresStore

__all__ = ["SECRET", "Backend", "memory_backend", "postgres_backend"]

# A secret both stores are told about: nothing they keep may contain it.
SECRET = "conformance-secret-0123456789"


@dataclass(frozen=True, slots=True)
class Backend:
    """One store under test.

    Attributes:
        name: ``memory`` or ``postgres``.
        abandon_expired: close the runs whose lease lapsed by the given lease time;
            the targets whose runs were closed.
    """

    name: str
    store: Store
    inspect: Inspector
    abandon_expired: Callable[[datetime], Awaitable[list[TargetKey]]]


def memory_backend(secrets: Collection[str] = (SECRET,)) -> Backend:
    """A fresh, empty MemoryStore."""
    store = MemoryStore(secrets=secrets)
    return Backend("memory", store, MemoryInspector(store.state), store.abandon_expired)


def postgres_backend(engine: AsyncEngine, secrets: Collection[str] = (SECRET,)) -> Backend:
    """A PostgresStore on ``engine`` (a fresh database from ``tests/conftest.py``)."""
    return Backend(
        "postgres",
        PostgresStore(engine, secrets=secrets),
        PostgresInspector(engine),
        partial(abandon_expired, engine),
    )
