"""Writing real events for delivery tests: campaigns through the real store, and two
page transactions that commit out of order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tests.helpers import claim
from worker.domain.campaign import Campaign, Counters, Status, TargetKey
from worker.domain.diff import diff
from worker.ports import Lease, RunSummary
from worker.storage.postgres import PostgresStore

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = TargetKey(provider="vox_v3", account="acme")
GLOBEX = TargetKey(provider="vox_v2", account="globex")


def campaign(target: TargetKey, cid: str, completed: int = 0) -> Campaign:
    return Campaign(
        provider=target.provider,
        account=target.account,
        campaign_id=cid,
        name=f"c{cid}",
        status=Status.RUNNING,
        status_raw="ongoing",
        counters=Counters(total_calls=100, completed_calls=completed),
        created_at=T,
        raw={"id": cid, "completed_calls": completed},
    )


class Writer:
    """Writes versions of campaigns of one target through the real store, one page each."""

    def __init__(self, store: PostgresStore, lease: Lease, start: datetime = T) -> None:
        self.store = store
        self.lease = lease
        self.at = start

    @asynccontextmanager
    async def page(self, *campaigns: Campaign) -> AsyncIterator[None]:
        """An open page transaction that has written ``campaigns``; it commits on exit."""
        self.at += timedelta(seconds=1)
        target = self.lease.target
        stored = await self.store.load(target, [c.campaign_id for c in campaigns])
        changes = [ch for c in campaigns if (ch := diff(stored.get(c.campaign_id), c, self.at))]
        async with self.store.page(self.lease, self.at) as writer:
            await writer.write(changes, [], records=len(campaigns))
            yield

    async def write(self, *campaigns: Campaign) -> None:
        async with self.page(*campaigns):
            pass


@asynccontextmanager
async def writers(
    store: PostgresStore, start: datetime = T
) -> AsyncIterator[tuple[Writer, Writer]]:
    """Writers for two targets observing from ``start`` on, leases released at the end."""
    acme, globex = await claim(store, ACME, T), await claim(store, GLOBEX, T)
    try:
        yield Writer(store, acme, start), Writer(store, globex, start)
    finally:
        for lease in (acme, globex):
            await store.finish(lease, T, RunSummary(status="succeeded"))


async def out_of_order(
    first: Writer, second: Writer, between: Callable[[], Awaitable[None]]
) -> None:
    """``first`` takes its event ids, ``second`` takes later ones and commits first; ``between``
    runs once the second committed and the first has not."""
    async with first.page(campaign(first.lease.target, "early")):
        async with second.page(campaign(second.lease.target, "late")):
            pass
        await between()
