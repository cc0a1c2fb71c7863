"""Runs and vanishing, on both stores: a run's outcome as recorded, runs of dead workers
closed as abandoned, and a campaign that complete listings missed vanishing as a version of its
own (and coming back as another)."""

from __future__ import annotations

from tests.conformance.backends import Backend
from tests.conformance.values import (
    OTHER,
    OWNER,
    RIVAL,
    TARGET,
    TTL,
    at,
    campaign,
    changes,
    cycle,
    lease,
    page,
)
from worker.domain.events import EventKind, event_id
from worker.domain.leases import ABANDONED
from worker.ports import RunSummary, Written


async def test_a_run_taken_over_mid_cycle_is_superseded_whatever_it_found(
    stores: Backend,
) -> None:
    first = await lease(stores.store, at(0))
    second = await lease(stores.store, at(TTL + 1), owner=RIVAL)
    partial = await stores.store.finish(first, at(TTL + 2), RunSummary(status="partial"))
    failed = RunSummary(status="failed", error="the provider failed")
    assert partial.status == "superseded"
    await stores.store.finish(second, at(TTL + 3), failed)
    runs = await stores.inspect.runs(TARGET)
    assert [(r["status"], r["error"]) for r in runs] == [
        ("superseded", f"{TARGET}: the lease was taken over by another worker"),
        ("failed", "the provider failed"),
    ]


async def test_runs_of_expired_leases_are_closed_as_abandoned_and_live_ones_kept(
    stores: Backend,
) -> None:
    dead = await lease(stores.store, at(0), target=TARGET)
    live = await lease(stores.store, at(0), target=OTHER, ttl=600)
    assert await stores.abandon_expired(at(TTL + 1)) == [TARGET]
    assert await stores.abandon_expired(at(TTL + 2)) == []  # nothing left to close
    (closed,) = await stores.inspect.runs(TARGET)
    assert (closed["status"], closed["finished_at"], closed["error"]) == (
        "abandoned",
        at(TTL + 1),
        ABANDONED,
    )
    (kept,) = await stores.inspect.runs(OTHER)
    assert kept["status"] == "running"
    # The lease itself is left for the next claim, which counts the takeover.
    target = await stores.inspect.target(TARGET)
    assert target is not None and target["lease_owner"] == OWNER
    # A worker whose lease expired untaken can still finish: its outcome replaces abandoned.
    await stores.store.finish(dead, at(TTL + 3), RunSummary(status="succeeded", pages=1))
    (finished,) = await stores.inspect.runs(TARGET)
    assert (finished["status"], finished["pages"], finished["error"]) == ("succeeded", 1, None)
    await stores.store.finish(live, at(2), RunSummary(status="succeeded"))


async def test_a_campaign_missed_by_complete_listings_vanishes_then_reappears(
    stores: Backend,
) -> None:
    gone = campaign("1")
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [gone, campaign("2")])
        async with stores.store.page(held, at(2)) as writer:
            counted = await writer.miss(["1", "9"], listed_at=at(2), misses_to_vanish=2)
        assert counted == Written()
        row = await stores.inspect.campaign(TARGET, "1")
        assert row is not None and (row["version"], row["missed_listings"]) == (1, 1)
        async with stores.store.page(held, at(3)) as writer:
            vanished = await writer.miss(["1"], listed_at=at(3), misses_to_vanish=2)
        assert vanished == Written(changed=1, events=1, event_types={"campaign.vanished": 1})
        async with stores.store.page(held, at(4)) as writer:  # vanished already: nothing
            assert await writer.miss(["1"], listed_at=at(4), misses_to_vanish=2) == Written()
        (run,) = await stores.inspect.runs(TARGET)
        assert (run["vanished"], run["events"]) == (1, 3)
    row = await stores.inspect.campaign(TARGET, "1")
    assert row is not None
    assert (row["version"], row["vanished_at"], row["last_changed_at"], row["first_seen_at"]) == (
        2,
        at(3),
        at(3),
        at(1),
    )
    assert row["status"] == "running"  # the last known values
    history = await stores.inspect.history(TARGET, "1")
    assert [(h["version"], h["valid_from"], h["valid_to"], h["vanished_at"]) for h in history] == [
        (1, at(1), at(3), None),
        (2, at(3), None, at(3)),
    ]
    assert history[1]["raw"] == history[0]["raw"]
    (event,) = await stores.inspect.events(campaign_id="1", type="campaign.vanished")
    assert event["event_id"] == event_id(gone.key, 2, gone.fingerprint(), EventKind.VANISHED)
    assert event["data"] == {
        "vanished_at": "2026-03-02T09:00:03Z",
        "last_version": 1,
        "status": "running",
        "missed_listings": 2,
    }
    assert list(await stores.store.listed_ids(TARGET, after="", limit=10)) == ["2"]

    async with cycle(stores.store, at(10)) as held:
        back = await changes(stores.store, at(11), [gone])
        async with stores.store.page(held, at(11), observed_at=at(11)) as writer:
            await writer.write(back, [], records=1)
    row = await stores.inspect.campaign(TARGET, "1")
    assert row is not None
    assert (row["version"], row["vanished_at"], row["missed_listings"]) == (3, None, 0)
    assert [e["type"] for e in await stores.inspect.events(campaign_id="1")] == [
        "campaign.discovered",
        "campaign.vanished",
        "campaign.reappeared",
    ]
