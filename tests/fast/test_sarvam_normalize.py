"""Sarvam normalization over the documented payloads (docs/providers.md 4.2-4.5, seed 004)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker.domain.campaign import Campaign, Counters, Status
from worker.domain.dialects.sarvam import SARVAM_STATUS, SarvamDialect
from worker.domain.windows import EVERY_DAY, CallWindow, Weekday, WindowRange
from worker.errors import NormalizationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sarvam"
OBSERVED = datetime(2026, 3, 30, tzinfo=UTC)
MARCH_28 = datetime(2026, 3, 28, 10, 0, tzinfo=UTC)
SAMPLE_TIME = datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC)
WEEKDAYS = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def provider() -> SarvamDialect:
    return SarvamDialect(account="acme")


def normalize(provider: SarvamDialect, raw: dict[str, Any]) -> Campaign:
    return provider.normalize(raw, observed_at=OBSERVED)


def test_list_sample_normalizes_field_for_field(provider: SarvamDialect) -> None:
    raw = fixture("list_page.json")["items"][0]
    assert normalize(provider, raw) == Campaign(
        provider="sarvam",
        account="acme",
        campaign_id="camp-a1b2c3d4",
        name="Q1 Payment Reminders",
        status=Status.SCHEDULED,
        status_raw="scheduled",
        status_derived=False,
        paused_by=None,
        counters=Counters(),
        created_at=MARCH_28,
        scheduled_start_at=None,
        scheduled_end_at=None,
        paused_at=None,
        finished_at=None,
        provider_updated_at=MARCH_28,
        last_run_at=None,
        call_window=None,
        time_flags=(),
        raw=raw,
    )


def test_update_response_sample_normalizes_field_for_field(provider: SarvamDialect) -> None:
    raw = fixture("update_campaign_response.json")
    assert normalize(provider, raw) == Campaign(
        provider="sarvam",
        account="acme",
        campaign_id="<string>",
        name="<string>",
        status=Status.COMPLETED,
        status_raw="ended",
        created_at=SAMPLE_TIME,
        provider_updated_at=SAMPLE_TIME,
        raw=raw,
    )


def test_detail_record_normalizes_field_for_field(provider: SarvamDialect) -> None:
    raw = fixture("detail_q1_payment_reminders.json")
    assert normalize(provider, raw) == Campaign(
        provider="sarvam",
        account="acme",
        campaign_id="camp-a1b2c3d4",
        name="Q1 Payment Reminders",
        status=Status.SCHEDULED,
        status_raw="scheduled",
        paused_by=None,
        counters=Counters(),
        created_at=MARCH_28,
        scheduled_start_at=datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
        scheduled_end_at=datetime(2026, 4, 15, 18, 0, tzinfo=UTC),
        finished_at=None,
        provider_updated_at=MARCH_28,
        call_window=CallWindow(
            timezone="Asia/Kolkata",
            ranges=(WindowRange(days=WEEKDAYS, start_min=9 * 60, end_min=18 * 60),),
            auto_resume=None,
        ),
        raw=raw,
    )


def test_documented_get_sample_is_rejected_at_its_placeholder_time(
    provider: SarvamDialect,
) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize(provider, fixture("get_campaign_sample.json"))
    assert info.value.field == "allowed_schedule.allowed_start_time"
    assert str(info.value) == "allowed_schedule.allowed_start_time='<string>': expected 'HH:MM'"


def test_counters_are_all_unknown(provider: SarvamDialect) -> None:
    campaign = normalize(provider, fixture("detail_q1_payment_reminders.json"))
    assert campaign.counters.to_json() == dict.fromkeys(campaign.counters.to_json())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-28T10:00:00Z", MARCH_28),
        ("2026-03-28T15:30:00+05:30", MARCH_28),
        ("2026-03-28T10:00:00.123456Z", MARCH_28.replace(microsecond=123_456)),
        ("2026-03-28T05:00:00.5-05:00", MARCH_28.replace(microsecond=500_000)),
        ("2026-03-28T10:00:00+0000", MARCH_28),
    ],
)
def test_iso_times_accept_z_offsets_and_fractions(
    provider: SarvamDialect, text: str, expected: datetime
) -> None:
    raw = {
        **fixture("detail_q1_payment_reminders.json"),
        "created_at": text,
        "updated_at": text,
        "start_timestamp": text,
        "end_timestamp": text,
    }
    campaign = normalize(provider, raw)
    for value in (
        campaign.created_at,
        campaign.provider_updated_at,
        campaign.scheduled_start_at,
        campaign.scheduled_end_at,
    ):
        assert value == expected
        assert value is not None and value.tzinfo is UTC


def test_schedule_timezone_defaults_to_kolkata_and_days_to_every_day(
    provider: SarvamDialect,
) -> None:
    raw = fixture("detail_q1_payment_reminders.json")
    raw["allowed_schedule"] = {"allowed_start_time": "22:00", "allowed_end_time": "06:00"}
    window = normalize(provider, raw).call_window
    assert window == CallWindow(
        timezone="Asia/Kolkata",
        ranges=(WindowRange(days=EVERY_DAY, start_min=22 * 60, end_min=6 * 60),),
    )
    assert window is not None and window.ranges[0].crosses_midnight
    raw["allowed_schedule"] = {**raw["allowed_schedule"], "timezone": None}
    assert normalize(provider, raw).call_window == window


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"created_at": "28/03/2026 10:00"},
            "created_at",
            "created_at='28/03/2026 10:00': not an ISO-8601 date-time",
        ),
        (
            {"updated_at": "2026-03-28T10:00:00"},
            "updated_at",
            "updated_at='2026-03-28T10:00:00': no UTC offset; naive times need a declared zone",
        ),
        (
            {"start_timestamp": 1774692000},
            "start_timestamp",
            "start_timestamp=1774692000: expected ISO-8601 string, got int",
        ),
        ({"campaign_id": None}, "campaign_id", "campaign_id=None: required"),
        ({"campaign_id": ""}, "campaign_id", "campaign_id='': empty id"),
        ({"status": None}, "status", "status=None: required"),
        ({"status": 3}, "status", "status=3: expected string, got int"),
        ({"app_version": "two"}, "app_version", "app_version='two': expected integer, got str"),
        ({"name": ["x"]}, "name", "name=['x']: expected string, got list"),
        (
            {"allowed_schedule": "09:00-18:00"},
            "allowed_schedule",
            "allowed_schedule='09:00-18:00': expected object, got str",
        ),
    ],
)
def test_malformed_fields_are_named_with_their_value(
    provider: SarvamDialect, change: dict[str, Any], field: str, message: str
) -> None:
    raw = {**fixture("detail_q1_payment_reminders.json"), **change}
    with pytest.raises(NormalizationError) as info:
        normalize(provider, raw)
    assert info.value.field == field
    assert str(info.value) == message


def test_a_missing_id_is_named(provider: SarvamDialect) -> None:
    raw = fixture("list_page.json")["items"][0]
    del raw["campaign_id"]
    with pytest.raises(NormalizationError, match=r"^campaign_id=<missing>: required$"):
        normalize(provider, raw)


@pytest.mark.parametrize(
    ("schedule", "field", "reason"),
    [
        ({"allowed_start_time": "25:00"}, "allowed_schedule.allowed_start_time", "out of range"),
        ({"allowed_end_time": "6pm"}, "allowed_schedule.allowed_end_time", "expected 'HH:MM'"),
        ({"allowed_end_time": None}, "allowed_schedule.allowed_end_time", "required"),
        ({"timezone": "Mars/Olympus"}, "allowed_schedule.timezone", "unknown IANA zone"),
        ({"timezone": "IST"}, "allowed_schedule.timezone", "unknown IANA zone"),
        (
            {"allowed_days": ["Funday"]},
            "allowed_schedule.allowed_days",
            "expected English weekday names, e.g. 'Monday'",
        ),
        ({"allowed_days": "Monday"}, "allowed_schedule.allowed_days", "expected array, got str"),
    ],
)
def test_malformed_schedules_name_the_nested_field(
    provider: SarvamDialect, schedule: dict[str, Any], field: str, reason: str
) -> None:
    raw = fixture("detail_q1_payment_reminders.json")
    raw["allowed_schedule"] = {**raw["allowed_schedule"], **schedule}
    with pytest.raises(NormalizationError) as info:
        normalize(provider, raw)
    assert (info.value.field, info.value.reason) == (field, reason)
    assert str(info.value).startswith(f"{field}=")


@pytest.mark.parametrize(
    ("raw_status", "status"),
    [
        ("scheduled", Status.SCHEDULED),
        ("active", Status.RUNNING),
        ("paused", Status.PAUSED),
        ("ended", Status.COMPLETED),
        ("cancelled", Status.CANCELED),
        ("canceled", Status.UNKNOWN),  # vox's spelling is not Sarvam's
        ("archived", Status.UNKNOWN),
        ("Active", Status.UNKNOWN),
    ],
)
def test_status_table(provider: SarvamDialect, raw_status: str, status: Status) -> None:
    raw = {**fixture("list_page.json")["items"][0], "status": raw_status}
    campaign = normalize(provider, raw)
    assert (campaign.status, campaign.status_raw) == (status, raw_status)
    assert campaign.paused_by is None
    assert campaign.finished_at is None


def test_status_table_is_the_class_attribute_and_read_only() -> None:
    assert SarvamDialect.status_table is SARVAM_STATUS
    assert set(SARVAM_STATUS) == {"scheduled", "active", "paused", "ended", "cancelled"}
    with pytest.raises(TypeError):
        SARVAM_STATUS["archived"] = Status.CANCELED  # type: ignore[index]


def test_normalize_is_pure_and_keeps_the_raw_record(provider: SarvamDialect) -> None:
    raw = fixture("detail_q1_payment_reminders.json")
    before = json.dumps(raw, sort_keys=True)
    first, second = normalize(provider, raw), normalize(provider, raw)
    assert first == second
    assert first.fingerprint() == second.fingerprint()
    assert dict(first.raw) == raw
    assert json.dumps(raw, sort_keys=True) == before
