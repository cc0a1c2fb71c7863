"""Reading a listing: bad records are set aside with their reason, the rest goes on, and a
campaign listed twice in one cycle keeps its first record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.domain.campaign import record_fingerprint
from worker.domain.records import RejectionKind
from worker.ports import Provider
from worker.runtime.targets import provider_for
from worker.sync.listing import Listing

NOW = datetime(2026, 3, 2, tzinfo=UTC)
SEED = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "vox_v3" / "campaign_seed.json").read_text()
)


def provider() -> Provider:
    settings = VoxV3Target(account="acme", base_url="http://vox.test", api_key=SecretStr("k"))
    return provider_for(settings, httpx.AsyncClient(), ManualClock(NOW))


def test_a_listing_reads_ids_and_fingerprints_and_sets_aside_repeats() -> None:
    page = [
        {**SEED, "id": "1"},
        {**SEED, "id": "2", "created_at": "yesterday"},
        {**SEED, "id": "1", "name": "same id again"},
        {**SEED, "id": "bad\u0000id"},
        "not an object",
    ]
    listing = Listing(provider())
    entries, rejections = listing.take(page)
    assert [e.campaign_id for e in entries] == ["1", "2", None]
    assert entries[0].fingerprint == record_fingerprint(page[0])
    assert entries[2].fingerprint is None  # not an object: normalize will reject it
    kinds = [(r.kind, r.campaign_id, r.field) for r in rejections]
    assert kinds == [
        (RejectionKind.NORMALIZATION, "1", "id"),
        (RejectionKind.UNSTORABLE, None, "id"),
    ]
    assert rejections[0].reason == "id='1': listed twice in one cycle; the first record was kept"
    assert rejections[1].reason == "id: string contains a NUL character"
    assert listing.seen == {"1", "2"}
    assert listing.unidentified == 2  # so this listing vanishes nothing


def test_a_campaign_on_two_pages_of_one_cycle_keeps_its_first_record() -> None:
    listing = Listing(provider())
    first, _ = listing.take([{**SEED, "id": "7", "name": "first"}])
    second, duplicates = listing.take([{**SEED, "id": "7", "name": "second"}, {**SEED, "id": "8"}])
    assert [e.campaign_id for e in first] == ["7"]
    assert [e.campaign_id for e in second] == ["8"]
    (duplicate,) = duplicates
    assert (duplicate.campaign_id, duplicate.raw["name"]) == ("7", "second")
