"""VOXO normalization over the documented payloads: every field, every rule, every error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.dialects.voxo import VOXO_STATUS, VoxoDialect
from worker.domain.windows import EVERY_DAY, CallWindow, WindowRange
from worker.errors import NormalizationError, TimestampError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "voxo"
# America/Chicago is UTC-6 in February: the sample's 2022-02-16 00:00 is 06:00Z.
START = datetime(2022, 2, 16, 6, 0, tzinfo=UTC)
END = datetime(2022, 2, 17, 6, 0, tzinfo=UTC)
LASTRUN = datetime(2022, 2, 16, 20, 33, 45, tzinfo=UTC)  # 14:33:45 CST
OBSERVED = datetime(2022, 2, 16, 21, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def dialect(**overrides: Any) -> VoxoDialect:
    return VoxoDialect(**{"account": "acme", "tenant_id": 1234, **overrides})


@pytest.fixture
def voxo() -> VoxoDialect:
    return dialect()


def test_the_documented_list_item_normalizes_field_for_field(voxo: VoxoDialect) -> None:
    raw = fixture("list_item.json")
    assert voxo.normalize(raw, observed_at=OBSERVED) == Campaign(
        provider="voxo",
        account="acme",
        campaign_id="11111111111",  # int64 id, past 32 bits, as a decimal string
        name="fdafd",
        status=Status.PAUSED,
        status_raw="PAUSED",
        status_derived=False,
        paused_by=PausedBy.USER,
        counters=Counters(),
        created_at=None,
        scheduled_start_at=START,
        scheduled_end_at=END,
        paused_at=None,
        finished_at=None,
        provider_updated_at=None,
        last_run_at=LASTRUN,
        call_window=None,
        time_flags=(),
        raw=raw,
    )


def test_the_detail_adds_the_daily_call_hours_window(voxo: VoxoDialect) -> None:
    raw = fixture("detail.json")
    assert voxo.normalize(raw, observed_at=OBSERVED) == Campaign(
        provider="voxo",
        account="acme",
        campaign_id="11111111111",
        name="fdafd",
        status=Status.RUNNING,
        status_raw="READY",
        status_derived=True,
        paused_by=None,
        counters=Counters(),  # dispositions are kept raw, never counted
        scheduled_start_at=START,
        scheduled_end_at=END,
        last_run_at=LASTRUN,
        call_window=CallWindow(
            timezone="America/Chicago",
            ranges=(WindowRange(days=EVERY_DAY, start_min=9 * 60, end_min=17 * 60 + 30),),
            auto_resume=None,
        ),
        raw=raw,
    )


@pytest.mark.parametrize(
    ("observed_at", "status"),
    [
        (START - timedelta(seconds=1), Status.SCHEDULED),
        (START, Status.RUNNING),
        (END - timedelta(seconds=1), Status.RUNNING),
        (END, Status.COMPLETED),
        (END + timedelta(days=400), Status.COMPLETED),
    ],
)
def test_ready_is_derived_from_the_dates_and_the_poll_time(
    voxo: VoxoDialect, observed_at: datetime, status: Status
) -> None:
    campaign = voxo.normalize(fixture("detail.json"), observed_at=observed_at)
    assert (campaign.status, campaign.status_raw, campaign.status_derived) == (
        status,
        "READY",
        True,
    )
    assert campaign.finished_at is None  # VOXO says nothing; events use scheduled_end_at


def test_paused_stays_paused_after_its_end(voxo: VoxoDialect) -> None:
    campaign = voxo.normalize(fixture("list_item.json"), observed_at=END + timedelta(days=1))
    assert (campaign.status, campaign.paused_by, campaign.status_derived) == (
        Status.PAUSED,
        PausedBy.USER,
        False,
    )


def test_time_start_and_end_are_not_a_daily_window(voxo: VoxoDialect) -> None:
    raw = {**fixture("detail.json"), "timeStart": "09:00", "timeEnd": "17:00"}
    raw |= {"callHoursStart": None, "callHoursEnd": None}
    campaign = voxo.normalize(raw, observed_at=OBSERVED)
    assert campaign.call_window is None
    assert campaign.scheduled_start_at == START + timedelta(hours=9)
    assert campaign.scheduled_end_at == END + timedelta(hours=17)


def test_the_status_table_has_the_two_documented_states() -> None:
    assert dict(VoxoDialect.status_table) == {"READY": Status.RUNNING, "PAUSED": Status.PAUSED}
    assert VoxoDialect.status_table is VOXO_STATUS


@pytest.mark.parametrize(("state", "status_raw"), [("EXPIRED", "EXPIRED"), (None, "")])
def test_other_states_are_unknown_and_kept_raw(
    voxo: VoxoDialect, state: str | None, status_raw: str
) -> None:
    campaign = voxo.normalize({**fixture("list_item.json"), "state": state}, observed_at=OBSERVED)
    assert (campaign.status, campaign.status_raw) == (Status.UNKNOWN, status_raw)
    assert (campaign.status_derived, campaign.paused_by) == (False, None)


def test_dst_gap_and_fold_are_resolved_and_flagged(voxo: VoxoDialect) -> None:
    raw = {
        **fixture("list_item.json"),
        # 2026-03-08 02:30 does not exist in Chicago (02:00 -> 03:00 CDT).
        "dateStart": "2026-03-08",
        "timeStart": "02:30",
        # 2026-11-01 01:30 and 01:15 happen twice (CDT, then CST): the first is taken.
        "dateEnd": "2026-11-01",
        "timeEnd": "01:30",
        "lastrun": "2026-11-01 01:15:00",
    }
    campaign = voxo.normalize(raw, observed_at=OBSERVED)
    assert campaign.scheduled_start_at == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert campaign.scheduled_end_at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert campaign.last_run_at == datetime(2026, 11, 1, 6, 15, tzinfo=UTC)
    assert campaign.time_flags == (
        "scheduled_start_at: gap",
        "scheduled_end_at: fold",
        "last_run_at: fold",
    )


def test_lastrun_can_be_read_in_a_configured_zone() -> None:
    utc = dialect(lastrun_timezone="UTC")
    campaign = utc.normalize(fixture("list_item.json"), observed_at=OBSERVED)
    assert campaign.last_run_at == datetime(2022, 2, 16, 14, 33, 45, tzinfo=UTC)
    assert campaign.scheduled_start_at == START  # the schedule stays in the campaign's zone


def test_every_nullable_field_may_be_null(voxo: VoxoDialect) -> None:
    nullable = [
        "name",
        "dateStart",
        "dateEnd",
        "callerId",
        "callDelay",
        "state",
        "lastrun",
        "dialtimeout",
        "tech",
        "message",
        "timeStart",
        "timeEnd",
        "timezone",
        "callFrequency",
        "callHoursStart",
        "callHoursEnd",
        "recording",
    ]
    raw = {**fixture("list_item.json"), **dict.fromkeys(nullable)}
    campaign = voxo.normalize(raw, observed_at=OBSERVED)
    assert (campaign.campaign_id, campaign.name, campaign.status) == (
        "11111111111",
        None,
        Status.UNKNOWN,
    )
    assert campaign.scheduled_start_at is campaign.last_run_at is campaign.call_window is None


def test_a_ready_campaign_without_dates_is_running(voxo: VoxoDialect) -> None:
    raw = {**fixture("detail.json"), "dateStart": None, "dateEnd": None}
    campaign = voxo.normalize(raw, observed_at=OBSERVED)
    assert (campaign.status, campaign.scheduled_start_at, campaign.scheduled_end_at) == (
        Status.RUNNING,
        None,
        None,
    )


def test_null_times_and_half_windows_are_assumed_and_flagged(voxo: VoxoDialect) -> None:
    raw = {**fixture("detail.json"), "timeStart": None, "callHoursEnd": None}
    campaign = voxo.normalize(raw, observed_at=OBSERVED)
    assert campaign.scheduled_start_at == START
    assert campaign.call_window is not None
    assert campaign.call_window.ranges == (
        WindowRange(days=EVERY_DAY, start_min=9 * 60, end_min=24 * 60),
    )
    assert campaign.time_flags == (
        "scheduled_start_at: timeStart null, 00:00 assumed",
        "call_window: callHoursEnd null, 24:00 assumed",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "abc"}, "id='abc': expected integer, got str"),
        ({"id": True}, "id=True: expected integer, got bool"),
        ({"id": 0}, "id=0: must be >= 1"),
        ({"tenantId": "1234"}, "tenantId='1234': expected integer, got str"),
        ({"tenantId": 999}, "tenantId=999: not this target's tenant (1234)"),
        ({"name": 12}, "name=12: expected string, got int"),
        ({"state": 5}, "state=5: expected string, got int"),
        (
            {"lastrun": "16/02/2022 14:33"},
            "lastrun='16/02/2022 14:33': expected 'YYYY-MM-DD HH:MM:SS'",
        ),
        (
            {"lastrun": "2022-02-16T14:33:45Z"},
            "lastrun='2022-02-16T14:33:45Z': expected 'YYYY-MM-DD HH:MM:SS'",
        ),
        ({"dateStart": "2022-2-16"}, "dateStart='2022-2-16': expected 'YYYY-MM-DD'"),
        ({"timeEnd": "24:00"}, "timeEnd='24:00': out of range"),
        ({"timezone": "Mars/Olympus"}, "timezone='Mars/Olympus': unknown IANA zone"),
        ({"timezone": None}, "timezone=None: required to read dateStart"),
        (
            {"callHoursStart": "9:00", "callHoursEnd": "17:00"},
            "callHoursStart='9:00': expected 'HH:MM'",
        ),
    ],
)
def test_bad_values_are_rejected_naming_field_and_value(
    voxo: VoxoDialect, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(NormalizationError) as info:
        voxo.normalize({**fixture("list_item.json"), **changes}, observed_at=OBSERVED)
    assert str(info.value) == message
    assert info.value.field == next(iter(changes))


def test_a_missing_id_is_rejected(voxo: VoxoDialect) -> None:
    raw = {k: v for k, v in fixture("list_item.json").items() if k != "id"}
    with pytest.raises(NormalizationError, match=r"^id=<missing>: required$"):
        voxo.normalize(raw, observed_at=OBSERVED)


def test_lastrun_needs_the_campaign_zone_when_read_in_it(voxo: VoxoDialect) -> None:
    raw = {**fixture("list_item.json"), "dateStart": None, "dateEnd": None, "timezone": None}
    with pytest.raises(NormalizationError) as info:
        voxo.normalize(raw, observed_at=OBSERVED)
    assert str(info.value) == "timezone=None: required to read lastrun"


def test_the_seed_patch_response_placeholders_are_rejected() -> None:
    raw = fixture("patch_response_seed.json")
    provider = dialect(tenant_id=123)
    with pytest.raises(TimestampError) as info:
        provider.normalize(raw, observed_at=OBSERVED)
    assert str(info.value) == "timezone='<string>': unknown IANA zone"
    with pytest.raises(NormalizationError, match=r"^tenantId=123: not this target's tenant"):
        dialect().normalize(raw, observed_at=OBSERVED)


@pytest.mark.parametrize(
    ("raw", "reads"),
    [
        ({"state": "READY"}, True),  # read against its dates at the poll time
        ({"state": "PAUSED"}, False),
        ({"state": "UNHEARD_OF"}, False),
        ({"state": ["READY"]}, False),  # hostile shapes never raise here
        ({"state": {"READY": 1}}, False),
        ({}, False),
        (["READY"], False),
    ],
)
def test_only_a_ready_record_is_read_against_the_clock(
    voxo: VoxoDialect, raw: Any, reads: bool
) -> None:
    """Unchanged records of any other state are skipped without normalizing them again."""
    assert voxo.reads_clock(raw) is reads
    if isinstance(raw, dict) and raw.get("state") == "READY":
        ready = {**fixture("list_item.json"), **raw}
        before_start = START - timedelta(hours=1)
        assert voxo.normalize(ready, observed_at=before_start).status is Status.SCHEDULED
        assert voxo.normalize(ready, observed_at=OBSERVED).status is Status.RUNNING


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"timeStart": None},  # 00:00 assumed
        {"dateEnd": None, "timeEnd": None},  # open end
        {"dateStart": "2022-03-13", "timeStart": "02:30"},  # Chicago's DST gap
        {"dateStart": None, "timeStart": 5},  # a time never read without its date
        {"dateStart": None, "timeStart": True},  # equal to 1, and never read either
        {"timezone": "Asia/Kolkata"},
    ],
)
def test_the_listing_reads_a_ready_status_as_normalize_does(
    voxo: VoxoDialect, changes: dict[str, Any]
) -> None:
    """``status_now`` reads each schedule once per process: every poll time, every
    repeat, and a record without one of the fields, still read what ``normalize`` reads."""
    ready = {**fixture("list_item.json"), "state": "READY", **changes}
    without_end = {k: v for k, v in ready.items() if k not in ("dateEnd", "timeEnd")}
    for record in (ready, without_end):
        for observed_at in (START - timedelta(days=40), OBSERVED, END + timedelta(days=1)):
            for _ in range(2):  # the second reading is the remembered one
                expected = voxo.normalize(record, observed_at=observed_at).status
                assert voxo.status_now(record, observed_at) is expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dateStart": "2022-02-30"}, "dateStart"),
        ({"timeStart": 9}, "timeStart"),
        ({"dateEnd": ["2022-02-17"]}, "dateEnd"),  # unhashable: read the long way
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": None}, "timezone"),  # needed to read the dates
    ],
)
def test_a_schedule_that_does_not_read_raises_every_time(
    voxo: VoxoDialect, changes: dict[str, Any], field: str
) -> None:
    """A bad schedule is never remembered: each listing of it raises, naming the field,
    and the record then goes the long way (where it is quarantined)."""
    ready = {**fixture("list_item.json"), "state": "READY", **changes}
    for _ in range(2):
        with pytest.raises((NormalizationError, TimestampError)) as info:
            voxo.status_now(ready, OBSERVED)
        assert info.value.field == field
