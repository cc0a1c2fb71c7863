"""Call windows: open/closed in the campaign's zone, boundaries across midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worker.domain.records import Record
from worker.domain.windows import (
    CallWindow,
    Weekday,
    WindowRange,
    is_open,
    next_boundary,
    read_clock_window,
    read_minute_window,
)
from worker.errors import NormalizationError

WEEKDAYS = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY)
# The vox v2 create sample (seed 001; docs/providers.md 1.4): 09:00-12:00 Mon-Fri, 13:00-20:00 Mon-Wed, Seoul.
SAMPLE = {
    "auto_resume": True,
    "timezone": "Asia/Seoul",
    "windows": [
        {
            "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
            "end_min": 720,
            "start_min": 540,
        },
        {"days": ["Monday", "Tuesday", "Wednesday"], "end_min": 1200, "start_min": 780},
    ],
}


def seoul(day: int, hour: int, minute: int = 0) -> datetime:
    # 2026-03-02 is a Monday; Seoul is UTC+9 all year.
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


def test_reads_the_seed_window() -> None:
    window = read_minute_window(Record({"call_time_window": SAMPLE}))
    assert window == CallWindow(
        timezone="Asia/Seoul",
        ranges=(
            WindowRange(days=WEEKDAYS, start_min=540, end_min=720),
            WindowRange(days=WEEKDAYS[:3], start_min=780, end_min=1200),
        ),
        auto_resume=True,
    )


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (seoul(2, 8, 59), False),
        (seoul(2, 9, 0), True),
        (seoul(2, 11, 59), True),
        (seoul(2, 12, 0), False),  # half-open: the end minute is closed
        (seoul(2, 13, 0), True),
        (seoul(5, 13, 0), False),  # Thursday has only the morning range
        (seoul(7, 10, 0), False),  # Saturday
    ],
)
def test_is_open_in_the_window_zone(at: datetime, open_: bool) -> None:
    window = read_minute_window(Record({"call_time_window": SAMPLE}))
    assert window is not None
    assert is_open(window, at) is open_


def test_next_boundary_walks_the_week() -> None:
    window = read_minute_window(Record({"call_time_window": SAMPLE}))
    assert window is not None
    assert next_boundary(window, seoul(2, 10)) == seoul(2, 12)
    assert next_boundary(window, seoul(2, 12)) == seoul(2, 13)
    assert next_boundary(window, seoul(5, 12, 30)) == seoul(6, 9)  # Thursday noon -> Friday 09:00
    assert next_boundary(window, seoul(6, 12)) == seoul(9, 9)  # Friday noon -> Monday 09:00


def test_range_crossing_midnight() -> None:
    night = CallWindow(
        timezone="UTC",
        ranges=(WindowRange(days=(Weekday.MONDAY,), start_min=22 * 60, end_min=2 * 60),),
    )
    monday_late = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert is_open(night, monday_late)
    assert is_open(night, datetime(2026, 3, 3, 1, 59, tzinfo=UTC))
    assert not is_open(night, datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    assert next_boundary(night, monday_late) == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


def test_boundary_inside_a_dst_gap_moves_to_the_end_of_the_gap() -> None:
    # Chicago, 2026-03-08 (Sunday): 02:00 jumps to 03:00; a window opening at 02:30 opens at 03:00.
    window = CallWindow(
        timezone="America/Chicago",
        ranges=(WindowRange(days=(Weekday.SUNDAY,), start_min=150, end_min=600),),
    )
    before = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 00:00 CST
    assert next_boundary(window, before) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)  # 03:00 CDT


def test_empty_or_always_open_windows_have_no_boundary() -> None:
    never = CallWindow(timezone="UTC", ranges=())
    always = CallWindow(
        timezone="UTC", ranges=(WindowRange(days=tuple(Weekday), start_min=0, end_min=1440),)
    )
    assert next_boundary(never, seoul(2, 9)) is None
    assert next_boundary(always, seoul(2, 9)) is None
    assert is_open(always, seoul(2, 3))


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({**SAMPLE, "timezone": "Seoul"}, "call_time_window.timezone='Seoul': unknown IANA zone"),
        ({"windows": []}, "call_time_window.timezone=<missing>: required"),
        (
            {**SAMPLE, "windows": [{"days": ["Mon"], "start_min": 540, "end_min": 720}]},
            "call_time_window.windows[0].days=['Mon']: expected English weekday names, e.g. 'Monday'",
        ),
        (
            {**SAMPLE, "windows": [{"days": ["Monday"], "start_min": 540, "end_min": 1441}]},
            "call_time_window.windows[0].end_min=1441: out of range 0..1440",
        ),
        (
            {**SAMPLE, "windows": [{"days": ["Monday"], "start_min": "09:00", "end_min": 720}]},
            "call_time_window.windows[0].start_min='09:00': expected integer minutes from midnight, got str",
        ),
    ],
)
def test_malformed_windows_name_the_nested_field(window: dict[str, object], message: str) -> None:
    with pytest.raises(NormalizationError) as info:
        read_minute_window(Record({"call_time_window": window}))
    assert str(info.value) == message


# --- HH:MM weekly windows (Sarvam's allowed_schedule shape) ------------------------------


# The Sarvam Create Campaign sample: 09:00-18:00 on weekdays, Kolkata.
SCHEDULE = {
    "timezone": "Asia/Kolkata",
    "allowed_start_time": "09:00",
    "allowed_end_time": "18:00",
    "allowed_days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
}


def read_schedule(schedule: object) -> CallWindow | None:
    return read_clock_window(Record({"allowed_schedule": schedule}), default_zone="Asia/Kolkata")


def test_reads_an_hhmm_schedule_into_one_range() -> None:
    assert read_schedule(SCHEDULE) == CallWindow(
        timezone="Asia/Kolkata",
        ranges=(WindowRange(days=WEEKDAYS, start_min=540, end_min=1080),),
        auto_resume=None,
    )


@pytest.mark.parametrize("missing", [{}, {"timezone": None, "allowed_days": None}])
def test_an_hhmm_schedule_defaults_its_zone_and_days(missing: dict[str, object]) -> None:
    times = {"allowed_start_time": "22:00", "allowed_end_time": "06:00"}
    window = read_clock_window(
        Record({"allowed_schedule": {**times, **missing}}), default_zone="Europe/Berlin"
    )
    assert window == CallWindow(
        timezone="Europe/Berlin",
        ranges=(WindowRange(days=tuple(Weekday), start_min=1320, end_min=360),),
    )
    assert window is not None
    assert window.ranges[0].crosses_midnight


def test_an_absent_or_null_schedule_is_no_window_and_the_name_is_chosen() -> None:
    assert read_clock_window(Record({}), default_zone="UTC") is None
    assert read_schedule(None) is None
    record = Record({"window": {**SCHEDULE, "timezone": "UTC"}})
    window = read_clock_window(record, "window", default_zone="Asia/Kolkata")
    assert window is not None
    assert window.timezone == "UTC"


def test_equal_hhmm_times_are_open_around_the_clock() -> None:
    window = read_schedule({**SCHEDULE, "allowed_start_time": "00:00", "allowed_end_time": "00:00"})
    assert window is not None
    monday_noon, friday_late = seoul(2, 12), seoul(6, 23, 59)
    assert is_open(window, monday_noon)
    assert is_open(window, friday_late)
    assert not is_open(window, seoul(7, 12))  # Saturday is not listed
    # Open from Monday 00:00 to Saturday 00:00 Kolkata (18:30 UTC on Friday).
    assert next_boundary(window, monday_noon) == datetime(2026, 3, 6, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"allowed_days": ["Mon"]},
            "allowed_schedule.allowed_days=['Mon']: expected English weekday names, e.g. 'Monday'",
        ),
        (
            {"allowed_days": [{}]},
            "allowed_schedule.allowed_days=[{}]: expected English weekday names, e.g. 'Monday'",
        ),
        (
            {"allowed_days": "Monday"},
            "allowed_schedule.allowed_days='Monday': expected array, got str",
        ),
        (
            {"allowed_start_time": "9am"},
            "allowed_schedule.allowed_start_time='9am': expected 'HH:MM'",
        ),
        (
            {"allowed_end_time": "24:00"},
            "allowed_schedule.allowed_end_time='24:00': out of range",
        ),
        ({"allowed_end_time": None}, "allowed_schedule.allowed_end_time=None: required"),
        ({"timezone": "IST"}, "allowed_schedule.timezone='IST': unknown IANA zone"),
        ({"timezone": ""}, "allowed_schedule.timezone='': expected an IANA zone name"),
    ],
)
def test_malformed_hhmm_schedules_name_the_nested_field(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(NormalizationError) as info:
        read_schedule({**SCHEDULE, **change})
    assert str(info.value) == message


def test_a_schedule_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(NormalizationError) as info:
        read_schedule(["09:00", "18:00"])
    assert info.value.field == "allowed_schedule"
