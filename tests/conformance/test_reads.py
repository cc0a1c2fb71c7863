"""What a cycle reads, on both stores: the heads of a page's campaigns (and which are known
unchanged from their list item alone), their stored versions in full, the stored ids in keyset
order (with their list items' digests), and the schema-drift values already reported."""

from __future__ import annotations

from dataclasses import replace

from tests.conformance.backends import Backend
from tests.conformance.values import OTHER, TARGET, at, campaign, changes, cycle, page
from worker.domain.campaign import Status
from worker.domain.diff import clocked_list_hash
from worker.domain.drift import OVERFLOW, DriftNote, drift_event


async def test_heads_tell_new_from_stored_and_unchanged_list_items(stores: Backend) -> None:
    async with cycle(stores.store, at(0)) as held:
        found = await changes(stores.store, at(1), [campaign(cid) for cid in ("1", "2", "3")])
        # Stored with the fingerprints of their list items: "1" as h1, "2" as h2, "3" none.
        listed = [replace(c, list_hash=h) for c, h in zip(found, ("h1", "h2", None), strict=True)]
        async with stores.store.page(held, at(1), observed_at=at(1)) as writer:
            await writer.write(listed, [], records=3)
        async with stores.store.page(held, at(2)) as writer:
            await writer.miss(["2"], listed_at=at(2), misses_to_vanish=5)
    store = stores.store
    plain = await store.heads(TARGET, ["1", "9"])
    assert (set(plain.heads), plain.unchanged, "9" in plain) == ({"1"}, frozenset(), False)
    head = plain.heads["1"]
    assert (head.version, head.status, head.observed_at, head.list_hash) == (
        1,
        Status.RUNNING,
        at(1),
        "h1",
    )
    assert head.content_hash == campaign("1").fingerprint()
    hashed = await store.heads(TARGET, ["1", "2", "3", "9"], list_hashes=["h1", "h2", "h3", "h9"])
    # "2" has the same list item but missed a listing since: it is read again.
    assert (hashed.unchanged, set(hashed.heads)) == (frozenset({"1"}), {"2", "3"})
    assert "1" in hashed and "9" not in hashed
    moved = await store.heads(TARGET, ["1"], list_hashes=["h1-moved"])
    assert (set(moved.heads), moved.unchanged) == ({"1"}, frozenset())
    assert (await store.heads(OTHER, ["1"])).heads == {}
    assert (await store.heads(TARGET, [])).heads == {}


async def test_load_gives_the_stored_version_in_full(stores: Backend) -> None:
    paused = campaign("1", Status.PAUSED, name="the one")
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [paused])
    states = await stores.store.load(TARGET, ["1", "2"])
    assert set(states) == {"1"}
    state = states["1"]
    assert (state.version, state.head.status, state.head.observed_at) == (1, Status.PAUSED, at(1))
    assert state.campaign.snapshot() == paused.snapshot()
    assert dict(state.campaign.raw) == dict(paused.raw)
    assert await stores.store.load(TARGET, []) == {}


async def test_listed_ids_page_through_the_stored_campaigns_not_vanished(
    stores: Backend,
) -> None:
    async with cycle(stores.store, at(0)) as held:
        async with stores.store.page(held, at(1), observed_at=at(1)) as writer:
            fleet = [campaign(cid) for cid in ("10", "11", "12", "13", "14")]
            await writer.write(await changes(stores.store, at(1), fleet), [], records=5)
        async with stores.store.page(held, at(2)) as writer:
            await writer.miss(["12"], listed_at=at(2), misses_to_vanish=1)
    read = stores.store.listed_ids
    assert list(await read(TARGET, after="", limit=2)) == ["10", "11"]
    assert list(await read(TARGET, after="11", limit=2)) == ["13", "14"]
    assert list(await read(TARGET, after="14", limit=2)) == []
    assert list(await read(OTHER, after="", limit=10)) == []
    assert await stores.store.count_live(TARGET) == 4  # "12" vanished
    assert await stores.store.count_live(OTHER) == 0


async def test_list_digests_page_through_what_heads_would_answer_unchanged(
    stores: Backend,
) -> None:
    hashes = {"1": "a" * 64, "2": "b" * 64, "3": None, "4": "d" * 64, "5": "e" * 64}
    async with cycle(stores.store, at(0)) as held:
        found = await changes(stores.store, at(1), [campaign(cid) for cid in hashes])
        listed = [replace(c, list_hash=hashes[c.campaign.campaign_id]) for c in found]
        async with stores.store.page(held, at(1), observed_at=at(1)) as writer:
            await writer.write(listed, [], records=len(listed))
        async with stores.store.page(held, at(2)) as writer:  # "2" missed once, "4" vanished
            await writer.miss(["2"], listed_at=at(2), misses_to_vanish=5)
            await writer.miss(["4"], listed_at=at(2), misses_to_vanish=1)
    read = stores.store.list_digests
    # "2" missed a listing, "3" has no list hash, "4" vanished: heads reads each again.
    assert list(await read(TARGET, after="", limit=1)) == [("1", "a" * 16)]
    assert list(await read(TARGET, after="1", limit=5)) == [("5", "e" * 16)]
    assert list(await read(TARGET, after="5", limit=5)) == []
    assert list(await read(OTHER, after="", limit=5)) == []
    wanted = await stores.store.heads(TARGET, list(hashes), list_hashes=list(hashes.values()))
    assert wanted.unchanged == {cid for cid, _ in await read(TARGET, after="", limit=9)}


async def test_known_drift_reads_the_reported_values_back(stores: Backend) -> None:
    notes = [
        DriftNote(field="status", value="archived", campaign_id="1"),
        DriftNote(field="status", value=OVERFLOW, campaign_id=""),
        DriftNote(field="<key>", value="surprise", campaign_id="2"),
    ]
    async with cycle(stores.store, at(0)) as held, stores.store.page(held, at(1)) as writer:
        await writer.write([], [], records=0, drift=[drift_event(TARGET, n, at(1)) for n in notes])
    assert await stores.store.known_drift(TARGET) == {
        "status": frozenset({"archived", OVERFLOW}),
        "<key>": frozenset({"surprise"}),
    }
    assert await stores.store.known_drift(OTHER) == {}


async def test_a_derived_status_is_mixed_into_its_listed_digest(stores: Backend) -> None:
    """A status read against the clock (VOXO's READY) comes back mixed with the stored
    status, as the listing mixes the status it reads now (``clocked_list_hash``)."""
    ready = replace(campaign("7", Status.SCHEDULED), status_derived=True)
    async with cycle(stores.store, at(0)) as held:
        found = await changes(stores.store, at(1), [ready, campaign("8")])
        listed = [replace(c, list_hash=h) for c, h in zip(found, ("7" * 64, "8" * 64), strict=True)]
        async with stores.store.page(held, at(1), observed_at=at(1)) as writer:
            await writer.write(listed, [], records=2)
    mixed = clocked_list_hash("7" * 64, Status.SCHEDULED)[:16]
    assert mixed != "7" * 16 and mixed != clocked_list_hash("7" * 64, Status.RUNNING)[:16]
    assert list(await stores.store.list_digests(TARGET, after="", limit=5)) == [
        ("7", mixed),
        ("8", "8" * 16),
    ]
