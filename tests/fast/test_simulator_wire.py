"""The simulators' own wire code (``worker/simulators/wire``) against hand-written answers.

The simulators are the oracle the worker's readers are tested against, so their writers
and readers are pinned here by strings and instants worked out by hand (2026-03-02 is a
Monday; Chicago sets its clocks forward at 2026-03-08 02:00 and back at 2026-11-01 02:00).
The properties at the end check the two sides against each other: the worker's readers in
``worker.domain`` read back what the simulators write, and where both compute the same
thing (a wall-clock time in a zone, whether calling hours are open) they agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.domain import timestamps, windows
from worker.simulators.wire.bodies import Body, read_sarvam_schedule, read_vox_window
from worker.simulators.wire.errors import BadField
from worker.simulators.wire.hours import (
    EVERY_DAY,
    WEEKDAYS,
    Hours,
    Span,
    is_open,
    next_change,
    sarvam_schedule_json,
    vox_window_json,
)
from worker.simulators.wire.times import (
    LAST_UNIX_MS,
    read_iso8601,
    read_unix_ms,
    read_unix_seconds,
    wall_clock_instant,
    write_iso8601,
    write_unix_ms,
    write_wall_clock,
)

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
SEOUL, CHICAGO = ZoneInfo("Asia/Seoul"), ZoneInfo("America/Chicago")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def refusal(call: Any, *args: Any) -> str:
    with pytest.raises(BadField) as caught:
        call(*args)
    return str(caught.value)


# --- writing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (MONDAY, 1_772_409_600_000),
        (datetime(2026, 3, 2, 9, tzinfo=SEOUL), 1_772_409_600_000),  # the same instant
        (utc(2026, 3, 2, 0, 0, 0, 123_999), 1_772_409_600_123),  # rounded down
        (utc(1970, 1, 1), 0),
        (utc(1969, 12, 31, 23, 59, 59, 999_500), -1),  # down, also before 1970
        (datetime.max.replace(tzinfo=UTC), 253_402_300_799_999),
    ],
)
def test_unix_ms_is_written_in_whole_milliseconds_rounded_down(
    instant: datetime, expected: int
) -> None:
    assert write_unix_ms(instant) == expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (MONDAY, "2026-03-02T00:00:00Z"),
        (datetime(2026, 3, 2, 9, 30, tzinfo=SEOUL), "2026-03-02T00:30:00Z"),
        (utc(2026, 3, 2, 0, 0, 5, 120_000), "2026-03-02T00:00:05.120Z"),
        (utc(2026, 3, 2, 0, 0, 5, 123_456), "2026-03-02T00:00:05.123456Z"),
        (utc(2026, 3, 2, 0, 0, 5, 1), "2026-03-02T00:00:05.000001Z"),
        (utc(1, 1, 1), "0001-01-01T00:00:00Z"),
    ],
)
def test_iso8601_is_written_in_utc_with_z_and_a_fraction_only_when_there_is_one(
    instant: datetime, expected: str
) -> None:
    assert write_iso8601(instant) == expected


def test_voxo_times_are_written_as_the_zones_wall_clock_shows_them() -> None:
    assert write_wall_clock(utc(2022, 2, 16, 14, 33), CHICAGO) == "2022-02-16 08:33:00"
    assert write_wall_clock(utc(2026, 3, 2, 15, 0, 7), SEOUL) == "2026-03-03 00:00:07"
    assert write_wall_clock(utc(2026, 11, 1, 6, 30), CHICAGO) == "2026-11-01 01:30:00"
    assert write_wall_clock(utc(2026, 11, 1, 7, 30), CHICAGO) == "2026-11-01 01:30:00"


def test_a_naive_datetime_is_no_instant_to_write() -> None:
    for write in (write_unix_ms, write_iso8601):
        with pytest.raises(ValueError, match="naive"):
            write(datetime(2026, 3, 2))


# --- reading times ------------------------------------------------------------------------


def test_unix_times_are_json_integers_within_1970_to_9999() -> None:
    assert read_unix_ms(1_772_409_600_123, "at") == utc(2026, 3, 2, 0, 0, 0, 123_000)
    assert read_unix_ms(LAST_UNIX_MS, "at") == datetime.max.replace(microsecond=999_000, tzinfo=UTC)
    assert read_unix_seconds(1_772_409_600, "at") == MONDAY
    assert refusal(read_unix_ms, -1, "scheduled_at") == "scheduled_at=-1: out of range"
    assert refusal(read_unix_ms, LAST_UNIX_MS + 1, "at") == "at=253402300800000: out of range"
    assert refusal(read_unix_seconds, 253_402_300_800, "at") == "at=253402300800: out of range"
    assert (
        refusal(read_unix_ms, True, "at") == "at=True: expected integer unix milliseconds, got bool"
    )
    assert refusal(read_unix_ms, "1", "at") == "at='1': expected integer unix milliseconds, got str"
    assert (
        refusal(read_unix_seconds, 1.5, "at") == "at=1.5: expected integer unix seconds, got float"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T00:00:00Z", MONDAY),
        ("2026-03-02T09:00:00+09:00", MONDAY),
        ("2026-03-01T19:30:00-0430", MONDAY),
        ("2026-03-02 00:00z", MONDAY),
        ("2026-03-02T00:00:00.5Z", utc(2026, 3, 2, 0, 0, 0, 500_000)),
        ("2026-03-02T00:00:00.123456789Z", utc(2026, 3, 2, 0, 0, 0, 123_456)),
        (" 2026-03-02T00:00:00Z ", MONDAY),
    ],
)
def test_iso8601_is_read_with_z_or_an_offset(text: str, expected: datetime) -> None:
    read = read_iso8601(text, "at")
    assert (read, read.tzinfo) == (expected, UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-03-02T00:00:00", "at='2026-03-02T00:00:00': no UTC offset; naive times need a"),
        ("02/03/2026 00:00", "at='02/03/2026 00:00': not an ISO-8601 date-time"),
        ("2026-03-02", "at='2026-03-02': not an ISO-8601 date-time"),
        ("2026-03-02T00:00:00.1234567890Z", "at='2026-03-02T00:00:00.1234567890Z': not an ISO"),
        (1_772_409_600_000, "at=1772409600000: expected ISO-8601 string, got int"),
        ("2026-02-30T00:00:00Z", "at='2026-02-30T00:00:00Z': not a valid date-time (day is"),
        ("0001-01-01T00:00:00+01:00", "at='0001-01-01T00:00:00+01:00': out of range"),
    ],
)
def test_iso8601_without_an_offset_or_not_a_real_time_is_refused(value: Any, message: str) -> None:
    assert refusal(read_iso8601, value, "at").startswith(message)


@pytest.mark.parametrize(
    ("day", "hhmm", "zone", "expected"),
    [
        (date(2026, 3, 2), "09:00", SEOUL, MONDAY),
        (date(2026, 3, 7), "02:30", CHICAGO, utc(2026, 3, 7, 8, 30)),  # CST, -6
        (date(2026, 3, 9), "02:30", CHICAGO, utc(2026, 3, 9, 7, 30)),  # CDT, -5
        # 02:00-03:00 never happens on the 8th: the clocks pass 02:30 as they jump, at 08:00Z.
        (date(2026, 3, 8), "02:30", CHICAGO, utc(2026, 3, 8, 8, 0)),
        (date(2026, 3, 8), "02:00", CHICAGO, utc(2026, 3, 8, 8, 0)),
        (date(2026, 3, 8), "03:00", CHICAGO, utc(2026, 3, 8, 8, 0)),
        # 01:00-02:00 happens twice on 1 November: its first time, still CDT.
        (date(2026, 11, 1), "01:30", CHICAGO, utc(2026, 11, 1, 6, 30)),
        (date(2026, 11, 1), "02:00", CHICAGO, utc(2026, 11, 1, 8, 0)),
    ],
)
def test_a_voxo_date_and_time_is_the_first_instant_the_zones_clocks_show_it(
    day: date, hhmm: str, zone: ZoneInfo, expected: datetime
) -> None:
    hours, minutes = hhmm.split(":")
    assert wall_clock_instant(day, int(hours) * 60 + int(minutes), zone) == expected


# --- calling hours ------------------------------------------------------------------------


def weekly(zone: str, *spans: tuple[tuple[str, ...], int, int]) -> Hours:
    ranges = tuple(Span(days=days, start_min=a, end_min=b) for days, a, b in spans)
    return Hours(timezone=zone, ranges=ranges)


MONDAY_MORNING = weekly("UTC", (("Monday",), 9 * 60, 12 * 60))
MONDAY_NIGHT = weekly("UTC", (("Monday",), 22 * 60, 6 * 60))  # into Tuesday morning


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (MONDAY_MORNING, MONDAY + timedelta(hours=8, minutes=59, seconds=59), False),
        (MONDAY_MORNING, MONDAY + timedelta(hours=9), True),
        (MONDAY_MORNING, MONDAY + timedelta(hours=11, minutes=59, seconds=59), True),
        (MONDAY_MORNING, MONDAY + timedelta(hours=12), False),
        (MONDAY_MORNING, MONDAY + timedelta(days=1, hours=10), False),  # Tuesday
        (MONDAY_NIGHT, MONDAY + timedelta(hours=21, minutes=59), False),
        (MONDAY_NIGHT, MONDAY + timedelta(hours=22), True),
        (MONDAY_NIGHT, MONDAY + timedelta(days=1, hours=5, minutes=59), True),
        (MONDAY_NIGHT, MONDAY + timedelta(days=1, hours=6), False),
        (MONDAY_NIGHT, MONDAY + timedelta(hours=3), False),  # Sunday night did not run on
        (weekly("Asia/Seoul", (("Monday",), 9 * 60, 12 * 60)), MONDAY, True),  # 09:00 in Seoul
        (weekly("UTC", (EVERY_DAY, 600, 600)), MONDAY + timedelta(hours=3), True),
        (weekly("UTC", (EVERY_DAY, 0, 1440)), MONDAY + timedelta(hours=23, minutes=59), True),
        (weekly("UTC"), MONDAY, False),
    ],
)
def test_hours_are_open_from_start_up_to_the_end_and_through_midnight(
    hours: Hours, at: datetime, expected: bool
) -> None:
    assert is_open(hours, at) is expected


@pytest.mark.parametrize(
    ("hours", "after", "expected"),
    [
        (MONDAY_MORNING, MONDAY + timedelta(hours=10), MONDAY + timedelta(hours=12)),
        (MONDAY_MORNING, MONDAY + timedelta(hours=12), MONDAY + timedelta(days=7, hours=9)),
        (MONDAY_MORNING, MONDAY, MONDAY + timedelta(hours=9)),
        (MONDAY_NIGHT, MONDAY + timedelta(hours=23), MONDAY + timedelta(days=1, hours=6)),
        # Chicago, 01:00-01:30 daily: on 1 November it closes at 01:30 CDT and opens again
        # when the clocks go back to 01:00 (CST) at 07:00Z.
        (
            weekly("America/Chicago", (EVERY_DAY, 60, 90)),
            utc(2026, 11, 1, 6, 30),
            utc(2026, 11, 1, 7, 0),
        ),
        # 02:15-02:45 never happens on 8 March: next open on the 9th, in CDT.
        (
            weekly("America/Chicago", (EVERY_DAY, 135, 165)),
            utc(2026, 3, 7, 9, 0),
            utc(2026, 3, 9, 7, 15),
        ),
        # 01:30-02:30 on 8 March closes when the clocks jump from 02:00 to 03:00.
        (
            weekly("America/Chicago", (EVERY_DAY, 90, 150)),
            utc(2026, 3, 8, 7, 45),
            utc(2026, 3, 8, 8, 0),
        ),
        (weekly("UTC", (EVERY_DAY, 0, 0)), MONDAY, None),  # around the clock
        (weekly("UTC"), MONDAY, None),  # never
    ],
)
def test_next_change_is_the_first_later_instant_where_open_flips(
    hours: Hours, after: datetime, expected: datetime | None
) -> None:
    assert next_change(hours, after) == expected


def test_hours_are_written_in_vox_and_sarvam_shapes() -> None:
    hours = Hours(
        timezone="Asia/Seoul",
        ranges=(Span(days=("Monday", "Friday"), start_min=540, end_min=1080),),
        auto_resume=True,
    )
    assert vox_window_json(hours) == {
        "windows": [{"days": ["Monday", "Friday"], "start_min": 540, "end_min": 1080}],
        "timezone": "Asia/Seoul",
        "auto_resume": True,
    }
    assert sarvam_schedule_json(hours) == {
        "allowed_start_time": "09:00",
        "allowed_end_time": "18:00",
        "allowed_days": ["Monday", "Friday"],
        "timezone": "Asia/Seoul",
    }


# --- request bodies ------------------------------------------------------------------------


def test_a_body_names_the_field_its_value_and_why() -> None:
    body = Body({"limit": 0, "name": 5, "flag": 1, "agent": {"agent_id": None}, "n": True})
    assert refusal(lambda: body.integer("limit", minimum=1)) == "limit=0: must be >= 1"
    assert refusal(lambda: body.integer("n", minimum=None)) == "n=True: expected integer, got bool"
    assert refusal(lambda: body.text("name")) == "name=5: expected string, got int"
    assert refusal(lambda: body.boolean("flag")) == "flag=1: expected boolean, got int"
    assert refusal(lambda: body.text("missing", required=True)) == "missing=<missing>: required"
    agent = body.child("agent")
    assert agent is not None
    assert refusal(lambda: agent.text("agent_id", required=True)) == "agent.agent_id=None: required"
    assert refusal(Body, [], "") == "expected an object, got list"
    assert refusal(Body, "x", "filter") == "filter='x': expected an object, got str"
    assert (body.text("absent"), body.integer("absent", minimum=0)) == (None, None)


def test_a_long_refused_value_is_cut_in_the_message() -> None:
    message = refusal(lambda: Body({"name": "x" * 500}).integer("name", minimum=None))
    assert message == f"name='{'x' * 119}…(502 chars): expected integer, got str"


def test_vox_call_time_window_is_read_with_its_paths() -> None:
    window = {
        "windows": [{"start_min": 540, "end_min": 1440, "days": ["Monday"]}],
        "timezone": "Asia/Seoul",
        "auto_resume": False,
    }
    assert read_vox_window(Body({"call_time_window": window})) == Hours(
        timezone="Asia/Seoul",
        ranges=(Span(days=("Monday",), start_min=540, end_min=1440),),
        auto_resume=False,
    )
    assert read_vox_window(Body({"call_time_window": None})) is None

    def refused(**changes: Any) -> str:
        return refusal(read_vox_window, Body({"call_time_window": {**window, **changes}}))

    first = "call_time_window.windows[0]"
    assert refused(timezone="Mars/Olympus") == (
        "call_time_window.timezone='Mars/Olympus': unknown IANA zone"
    )
    assert refused(timezone="") == "call_time_window.timezone='': expected an IANA zone name"
    assert refused(windows=[{"start_min": 1440, "end_min": 1440, "days": ["Monday"]}]) == (
        f"{first}.start_min=1440: out of range 0..1439"
    )
    assert refused(windows=[{"start_min": 0, "end_min": "9", "days": ["Monday"]}]) == (
        f"{first}.end_min='9': expected integer minutes from midnight, got str"
    )
    assert refused(windows=[{"start_min": 0, "end_min": 60, "days": ["Mon"]}]) == (
        f"{first}.days=['Mon']: expected English weekday names, e.g. 'Monday'"
    )
    assert refused(windows=[5]) == f"{first}=5: expected an object, got int"
    assert refused(auto_resume="yes") == (
        "call_time_window.auto_resume='yes': expected boolean, got str"
    )


def test_sarvam_allowed_schedule_is_read_with_its_defaults() -> None:
    def read(schedule: Any) -> Hours | None:
        return read_sarvam_schedule(
            Body({"allowed_schedule": schedule}), default_zone="Asia/Kolkata"
        )

    assert read({"allowed_start_time": "22:00", "allowed_end_time": "06:30"}) == Hours(
        timezone="Asia/Kolkata",
        ranges=(Span(days=WEEKDAYS, start_min=1320, end_min=390),),
    )
    assert read(None) is None
    at = "allowed_schedule"
    assert refusal(read, {"allowed_start_time": "9am", "allowed_end_time": "18:00"}) == (
        f"{at}.allowed_start_time='9am': expected 'HH:MM'"
    )
    assert refusal(read, {"allowed_start_time": "09:00", "allowed_end_time": "24:00"}) == (
        f"{at}.allowed_end_time='24:00': out of range"
    )
    assert refusal(read, {"allowed_start_time": "09:00"}) == (
        f"{at}.allowed_end_time=<missing>: required"
    )
    assert refusal(
        read, {"allowed_start_time": "09:00", "allowed_end_time": "18:00", "timezone": "IST"}
    ) == (f"{at}.timezone='IST': unknown IANA zone")


# --- the two sides against each other --------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
recent = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
DST_ZONES = ["America/Chicago", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia"]
zones = st.sampled_from(["UTC", "Asia/Seoul", "Asia/Kolkata", *DST_ZONES])
spans = st.tuples(
    st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True).map(tuple),
    st.integers(0, 1439),
    st.integers(0, 1440),
)
weekly_hours = st.builds(
    lambda zone, ranges: Hours(
        timezone=zone,
        ranges=tuple(Span(days=d, start_min=a, end_min=b) for d, a, b in ranges),
    ),
    zones,
    st.lists(spans, max_size=3),
)


def as_domain(hours: Hours) -> windows.CallWindow:
    return windows.CallWindow(
        timezone=hours.timezone,
        ranges=tuple(
            windows.WindowRange(
                days=tuple(windows.Weekday(d) for d in s.days),
                start_min=s.start_min,
                end_min=s.end_min,
            )
            for s in hours.ranges
        ),
    )


@given(instants)
def test_the_worker_reads_back_what_the_simulators_write(instant: datetime) -> None:
    millisecond = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    assert timestamps.parse_unix_ms(write_unix_ms(instant), "at") == millisecond
    assert timestamps.parse_iso8601(write_iso8601(instant), "at") == instant


@given(recent, zones)
def test_the_worker_reads_voxo_wall_clock_times_where_they_happen(
    instant: datetime, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    text = write_wall_clock(instant, zone)
    read = timestamps.parse_local_datetime(text, zone, "lastrun").instant
    # A time the clocks show twice is read as its first showing.
    assert read == instant or (read < instant and write_wall_clock(read, zone) == text)


@given(recent, zones, st.integers(0, 1439))
def test_both_sides_put_a_voxo_date_and_time_at_the_same_instant(
    instant: datetime, zone_name: str, minute: int
) -> None:
    zone = ZoneInfo(zone_name)
    day = instant.date()
    hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
    worker = timestamps.parse_date_and_time(
        day.isoformat(), hhmm, zone, date_field="d", time_field="t"
    )
    assert wall_clock_instant(day, minute, zone) == worker.instant


@settings(max_examples=200)
@given(weekly_hours, recent)
def test_both_sides_agree_whether_hours_are_open(hours: Hours, at: datetime) -> None:
    assert is_open(hours, at) == windows.is_open(as_domain(hours), at)


@given(weekly_hours, recent)
def test_nothing_flips_before_next_change_and_it_flips_there(hours: Hours, after: datetime) -> None:
    change = next_change(hours, after)
    was_open = is_open(hours, after)
    if change is None:
        every_hour = (after + timedelta(minutes=59 * n) for n in range(7 * 25))
        assert all(is_open(hours, at) == was_open for at in every_hour)
        return
    assert is_open(hours, change) != was_open
    just_before = max(after, change - timedelta(seconds=1))
    assert is_open(hours, just_before) == was_open
    steps = int((change - after) / timedelta(minutes=13))
    assert all(is_open(hours, after + n * timedelta(minutes=13)) == was_open for n in range(steps))
