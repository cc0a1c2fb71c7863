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
from worker.domain.records import RejectionKind
from worker.listing import Listing, normalize_entries
from worker.providers.vox_v3 import VoxV3Provider

NOW = datetime(2026, 3, 2, tzinfo=UTC)
SEED = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "vox_v3" / "campaign_seed.json").read_text()
)


def provider() -> VoxV3Provider:
    settings = VoxV3Target(account="acme", base_url="http://vox.test", api_key=SecretStr("k"))
    return VoxV3Provider.from_settings(settings, httpx.AsyncClient(), ManualClock(NOW))


def test_a_page_keeps_its_good_records_and_explains_the_bad_ones() -> None:
    page = [
        {**SEED, "id": "1"},
        {**SEED, "id": "2", "created_at": "yesterday"},
        {**SEED, "id": "3", "status": "archived"},
        {**SEED, "id": "1", "name": "same id again"},
        "not an object",
    ]
    listing = Listing(provider())
    entries, duplicates = listing.take(page)
    result = normalize_entries(provider(), entries, NOW)
    assert [c.campaign_id for c, _ in result.campaigns] == ["1", "3"]
    assert result.campaigns[0][0].name == "<string>"  # the first of two duplicates is kept
    kinds = [(r.kind, r.campaign_id, r.field) for r in [*duplicates, *result.rejections]]
    assert kinds == [
        (RejectionKind.NORMALIZATION, "1", "id"),
        (RejectionKind.NORMALIZATION, "2", "created_at"),
        (RejectionKind.UNKNOWN_STATUS, "3", ""),
        (RejectionKind.NORMALIZATION, None, ""),
    ]
    assert duplicates[0].reason == "id='1': listed twice in one cycle; the first record was kept"
    assert result.rejections[2].reason == "expected an object, got str"
    assert result.rejections[2].raw == {"record": "not an object"}
    assert listing.seen == {"1", "2", "3"}
    assert listing.unidentified == 1  # so this listing vanishes nothing


def test_a_campaign_on_two_pages_of_one_cycle_keeps_its_first_record() -> None:
    listing = Listing(provider())
    first, _ = listing.take([{**SEED, "id": "7", "name": "first"}])
    second, duplicates = listing.take([{**SEED, "id": "7", "name": "second"}, {**SEED, "id": "8"}])
    assert [e.campaign_id for e in first] == ["7"]
    assert [e.campaign_id for e in second] == ["8"]
    (duplicate,) = duplicates
    assert (duplicate.campaign_id, duplicate.raw["name"]) == ("7", "second")
