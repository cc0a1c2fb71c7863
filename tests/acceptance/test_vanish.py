"""Campaigns that vanish from a complete listing and come back, for every provider; a
listing that breaks mid-way vanishes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FailAfter, event_types, events, row, runtime_for
from tests.kits import ProviderKit, all_kits
from worker.clock import ManualClock
from worker.simulators.faults import Faults
from worker.storage.tables import campaign_events, campaign_history

KITS = all_kits()


async def history_of(engine: AsyncEngine, campaign_id: str) -> list[tuple[int, bool, bool]]:
    """(version, open, vanished) of each history row of a campaign, in version order."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                campaign_history.c.version,
                campaign_history.c.valid_to.is_(None),
                campaign_history.c.vanished_at.is_not(None),
            )
            .where(campaign_history.c.campaign_id == campaign_id)
            .order_by(campaign_history.c.version)
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("kit", KITS.values(), ids=KITS)
async def test_a_campaign_vanishes_stays_away_then_reappears(
    engine: AsyncEngine, clock: ManualClock, kit: ProviderKit
) -> None:
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 3)
    gone = ids[1]
    target = kit.target.name
    async with runtime_for(engine, clock, {kit.target: app}) as rt:
        assert (await rt.sync_target(target)).status == "succeeded"
        kept = state.get(kit.key(gone))
        state.remove(kit.key(gone))  # deleted at the provider

        clock.advance(timedelta(minutes=1))
        first = await rt.sync_target(target)
        assert (first.status, first.vanished) == ("succeeded", 1)
        gone_row = await row(
            engine,
            "SELECT vanished_at, version, status FROM campaigns WHERE campaign_id = :cid",
            cid=gone,
        )
        assert gone_row["vanished_at"] == clock.now()
        assert gone_row["version"] == 2  # the vanish is a version; its last known values stay
        assert gone_row["status"] != "unknown"

        clock.advance(timedelta(minutes=1))
        away = await rt.sync_target(target)  # still gone: no second vanished event
        assert (away.status, away.vanished) == ("succeeded", 0)
        assert (await event_types(engine, gone)).count("campaign.vanished") == 1

        state.add(kept)  # it is back
        clock.advance(timedelta(minutes=1))
        back = await rt.sync_target(target)
        assert back.status == "succeeded"

    types = await event_types(engine, gone)
    assert types[0] == "campaign.discovered"
    assert types[1] == "campaign.vanished"
    assert types[2] == "campaign.reappeared"
    assert "campaign.vanished" not in types[3:]
    (vanished,) = await events(
        engine,
        campaign_events.c.campaign_id == gone,
        campaign_events.c.type == "campaign.vanished",
    )
    assert vanished["version"] == 2
    assert vanished["data"]["last_version"] == 1
    assert await row(
        engine, "SELECT vanished_at, version FROM campaigns WHERE campaign_id = :cid", cid=gone
    ) == {"vanished_at": None, "version": 3}
    # The vanished version is closed when the campaign comes back: time-in-status of
    # the vanished span is not counted as any status.
    assert await history_of(engine, gone) == [(1, False, False), (2, False, True), (3, True, False)]
    for other in (ids[0], ids[2]):
        assert "campaign.vanished" not in await event_types(engine, other)


@pytest.mark.parametrize("kit", KITS.values(), ids=KITS)
async def test_a_listing_that_fails_mid_way_vanishes_nothing(
    engine: AsyncEngine, clock: ManualClock, kit: ProviderKit
) -> None:
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 5)
    match, first_page = kit.second_page
    failing = FailAfter(app, match, after=first_page)
    target = kit.paged_target
    async with runtime_for(engine, clock, {target: failing}) as rt:
        assert (await rt.sync_target(target.name)).status == "succeeded"
        # The listing breaks after its first page: the 3 campaigns of later pages
        # are not in it, and must not vanish.
        failing.armed = True
        clock.advance(timedelta(minutes=1))
        broken = await rt.sync_target(target.name)
        # A list page that fails fails the cycle; VOXO's one list arrives whole, and
        # its second page of details failing defers those campaigns (partial).
        assert broken.status == ("partial" if kit.name == "voxo" else "failed")
        assert failing.failed > 0
        assert broken.vanished == 0
        assert await row(
            engine, "SELECT count(*) AS n FROM campaigns WHERE vanished_at IS NOT NULL"
        ) == {"n": 0}

        failing.armed = False  # the next, complete listing vanishes only what is gone
        state.remove(kit.key(ids[-1]))
        clock.advance(timedelta(minutes=1))
        whole = await rt.sync_target(target.name)
        assert (whole.status, whole.vanished) == ("succeeded", 1)
    assert (await event_types(engine, ids[-1]))[-1] == "campaign.vanished"


async def test_a_flickering_listing_needs_the_configured_misses(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    kit = KITS["vox_v3"]
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 2)
    target = kit.target.model_copy(update={"vanish_after_misses": 2})
    async with runtime_for(engine, clock, {target: app}) as rt:
        await rt.sync_target(target.name)
        flicker = state.get(ids[0])
        state.remove(ids[0])
        clock.advance(timedelta(minutes=1))
        assert (await rt.sync_target(target.name)).vanished == 0  # one miss: counted only
        assert await row(
            engine, "SELECT missed_listings FROM campaigns WHERE campaign_id = :c", c=ids[0]
        ) == {"missed_listings": 1}
        state.add(flicker)
        clock.advance(timedelta(minutes=1))
        assert (await rt.sync_target(target.name)).vanished == 0  # listed again: count reset
        assert await row(
            engine, "SELECT missed_listings FROM campaigns WHERE campaign_id = :c", c=ids[0]
        ) == {"missed_listings": 0}
        state.remove(ids[0])
        for _ in range(2):
            clock.advance(timedelta(minutes=1))
            last = await rt.sync_target(target.name)
        assert last.vanished == 1  # two misses in a row
    assert (await event_types(engine, ids[0])).count("campaign.vanished") == 1
