"""An in-memory implementation of the storage ports, for tests and for trying the worker.

``MemoryStore`` implements ``worker.ports.Store`` (leases and fencing, runs,
campaigns, history, the event outbox, rejections) by the same rules as the
PostgreSQL store; one conformance suite (``tests/conformance``) holds both to
them. Hand it to the pipeline where a ``PostgresStore`` would go::

    from worker.memory import MemoryStore
    from worker.sync.pipeline import SyncPipeline

    store = MemoryStore()
    pipeline = SyncPipeline(store, clock, owner="me")
    ...
    for row in store.state.outbox():
        print(row.event.type, row.event.key.campaign_id)

Modules: ``tables`` (rows, transactions, locks), ``leases`` (claim, renew,
finish, abandoned runs), ``writer`` (one page's transaction), ``rejections``
(what is kept of a rejection) and ``store`` (the reads, and ``MemoryStore``).
"""

from __future__ import annotations

from worker.memory.store import MemoryPageWriter, MemoryStore
from worker.memory.tables import MemoryState

__all__ = ["MemoryPageWriter", "MemoryState", "MemoryStore"]
