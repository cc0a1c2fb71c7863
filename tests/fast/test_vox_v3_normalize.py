"""vox v3 normalization over the seed payloads (seed pages 000 and 002), field for field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.dialects.vox import VOX_STATUS, VoxV3Dialect
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.errors import NormalizationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vox_v3"
OBSERVED = datetime(2026, 3, 2, tzinfo=UTC)
EPOCH_123 = datetime(1970, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def provider() -> VoxV3Dialect:
    return VoxV3Dialect(account="acme")


def test_seed_campaign_object_normalizes_field_for_field(provider: VoxV3Dialect) -> None:
    raw = fixture("campaign_seed.json")
    assert provider.normalize(raw, observed_at=OBSERVED) == Campaign(
        provider="vox_v3",
        account="acme",
        campaign_id="<string>",
        name="<string>",
        status=Status.DRAFT,
        status_raw="draft",
        paused_by=PausedBy.USER,
        counters=Counters(
            total_calls=123,
            completed_calls=123,
            failed_calls=123,
            active_calls=123,
            concurrency=123,
        ),
        created_at=EPOCH_123,
        scheduled_start_at=EPOCH_123,
        paused_at=EPOCH_123,
        finished_at=EPOCH_123,
        call_window=CallWindow(
            timezone="Asia/Seoul",
            ranges=(WindowRange(days=(Weekday.MONDAY,), start_min=1, end_min=123),),
            auto_resume=True,
        ),
        raw=raw,
    )


def test_realistic_list_item(provider: VoxV3Dialect) -> None:
    (raw,) = fixture("list_page.json")["items"]
    campaign = provider.normalize(raw, observed_at=OBSERVED)
    assert campaign.campaign_id == "1001"
    assert campaign.name == "고객 설문 캠페인"
    assert (campaign.status, campaign.paused_by) == (Status.PAUSED, PausedBy.SYSTEM)
    assert campaign.created_at == datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    assert campaign.scheduled_start_at == datetime(2024, 1, 16, 9, 0, tzinfo=UTC)
    assert campaign.paused_at == datetime(2024, 1, 16, 13, 0, tzinfo=UTC)
    assert campaign.finished_at is None
    assert campaign.counters.active_calls == 0
    assert campaign.raw["presentation_number"] is None


@pytest.mark.parametrize(
    ("raw_status", "status"),
    [
        ("draft", Status.DRAFT),
        ("pending", Status.SCHEDULED),
        ("ongoing", Status.RUNNING),
        ("paused", Status.PAUSED),
        ("success", Status.COMPLETED),
        ("fail", Status.FAILED),
        ("canceled", Status.CANCELED),
        ("cancelled", Status.UNKNOWN),  # vox spells it with one "l"; anything else is unknown
        ("archived", Status.UNKNOWN),
    ],
)
def test_status_table(provider: VoxV3Dialect, raw_status: str, status: Status) -> None:
    raw = {**fixture("campaign_seed.json"), "status": raw_status}
    campaign = provider.normalize(raw, observed_at=OBSERVED)
    assert (campaign.status, campaign.status_raw) == (status, raw_status)
    assert VoxV3Dialect.status_table is VOX_STATUS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"created_at": "2024-01-15T10:00:00Z"},
            "created_at='2024-01-15T10:00:00Z': expected integer unix milliseconds, got str",
        ),
        ({"scheduled_at": -5}, "scheduled_at=-5: out of range"),
        ({"id": None}, "id=None: required"),
        ({"status": 3}, "status=3: expected string, got int"),
        ({"total_calls": "123"}, "total_calls='123': expected integer, got str"),
    ],
)
def test_bad_fields_name_the_field_and_value(
    provider: VoxV3Dialect, change: dict[str, Any], message: str
) -> None:
    raw = {**fixture("campaign_seed.json"), **change}
    with pytest.raises(NormalizationError) as info:
        provider.normalize(raw, observed_at=OBSERVED)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ({"paused_by": "admin"}, "paused_by: 'admin' is not one of user, system; stored as null"),
        ({"failed_calls": -1}, "failed_calls: -1 is negative; stored as null"),
        (
            {"completed_calls": 2**63},
            "completed_calls: 9223372036854775808 is past 64 bits; stored as null",
        ),
    ],
)
def test_fields_that_are_not_identity_degrade_to_null_with_a_note(
    provider: VoxV3Dialect, change: dict[str, Any], note: str
) -> None:
    raw = {**fixture("campaign_seed.json"), **change}
    campaign = provider.normalize(raw, observed_at=OBSERVED)
    assert campaign.degraded == (note,)
    (name,) = change
    field = {"paused_by": "paused_by"}.get(name, name)
    value = campaign.paused_by if field == "paused_by" else getattr(campaign.counters, field)
    assert value is None
    assert campaign.raw[name] == change[name]  # the provider's value stays in the raw record


def test_missing_id_is_reported(provider: VoxV3Dialect) -> None:
    raw = {k: v for k, v in fixture("campaign_seed.json").items() if k != "id"}
    with pytest.raises(NormalizationError, match=r"^id=<missing>: required$"):
        provider.normalize(raw, observed_at=OBSERVED)


def test_nullable_fields_may_be_null_or_absent(provider: VoxV3Dialect) -> None:
    raw = {
        **fixture("campaign_seed.json"),
        "paused_at": None,
        "paused_by": None,
        "finished_at": None,
    }
    del raw["call_time_window"]
    campaign = provider.normalize(raw, observed_at=OBSERVED)
    assert (campaign.paused_at, campaign.paused_by, campaign.finished_at, campaign.call_window) == (
        None,
    ) * 4
