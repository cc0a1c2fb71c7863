"""A full detail refresh: between refreshes a cycle reads details only for campaigns whose
list item moved; every ``detail_refresh_interval`` one cycle reads them all, so a change
only the detail shows (Sarvam's end time) is stored within that interval."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import T0
from tests.helpers import event_types, row, runtime_for
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.simulators.faults import Faults

KIT = all_kits()["sarvam"]
LIST_PATH = "/api/scheduling/v1/orgs/org-kit/workspaces/ws-kit/campaigns"


class CountingDetails:
    """ASGI wrapper counting detail requests (a path below the list's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.details = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(LIST_PATH + "/"):
            self.details += 1
        await self.app(scope, receive, send)


async def test_a_change_only_the_detail_shows_is_stored_by_the_next_full_refresh(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    app, state = KIT.build(clock, Faults(), 3)
    (cid,) = KIT.populate(state, 1)
    counted = CountingDetails(app)
    target = KIT.target.model_copy(update={"detail_refresh_interval": 3600})
    leases = ManualClock(T0)
    ends = state.get(cid).end_timestamp + timedelta(days=1)
    async with runtime_for(engine, clock, {target: counted}, lease_clock=leases) as rt:
        first = await rt.sync_target(target.name)  # new: its detail is read
        assert (first.status, first.changed, counted.details) == ("succeeded", 1, 1)

        state.get(cid).end_timestamp += timedelta(days=1)  # the detail moves, the list item not
        leases.advance(timedelta(minutes=30))
        quiet = await rt.sync_target(target.name)
        assert (quiet.changed, counted.details) == (0, 1)  # no detail read: not seen yet

        leases.advance(timedelta(minutes=30))  # an hour since the last full refresh
        full = await rt.sync_target(target.name)
        assert (full.status, full.changed, counted.details) == ("succeeded", 1, 2)

        leases.advance(timedelta(minutes=1))
        after = await rt.sync_target(target.name)
        assert (after.changed, counted.details) == (0, 2)  # the interval starts again

    stored = await row(engine, "SELECT version, scheduled_end_at FROM campaigns")
    assert (stored["version"], stored["scheduled_end_at"]) == (2, ends)
    assert await event_types(engine, cid) == ["campaign.discovered", "campaign.updated"]
    refreshed = await row(engine, "SELECT last_full_refresh_at FROM sync_targets")
    assert refreshed["last_full_refresh_at"] == T0 + timedelta(hours=1)


async def test_an_interval_of_zero_never_refreshes_in_full(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    app, state = KIT.build(clock, Faults(), 3)
    (cid,) = KIT.populate(state, 1)
    counted = CountingDetails(app)
    target = KIT.target.model_copy(update={"detail_refresh_interval": 0})
    leases = ManualClock(T0)
    async with runtime_for(engine, clock, {target: counted}, lease_clock=leases) as rt:
        await rt.sync_target(target.name)
        state.get(cid).end_timestamp += timedelta(days=1)
        leases.advance(timedelta(days=30))
        later = await rt.sync_target(target.name)
    assert (later.changed, counted.details) == (0, 1)
