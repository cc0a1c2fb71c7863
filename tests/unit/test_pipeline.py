"""Page normalization: bad records are set aside with their reason, the rest goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.domain.records import RejectionKind
from worker.pipeline import normalize_page
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
    result = normalize_page(provider(), page, NOW)
    assert [c.campaign_id for c in result.campaigns] == ["1", "3"]
    assert result.campaigns[0].name == "<string>"  # the first of two duplicates is kept
    kinds = [(r.kind, r.campaign_id, r.field) for r in result.rejections]
    assert kinds == [
        (RejectionKind.NORMALIZATION, "2", "created_at"),
        (RejectionKind.UNKNOWN_STATUS, "3", ""),
        (RejectionKind.NORMALIZATION, "1", "id"),
        (RejectionKind.NORMALIZATION, None, ""),
    ]
    assert (
        result.rejections[2].reason
        == "id='1': appears twice in one page; the first record was kept"
    )
    assert result.rejections[3].reason == "expected an object, got str"
    assert result.rejections[3].raw == {"record": "not an object"}
