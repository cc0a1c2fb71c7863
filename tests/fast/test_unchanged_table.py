"""The digest table a replica keeps of a target's listing: what it answers from one cycle
to the next, what it forgets, its bound, and what it costs per campaign."""

from __future__ import annotations

import hashlib
import tracemalloc

import orjson

from tests.fast.planning import vox
from tests.fast.test_planner import VOX
from worker.domain.campaign import record_fingerprint
from worker.sync.digests import DigestTable, digest_of
from worker.sync.listing import Listing


def test_a_digest_is_the_first_64_bits_of_the_record_fingerprint() -> None:
    record = vox("1")
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    head = int.from_bytes(hashlib.sha256(canonical).digest()[:8], "big")
    assert digest_of(record_fingerprint(record)) == head
    assert digest_of(record_fingerprint(record)[:16]) == head  # what list_digests gives
    assert digest_of("0" * 64) == 1  # 0 means "no digest known"


def test_a_confirmed_digest_answers_in_the_next_cycle_only() -> None:
    table = DigestTable(max_entries=100)
    assert table.see("a")
    assert table.matches("a", 7) < 0  # listed, but the store has not confirmed it
    table.confirm("a", 7)
    assert table.matches("a", 7) < 0  # this cycle listed it already
    table.begin_cycle()
    assert "a" not in table
    assert table.matches("a", 8) < 0  # another record
    slot = table.matches("a", 7)
    assert slot >= 0
    table.keep(slot)
    assert "a" in table and table.listed == 1
    assert not table.see("a")  # listed twice in one cycle
    table.begin_cycle()
    assert table.matches("a", 7) >= 0  # kept: still the confirmed digest


def test_a_campaign_not_listed_for_a_cycle_is_forgotten() -> None:
    table = DigestTable(max_entries=100)
    for cid in ("a", "b"):
        table.see(cid)
        table.confirm(cid, 5)
    table.begin_cycle()
    table.keep(table.matches("a", 5))  # "b" missed this listing: the store counts a miss
    table.begin_cycle()
    assert table.matches("a", 5) >= 0
    assert table.matches("b", 5) < 0  # read again, so its missed listing is reset
    assert table.see("b") and "b" in table


def test_a_record_read_again_forgets_its_digest_until_confirmed() -> None:
    table = DigestTable(max_entries=100)
    table.see("a")
    table.confirm("a", 5)
    table.begin_cycle()
    table.see("a")  # its record changed: read, and its write failed or was refused
    table.begin_cycle()
    assert table.matches("a", 5) < 0


def test_confirming_what_this_cycle_did_not_list_is_ignored() -> None:
    table = DigestTable(max_entries=100)
    table.confirm("ghost", 5)
    table.begin_cycle()
    assert table.matches("ghost", 5) < 0 and len(table) == 0


def test_loaded_digests_answer_in_the_cycle_that_loads_them() -> None:
    table = DigestTable(max_entries=100)
    table.load("a", 5)
    assert table.matches("a", 5) >= 0 and "a" not in table
    table.load("a", 6)  # loaded again: the last one counts
    assert table.matches("a", 5) < 0 and table.matches("a", 6) >= 0


def test_past_its_bound_the_table_still_lists_but_never_skips() -> None:
    table = DigestTable(max_entries=2)
    for cid in ("a", "b", "c", "d"):
        assert table.see(cid)
        table.confirm(cid, 9)
    assert not table.see("d")  # a repeat is still caught past the bound
    assert all(cid in table for cid in "abcd") and table.listed == 4 and len(table) == 2
    table.begin_cycle()
    assert table.matches("a", 9) >= 0 and table.matches("d", 9) < 0
    assert "d" not in table  # the overflow is this cycle's only


def test_a_table_of_nothing_remembers_nothing() -> None:
    table = DigestTable(max_entries=0)
    table.load("a", 5)
    assert table.see("a") and not table.see("a")
    table.begin_cycle()
    assert table.matches("a", 5) < 0


def test_many_campaigns_grow_the_table_and_dead_ones_are_compacted_away() -> None:
    table = DigestTable(max_entries=1_000_000)
    ids = [f"campaign-{n}" for n in range(20_000)]
    for n, cid in enumerate(ids):
        table.see(cid)
        table.confirm(cid, n + 1)
    table.begin_cycle()
    assert all(table.matches(cid, n + 1) >= 0 for n, cid in enumerate(ids))
    for n, cid in enumerate(ids[:5_000]):  # three quarters of the fleet went away
        table.keep(table.matches(cid, n + 1))
    grown = table.nbytes
    table.begin_cycle()
    assert table.nbytes < grown and len(table) == 5_000
    assert all(table.matches(cid, n + 1) >= 0 for n, cid in enumerate(ids[:5_000]))
    assert all(table.matches(cid, n + 1) < 0 for n, cid in enumerate(ids[5_000:], 5_000))


def test_a_remembered_campaign_costs_about_23_to_34_bytes() -> None:
    ids = [f"campaign-{n:08d}" for n in range(30_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        table = DigestTable(max_entries=2_000_000)
        for n, cid in enumerate(ids):
            table.load(cid, n + 1)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert table.matches(ids[-1], len(ids)) >= 0
    assert held / len(ids) <= 36, held / len(ids)  # 17 bytes a slot, half to 3/4 full


def test_a_listing_skips_a_record_its_table_knows_and_reads_one_that_changed() -> None:
    table = DigestTable(max_entries=100)
    first = Listing(VOX, seen=table)
    entries, _ = first.take([vox("1"), vox("2")])
    for entry in entries:
        assert entry.campaign_id is not None and entry.fingerprint is not None
        table.confirm(entry.campaign_id, digest_of(entry.fingerprint))
    table.begin_cycle()
    second = Listing(VOX, seen=table)
    entries, rejections = second.take([vox("1"), vox("2", name="renamed"), vox("1")])
    assert [e.campaign_id for e in entries] == ["2"] and second.skipped == 1
    (repeat,) = rejections  # a skipped campaign counts as listed
    assert repeat.campaign_id == "1"
    assert entries[0].fingerprint == record_fingerprint(vox("2", name="renamed"))


def test_a_record_that_holds_a_secret_is_never_skipped_and_always_scrubbed() -> None:
    secret = "sk-live-0123456789"
    table = DigestTable(max_entries=100)
    echoed = vox("1", name=f"key {secret}")
    table.load("1", digest_of(record_fingerprint(echoed)))  # even a digest of it
    listing = Listing(VOX, (secret,), seen=table)
    (entry,), _ = listing.take([echoed])
    assert listing.skipped == 0 and secret not in orjson.dumps(entry.raw).decode()


def test_a_full_refresh_listing_skips_nothing() -> None:
    table = DigestTable(max_entries=100)
    table.load("1", digest_of(record_fingerprint(vox("1"))))
    listing = Listing(VOX, seen=table, skip=False)
    entries, _ = listing.take([vox("1")])
    assert [e.campaign_id for e in entries] == ["1"] and listing.skipped == 0


def test_a_skipped_record_is_known_by_its_id_as_record_id_reads_it() -> None:
    padded, numeric, flag = vox(" 7 "), vox("x", id=8), vox("x", id=True)
    table = DigestTable(max_entries=100)
    for cid, record in (("7", padded), ("8", numeric), ("True", flag)):
        table.load(cid, digest_of(record_fingerprint(record)))
    listing = Listing(VOX, seen=table)
    entries, _ = listing.take([padded, numeric, flag])
    assert listing.skipped == 2 and "7" in listing.seen and "8" in listing.seen
    assert [e.campaign_id for e in entries] == [None]  # a boolean is no id: read, rejected
