"""Page writes, on both stores: a new campaign, a changed one, an unchanged one; history rows
closed exactly where the next version starts; deterministic event ids written once; a change
applied only over the version it was computed from; a page that fails leaves nothing."""

from __future__ import annotations

import pytest

from tests.conformance.backends import Backend
from tests.conformance.values import TARGET, at, campaign, changes, cycle, page
from worker.domain.campaign import PausedBy, Status
from worker.domain.drift import DriftNote, drift_event
from worker.domain.events import EventKind, event_id
from worker.ports import Written


async def test_a_new_campaign_is_stored_with_one_open_version_and_its_discovery(
    stores: Backend,
) -> None:
    async with cycle(stores.store, at(0)) as held:
        new = campaign("1", name="first")
        written = await page(stores.store, held, at(1), [new])
        assert written == Written(changed=1, events=1, event_types={"campaign.discovered": 1})
        row = await stores.inspect.campaign(TARGET, "1")
        assert row is not None
        assert {
            k: row[k] for k in ("version", "status", "name", "first_seen_at", "last_changed_at")
        } == {
            "version": 1,
            "status": "running",
            "name": "first",
            "first_seen_at": at(1),
            "last_changed_at": at(1),
        }
        assert (row["content_hash"], row["raw"]) == (new.fingerprint(), dict(new.raw))
        (version,) = await stores.inspect.history(TARGET, "1")
        assert (version["version"], version["valid_from"], version["valid_to"]) == (1, at(1), None)
        (event,) = await stores.inspect.events()
        assert event["event_id"] == event_id(new.key, 1, new.fingerprint(), EventKind.DISCOVERED)
        assert (event["type"], event["version"], event["detected_at"]) == (
            "campaign.discovered",
            1,
            at(1),
        )
        assert event["data"]["campaign"]["name"] == "first"
        (run,) = await stores.inspect.runs(TARGET)
        assert {k: run[k] for k in ("pages", "records", "changed", "events")} == {
            "pages": 1,
            "records": 1,
            "changed": 1,
            "events": 1,
        }


async def test_a_change_closes_the_previous_version_where_the_new_one_starts(
    stores: Backend,
) -> None:
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [campaign("1")])
        paused = campaign("1", Status.PAUSED, paused_by=PausedBy.USER)
        written = await page(stores.store, held, at(2), [paused])
        assert written.changed == 1
        assert written.event_types == {"campaign.status_changed": 1, "campaign.paused": 1}
        history = await stores.inspect.history(TARGET, "1")
        assert [(h["version"], h["status"], h["valid_from"], h["valid_to"]) for h in history] == [
            (1, "running", at(1), at(2)),
            (2, "paused", at(2), None),
        ]
        row = await stores.inspect.campaign(TARGET, "1")
        assert row is not None
        assert (row["version"], row["paused_by"], row["first_seen_at"], row["last_changed_at"]) == (
            2,
            "user",
            at(1),
            at(2),
        )
        assert [e["type"] for e in await stores.inspect.events(campaign_id="1")] == [
            "campaign.discovered",
            "campaign.status_changed",
            "campaign.paused",
        ]


async def test_an_unchanged_campaign_writes_nothing(stores: Backend) -> None:
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [campaign("1")])
        assert await changes(stores.store, at(2), [campaign("1")]) == []
        written = await page(stores.store, held, at(2), [campaign("1")])
        assert written == Written()
        assert len(await stores.inspect.history(TARGET, "1")) == 1
        assert len(await stores.inspect.events()) == 1
        (run,) = await stores.inspect.runs(TARGET)
        assert (run["pages"], run["records"], run["changed"]) == (2, 2, 1)


async def test_a_change_is_applied_only_over_the_version_it_was_computed_from(
    stores: Backend,
) -> None:
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [campaign("1")])
        late = await changes(stores.store, at(2), [campaign("1", Status.PAUSED)])
        await page(stores.store, held, at(3), [campaign("1", Status.COMPLETED)])
        # Computed from version 1, written after version 2: dropped whole.
        async with stores.store.page(held, at(4), observed_at=at(4)) as writer:
            assert await writer.write(late, [], records=1) == Written(dropped=1)
        # A campaign seen as new while it is stored: never overwrites it.
        async with stores.store.page(held, at(5), observed_at=at(5)) as writer:
            new_again = await changes(stores.store, at(5), [campaign("2")])
            await writer.write(new_again, [], records=1)
            assert await writer.write(new_again, [], records=1) == Written(dropped=1)
        history = await stores.inspect.history(TARGET, "1")
        assert [(h["version"], h["status"]) for h in history] == [(1, "running"), (2, "completed")]
        assert len(await stores.inspect.history(TARGET, "2")) == 1
        assert [e["version"] for e in await stores.inspect.events(campaign_id="1")] == [1, 2, 2]


async def test_an_event_already_stored_is_not_inserted_again(stores: Backend) -> None:
    async with cycle(stores.store, at(0)) as held:
        note = DriftNote(field="status", value="archived", campaign_id="1")
        drift = drift_event(TARGET, note, at(1))
        async with stores.store.page(held, at(1)) as writer:
            first = await writer.write([], [], records=0, drift=[drift, drift])
        async with stores.store.page(held, at(2)) as writer:
            again = await writer.write([], [], records=0, drift=[drift_event(TARGET, note, at(2))])
        assert first == Written(events=1, event_types={"provider.schema_drift": 1})
        assert again == Written()
        (stored,) = await stores.inspect.events()
        assert (stored["event_id"], stored["campaign_id"], stored["version"]) == (
            drift.event_id,
            "",
            0,
        )
        assert stored["data"] == {
            "field": "status",
            "value": "archived",
            "example_campaign_id": "1",
        }


async def test_a_page_that_fails_leaves_nothing_behind(stores: Backend) -> None:
    async with cycle(stores.store, at(0)) as held:
        found = await changes(stores.store, at(1), [campaign("1")])

        async def write_then_fail() -> None:
            async with stores.store.page(held, at(1), observed_at=at(1)) as writer:
                await writer.write(found, [], records=1)
                raise RuntimeError("the page failed")

        with pytest.raises(RuntimeError, match="the page failed"):
            await write_then_fail()
        assert await stores.inspect.campaign(TARGET, "1") is None
        assert await stores.inspect.history(TARGET, "1") == []
        assert await stores.inspect.events() == []
        (run,) = await stores.inspect.runs(TARGET)
        assert (run["pages"], run["records"]) == (0, 0)
        target = await stores.inspect.target(TARGET)
        assert target is not None and target["last_observed_at"] is None


async def test_a_page_fetched_before_one_already_written_is_told_it_is_stale(
    stores: Backend,
) -> None:
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(5), [campaign("1")])
        async with stores.store.page(held, at(6), observed_at=at(3)) as writer:
            assert writer.newer_page_at == at(5)
        async with stores.store.page(held, at(7), observed_at=at(5)) as writer:
            assert writer.newer_page_at is None  # the same fetch time is not older
        target = await stores.inspect.target(TARGET)
        assert target is not None and target["last_observed_at"] == at(5)


async def test_listed_again_resets_a_missed_listing_count(stores: Backend) -> None:
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [campaign("1"), campaign("2")])
        async with stores.store.page(held, at(2)) as writer:
            await writer.miss(["1", "2"], listed_at=at(2), misses_to_vanish=3)
        async with stores.store.page(held, at(3)) as writer:
            await writer.write([], [], records=1, listed_again=["1"])
        missed = {
            cid: row["missed_listings"]
            for cid in ("1", "2")
            if (row := await stores.inspect.campaign(TARGET, cid)) is not None
        }
        assert missed == {"1": 0, "2": 1}
