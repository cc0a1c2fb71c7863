"""Campaigns, claims and pages for the conformance tests, built with the real domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.clock import ManualClock
from worker.domain.campaign import Campaign, PausedBy, Status, TargetKey
from worker.domain.diff import Change, diff
from worker.domain.records import Rejection
from worker.ports import Claim, Lease, RunSummary, Store, Written

TARGET = TargetKey(provider="vox_v3", account="acme")
OTHER = TargetKey(provider="vox_v3", account="other")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a whole multiple of the 60 s interval
OWNER, RIVAL = "pod-a/1/aaaa", "pod-b/2/bbbb"
TTL, INTERVAL = 30.0, 60.0


def at(seconds: float) -> datetime:
    """``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


def campaign(
    campaign_id: str,
    status: Status = Status.RUNNING,
    *,
    target: TargetKey = TARGET,
    paused_by: PausedBy | None = None,
    **raw: Any,
) -> Campaign:
    """A campaign whose raw record holds its id, status and ``raw``."""
    record = {"id": campaign_id, "status": status.value, **raw}
    return Campaign(
        provider=target.provider,
        account=target.account,
        campaign_id=campaign_id,
        name=str(raw.get("name", f"campaign {campaign_id}")),
        status=status,
        status_raw=status.value,
        paused_by=paused_by,
        raw=record,
    )


async def claim(
    store: Store,
    when: datetime,
    *,
    owner: str = OWNER,
    target: TargetKey = TARGET,
    force: bool = True,
    ttl: float = TTL,
) -> Claim:
    """A claim on lease time and observation time ``when``."""
    clock = ManualClock(when)
    return await store.claim(
        target, owner=owner, lease_clock=clock, ttl=ttl, interval=INTERVAL, clock=clock, force=force
    )


async def lease(store: Store, when: datetime, **options: Any) -> Lease:
    """A claim that must succeed."""
    taken = await claim(store, when, **options)
    assert isinstance(taken, Lease), taken
    return taken


@asynccontextmanager
async def cycle(store: Store, when: datetime, **options: Any) -> AsyncIterator[Lease]:
    """A lease taken at ``when`` for the block, its run recorded as succeeded after it."""
    held = await lease(store, when, **options)
    yield held
    await store.finish(held, when, RunSummary(status="succeeded"))


async def changes(store: Store, when: datetime, campaigns: Sequence[Campaign]) -> list[Change]:
    """Each campaign diffed against its stored version, as the page step does."""
    target = campaigns[0].target
    states = await store.load(target, [c.campaign_id for c in campaigns])
    found = [diff(states.get(c.campaign_id), c, when) for c in campaigns]
    return [change for change in found if change is not None]


async def page(
    store: Store,
    lease: Lease,
    when: datetime,
    campaigns: Sequence[Campaign] = (),
    rejections: Sequence[Rejection] = (),
    **options: Any,
) -> Written:
    """One page observed at ``when``: its changes and rejections in one fenced transaction."""
    found = await changes(store, when, campaigns) if campaigns else []
    async with store.page(lease, when, observed_at=when) as writer:
        return await writer.write(found, rejections, records=len(campaigns), **options)
