"""Keeping a target's lease while its cycle runs.

The page transactions renew the lease as they write (that is the fence); this
renews it in between, every third of its ttl, so a cycle that spends long in one
fetch (retries, a slow provider) does not lose its target. When a renewal finds
the lease taken over, the cycle is cancelled: it could not write anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import anyio

from worker.errors import StorageError
from worker.observability import loggers
from worker.ports import Clock, Lease, LeaseStore

__all__ = ["under_lease"]

log = logging.getLogger(loggers.LEASING)


async def under_lease(store: LeaseStore, lease: Lease, clock: Clock, work: Awaitable[None]) -> bool:
    """Await ``work`` while renewing ``lease``; True if the lease was lost meanwhile.

    Exceptions of ``work`` propagate unchanged (not wrapped in an ExceptionGroup).
    """
    lost = anyio.Event()
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_keep, store, lease, clock, lost, group.cancel_scope)
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the group
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return lost.is_set()


async def _keep(
    store: LeaseStore, lease: Lease, clock: Clock, lost: anyio.Event, scope: anyio.CancelScope
) -> None:
    while True:
        await anyio.sleep(lease.ttl / 3)
        try:
            renewed = await store.renew(lease, clock.now())
        except StorageError as exc:
            # The next page's fence decides; a renewal that could not be sent changes nothing.
            log.warning(
                "%s: lease renewal failed: %s",
                lease.target,
                exc,
                extra={"event": "lease.renew_failed", "target": str(lease.target)},
            )
            continue
        if not renewed:
            lost.set()
            scope.cancel()
            return
