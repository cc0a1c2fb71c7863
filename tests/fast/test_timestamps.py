"""Timestamp normalization: a table of every format docs/providers.md 5.3 and the seeds show,
error messages, the DST rule, and properties over generated inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.domain.timestamps import (
    MAX_UNIX_MS,
    LocalAdjustment,
    load_zone,
    parse_date_and_time,
    parse_hhmm,
    parse_iso8601,
    parse_local_datetime,
    parse_minute_of_day,
    parse_unix_ms,
    parse_unix_seconds,
    resolve_local,
    to_iso8601,
    to_unix_ms,
)
from worker.errors import TimestampError

CHICAGO = ZoneInfo("America/Chicago")
ZONES = [
    "UTC",
    "Asia/Seoul",
    "Asia/Kolkata",
    "America/Chicago",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/St_Johns",
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123, utc(1970, 1, 1, 0, 0, 0, 123_000)),  # seed 000/002 placeholder
        (1705312800000, utc(2024, 1, 15, 10, 0)),  # the v2 sample's created_at, in ms
        (0, utc(1970, 1, 1)),
        (MAX_UNIX_MS, utc(9999, 12, 31, 23, 59, 59, 999_000)),
    ],
)
def test_unix_milliseconds(value: int, expected: datetime) -> None:
    assert parse_unix_ms(value, "created_at") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1705312800, utc(2024, 1, 15, 10, 0)),  # 10 digits, accepted by vox as input
        (10_000_000_000, utc(2286, 11, 20, 17, 46, 40)),  # 11 digits
    ],
)
def test_unix_seconds(value: int, expected: datetime) -> None:
    assert parse_unix_seconds(value, "scheduled_at") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15T10:00:00Z", utc(2024, 1, 15, 10, 0)),  # vox v2 (seed 001)
        ("2026-03-28T10:00:00Z", utc(2026, 3, 28, 10, 0)),  # Sarvam list sample
        ("2023-11-07T05:31:56Z", utc(2023, 11, 7, 5, 31, 56)),  # Sarvam seed 004
        ("2026-03-29T10:30:45.123456Z", utc(2026, 3, 29, 10, 30, 45, 123456)),  # Sarvam executed_at
        ("2026-03-29T10:30:45.123456789Z", utc(2026, 3, 29, 10, 30, 45, 123456)),  # ns truncated
        ("2024-01-15T19:00:00+09:00", utc(2024, 1, 15, 10, 0)),
        ("2024-01-15T19:00:00+0900", utc(2024, 1, 15, 10, 0)),
        ("2024-01-15T04:30:00-05:30", utc(2024, 1, 15, 10, 0)),
        ("2024-01-15 10:00:00Z", utc(2024, 1, 15, 10, 0)),
        ("2024-01-15T10:00Z", utc(2024, 1, 15, 10, 0)),
    ],
)
def test_iso8601(value: str, expected: datetime) -> None:
    parsed = parse_iso8601(value, "created_at")
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_naive_voxo_lastrun_in_declared_zone() -> None:
    # VOXO list sample: lastrun "2022-02-16 14:33:45", campaign zone America/Chicago (CST, -6).
    result = parse_local_datetime("2022-02-16 14:33:45", CHICAGO, "lastrun")
    assert result.instant == utc(2022, 2, 16, 20, 33, 45)
    assert result.adjustment is None


def test_voxo_date_plus_time_in_zone() -> None:
    # VOXO sample: dateStart 2022-02-16, timeStart 00:00, America/Chicago.
    result = parse_date_and_time(
        "2022-02-16", "00:00", CHICAGO, date_field="dateStart", time_field="timeStart"
    )
    assert result.instant == utc(2022, 2, 16, 6, 0)


@pytest.mark.parametrize(
    ("value", "minutes"),
    [("00:00", 0), ("09:00", 540), ("18:00", 1080), ("23:59", 1439)],  # Sarvam and VOXO HH:MM
)
def test_hhmm(value: str, minutes: int) -> None:
    assert parse_hhmm(value, "allowed_start_time") == minutes


@pytest.mark.parametrize(
    ("value", "end", "minutes"),
    [(540, False, 540), (1, False, 1), (123, True, 123), (1200, True, 1200), (1440, True, 1440)],
)
def test_minutes_from_midnight(value: int, end: bool, minutes: int) -> None:
    assert parse_minute_of_day(value, "start_min", allow_end_of_day=end) == minutes


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_unix_ms(-5, "scheduled_at"), "scheduled_at=-5: out of range"),
        (
            lambda: parse_unix_ms("1705312800000", "created_at"),
            "created_at='1705312800000': expected integer unix milliseconds, got str",
        ),
        (
            lambda: parse_unix_ms(True, "paused_at"),
            "paused_at=True: expected integer unix milliseconds, got bool",
        ),
        (
            lambda: parse_unix_ms(1.5e12, "paused_at"),
            "paused_at=1500000000000.0: expected integer unix milliseconds, got float",
        ),
        (
            lambda: parse_unix_ms(MAX_UNIX_MS + 1, "finished_at"),
            "finished_at=253402300800000: out of range",
        ),
        (
            lambda: parse_iso8601("2024-01-15T10:00:00", "created_at"),
            "created_at='2024-01-15T10:00:00': no UTC offset; naive times need a declared zone",
        ),
        (
            lambda: parse_iso8601("yesterday", "created_at"),
            "created_at='yesterday': not an ISO-8601 date-time",
        ),
        (
            lambda: parse_iso8601(1705312800, "created_at"),
            "created_at=1705312800: expected ISO-8601 string, got int",
        ),
        (
            lambda: parse_local_datetime("2022-02-16T14:33:45", CHICAGO, "lastrun"),
            "lastrun='2022-02-16T14:33:45': expected 'YYYY-MM-DD HH:MM:SS'",
        ),
        (lambda: parse_hhmm("24:00", "timeEnd"), "timeEnd='24:00': out of range"),
        (lambda: parse_hhmm("9:00", "timeStart"), "timeStart='9:00': expected 'HH:MM'"),
        (
            lambda: load_zone("Mars/Olympus", "timezone"),
            "timezone='Mars/Olympus': unknown IANA zone",
        ),
        (lambda: parse_minute_of_day(1440, "start_min"), "start_min=1440: out of range 0..1439"),
    ],
)
def test_errors_name_field_and_value(call: object, message: str) -> None:
    with pytest.raises(TimestampError) as info:
        call()  # type: ignore[operator]
    assert str(info.value) == message


def test_impossible_calendar_date_is_rejected() -> None:
    with pytest.raises(TimestampError, match=r"^dateEnd='2024-02-30': not a valid date"):
        parse_date_and_time(
            "2024-02-30", "10:00", CHICAGO, date_field="dateEnd", time_field="timeEnd"
        )


def test_spring_gap_moves_to_the_end_of_the_gap_and_is_flagged() -> None:
    # 2026-03-08: Chicago jumps from 02:00 CST to 03:00 CDT; 02:30 never happens.
    result = parse_local_datetime("2026-03-08 02:30:00", CHICAGO, "lastrun")
    assert result.adjustment is LocalAdjustment.GAP
    assert result.instant == utc(2026, 3, 8, 8, 0)  # 03:00 CDT
    assert result.instant.astimezone(CHICAGO).strftime("%H:%M") == "03:00"


def test_autumn_fold_takes_the_first_occurrence_and_is_flagged() -> None:
    # 2026-11-01: Chicago repeats 01:00-02:00; 01:30 CDT (-5) comes first.
    result = parse_local_datetime("2026-11-01 01:30:00", CHICAGO, "lastrun")
    assert result.adjustment is LocalAdjustment.FOLD
    assert result.instant == utc(2026, 11, 1, 6, 30)


def test_round_trip_renderers() -> None:
    instant = utc(2024, 1, 15, 10, 0, 0, 250_000)
    assert to_unix_ms(instant) == 1705312800250
    assert to_iso8601(instant) == "2024-01-15T10:00:00.250Z"
    assert to_iso8601(utc(2024, 1, 15, 10)) == "2024-01-15T10:00:00Z"


# --- properties -------------------------------------------------------------------

aware = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]),
    allow_imaginary=False,  # a wall time inside a DST gap is not an instant
)
naive_local = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))


@given(st.integers(min_value=0, max_value=MAX_UNIX_MS))
def test_unix_ms_round_trip_and_aware(ms: int) -> None:
    parsed = parse_unix_ms(ms, "created_at")
    assert parsed.utcoffset() == timedelta(0)
    assert to_unix_ms(parsed) == ms


@given(
    st.integers(min_value=0, max_value=MAX_UNIX_MS), st.integers(min_value=0, max_value=MAX_UNIX_MS)
)
def test_unix_ms_preserves_order(a: int, b: int) -> None:
    assert (a < b) == (parse_unix_ms(a, "x") < parse_unix_ms(b, "x"))


@given(aware)
def test_iso_round_trip_keeps_the_instant(value: datetime) -> None:
    # Compare in UTC: Python's == between zones is False for fold-ambiguous wall times.
    parsed = parse_iso8601(to_iso8601(value), "created_at")
    assert parsed == value.astimezone(UTC)
    assert parsed.tzinfo is UTC


@given(aware)
def test_iso_with_original_offset_keeps_the_instant(value: datetime) -> None:
    text = value.isoformat()  # e.g. 2024-01-15T19:00:00+09:00, with the zone's own offset
    assert parse_iso8601(text, "created_at") == value.astimezone(UTC)


@given(aware, aware)
def test_iso_preserves_order(a: datetime, b: datetime) -> None:
    pa, pb = parse_iso8601(a.isoformat(), "x"), parse_iso8601(b.isoformat(), "x")
    assert (a.astimezone(UTC) < b.astimezone(UTC)) == (pa < pb)


@given(naive_local, st.sampled_from(ZONES))
def test_local_times_resolve_to_aware_utc_and_round_trip(naive: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    result = resolve_local(naive, zone)
    assert result.instant.tzinfo is UTC
    wall = result.instant.astimezone(zone).replace(tzinfo=None)
    if result.adjustment is LocalAdjustment.GAP:
        assert wall > naive  # moved forward, to the end of the gap
    else:
        assert wall == naive  # regular and fold times keep their wall-clock value


@given(naive_local, naive_local, st.sampled_from(ZONES))
def test_local_resolution_never_inverts_order(a: datetime, b: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    first, second = sorted((a, b))
    assert resolve_local(first, zone).instant <= resolve_local(second, zone).instant
