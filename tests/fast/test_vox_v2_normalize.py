"""vox v2 normalization over the documented payloads (tests/fixtures/vox_v2).

Fixtures:
* ``list_response.json``: the ``POST /v2/campaigns/list`` sample of docs/providers.md 2.2,
  field for field; the shortened values there ("…", "550e…") are the full ones of seed 001.
* ``create_response.json``: seed 001's create response sample, verbatim.
* ``create_request.json``: seed 001's create request sample, verbatim.
* ``schema_campaign.json``: every field of seed 001's response schema, including
  the ones no v2 sample shows (``paused_at``, ``paused_by``, ``call_time_window``)
  and an integer ``agent_version`` as the schema types it; the window is the
  request sample's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.dialects.vox import VOX_STATUS, VoxV2Dialect
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.errors import NormalizationError, TimestampError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vox_v2"
OBSERVED = datetime(2026, 3, 2, tzinfo=UTC)
DIALECT = VoxV2Dialect(account="acme")
WEEKDAYS = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY)
SEED_WINDOW = CallWindow(
    timezone="Asia/Seoul",
    ranges=(
        WindowRange(days=WEEKDAYS, start_min=540, end_min=720),
        WindowRange(days=WEEKDAYS[:3], start_min=780, end_min=1200),
    ),
    auto_resume=True,
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def normalize(raw: dict[str, Any]) -> Campaign:
    return DIALECT.normalize(raw, observed_at=OBSERVED)


def listed() -> dict[str, Any]:
    record: dict[str, Any] = load("list_response.json")["campaigns"][0]
    return record


def test_list_sample_normalizes_field_for_field() -> None:
    raw = listed()
    assert normalize(raw) == Campaign(
        provider="vox_v2",
        account="acme",
        campaign_id="123",
        name="고객 설문 캠페인",
        status=Status.RUNNING,
        status_raw="ongoing",
        status_derived=False,
        paused_by=None,
        counters=Counters(
            total_calls=200, completed_calls=180, failed_calls=20, active_calls=8, concurrency=10
        ),
        created_at=datetime(2024, 1, 15, 10, tzinfo=UTC),
        scheduled_start_at=datetime(2024, 1, 16, 9, tzinfo=UTC),
        scheduled_end_at=None,
        paused_at=None,
        finished_at=None,
        provider_updated_at=None,
        last_run_at=None,
        call_window=None,
        time_flags=(),
        raw=raw,
    )


def test_create_response_sample_normalizes_field_for_field() -> None:
    raw = load("create_response.json")
    assert normalize(raw) == Campaign(
        provider="vox_v2",
        account="acme",
        campaign_id="123",
        name="고객 설문 캠페인",
        status=Status.SCHEDULED,
        status_raw="pending",
        counters=Counters(
            total_calls=2, completed_calls=0, failed_calls=0, active_calls=0, concurrency=5
        ),
        created_at=datetime(2024, 1, 15, 10, tzinfo=UTC),
        raw=raw,
    )


def test_every_schema_field_normalizes() -> None:
    raw = load("schema_campaign.json")
    assert normalize(raw) == Campaign(
        provider="vox_v2",
        account="acme",
        campaign_id="124",
        name="고객 설문 캠페인",
        status=Status.PAUSED,
        status_raw="paused",
        paused_by=PausedBy.SYSTEM,
        counters=Counters(
            total_calls=2, completed_calls=1, failed_calls=0, active_calls=0, concurrency=5
        ),
        created_at=datetime(2024, 1, 15, 10, tzinfo=UTC),
        scheduled_start_at=datetime(2024, 1, 16, 0, tzinfo=UTC),
        paused_at=datetime(2024, 1, 16, 3, tzinfo=UTC),
        call_window=SEED_WINDOW,
        raw=raw,
    )


def test_the_raw_record_is_kept_whole_including_organization_and_agent() -> None:
    campaign = normalize(load("schema_campaign.json"))
    assert campaign.raw["organization_id"] == "550e8400-e29b-41d4-a716-446655440001"
    assert campaign.raw["agent_id"] == "550e8400-e29b-41d4-a716-446655440000"
    assert campaign.raw["agent_version"] == 3


@pytest.mark.parametrize("version", ["production", "current", "v2", 3, 0, None])
def test_agent_version_is_a_string_or_an_integer(version: object) -> None:
    campaign = normalize({**listed(), "agent_version": version})
    assert campaign.raw["agent_version"] == version
    assert campaign.status is Status.RUNNING


def test_absent_agent_version_organization_and_pause_fields_read_as_none() -> None:
    raw = {**load("schema_campaign.json"), "status": "ongoing"}
    for name in ("agent_version", "organization_id", "paused_at", "paused_by", "call_time_window"):
        del raw[name]
    campaign = normalize(raw)
    assert (campaign.paused_at, campaign.paused_by, campaign.call_window) == (None, None, None)


def test_null_pause_fields_read_as_none() -> None:
    raw = {**listed(), "paused_at": None, "paused_by": None, "call_time_window": None}
    campaign = normalize(raw)
    assert (campaign.paused_at, campaign.paused_by, campaign.call_window) == (None, None, None)


def test_user_pause_and_finish_times_are_read() -> None:
    raw = {
        **listed(),
        "status": "success",
        "paused_at": "2024-01-16T10:30:00.250Z",
        "paused_by": "user",
        "finished_at": "2024-01-16T12:00:00+09:00",
    }
    campaign = normalize(raw)
    assert campaign.paused_by is PausedBy.USER
    assert campaign.paused_at == datetime(2024, 1, 16, 10, 30, 0, 250_000, tzinfo=UTC)
    assert campaign.finished_at == datetime(2024, 1, 16, 3, tzinfo=UTC)
    assert campaign.status is Status.COMPLETED


@pytest.mark.parametrize(
    ("change", "message", "error"),
    [
        ({"agent_version": True}, "agent_version=True: expected string or integer, got bool", None),
        ({"agent_version": 1.5}, "agent_version=1.5: expected string or integer, got float", None),
        ({"agent_version": {"v": 1}}, "agent_version={'v': 1}: expected string or integer", None),
        ({"organization_id": 42}, "organization_id=42: expected string, got int", None),
        ({"agent_id": ["a"]}, "agent_id=['a']: expected string, got list", None),
        (
            {"created_at": 1705312800000},
            "created_at=1705312800000: expected ISO-8601 string, got int",
            TimestampError,
        ),
        (
            {"scheduled_at": "2024-01-16T09:00:00"},
            "scheduled_at='2024-01-16T09:00:00': no UTC offset",
            TimestampError,
        ),
        ({"finished_at": "yesterday"}, "finished_at='yesterday': not an ISO-8601", TimestampError),
        (
            {"paused_at": "2024-02-30T00:00:00Z"},
            "paused_at='2024-02-30T00:00:00Z': not a valid",
            None,
        ),
        ({"total_calls": "200"}, "total_calls='200': expected integer, got str", None),
        (
            {"active_concurrency": None, "concurrency": True},
            "concurrency=True: expected integer",
            None,
        ),
        ({"status": 3}, "status=3: expected string, got int", None),
        ({"id": ""}, "id='': empty id", None),
        (
            {"call_time_window": {"timezone": "Asia/Seoul", "windows": [{"days": ["Mon"]}]}},
            "call_time_window.windows[0].start_min=<missing>",
            None,
        ),
        (
            {"call_time_window": {"timezone": "Mars/Olympus", "windows": []}},
            "call_time_window.timezone='Mars/Olympus': unknown IANA zone",
            TimestampError,
        ),
    ],
)
def test_bad_fields_are_rejected_naming_field_and_value(
    change: dict[str, Any], message: str, error: type[Exception] | None
) -> None:
    with pytest.raises(error or NormalizationError) as info:
        normalize({**listed(), **change})
    assert str(info.value).startswith(message)
    assert info.value.field == str(info.value).split("=", 1)[0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["id", "status"])
def test_id_and_status_are_required(name: str) -> None:
    raw = {k: v for k, v in listed().items() if k != name}
    with pytest.raises(NormalizationError, match=rf"^{name}=<missing>: required$"):
        normalize(raw)


def test_a_record_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(NormalizationError, match="expected an object, got list"):
        normalize([listed()])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("draft", Status.DRAFT),
        ("pending", Status.SCHEDULED),
        ("ongoing", Status.RUNNING),
        ("paused", Status.PAUSED),
        ("success", Status.COMPLETED),
        ("fail", Status.FAILED),
        ("canceled", Status.CANCELED),
    ],
)
def test_status_table(raw: str, status: Status) -> None:
    assert VoxV2Dialect.status_table[raw] is status
    campaign = normalize({**listed(), "status": raw})
    assert (campaign.status, campaign.status_raw) == (status, raw)


def test_status_table_is_vox_table_and_read_only() -> None:
    assert VoxV2Dialect.status_table is VOX_STATUS
    assert len(VoxV2Dialect.status_table) == 7
    with pytest.raises(TypeError):
        VoxV2Dialect.status_table["archived"] = Status.CANCELED  # type: ignore[index]


@pytest.mark.parametrize("raw", ["archived", "cancelled", "ONGOING", ""])
def test_unknown_status_is_kept_raw_not_an_error(raw: str) -> None:
    campaign = normalize({**listed(), "status": raw})
    assert (campaign.status, campaign.status_raw) == (Status.UNKNOWN, raw)


def test_integer_ids_are_read_as_strings() -> None:
    assert normalize({**listed(), "id": 123}).campaign_id == "123"
