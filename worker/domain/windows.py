"""Daily call windows: when a campaign may dial, in its own IANA zone.

A window is a zone plus ranges of minutes from local midnight on named weekdays.
A range is half-open, ``[start_min, end_min)``. A range whose end is at or before
its start crosses midnight: it opens on its listed day and closes the next day.
Boundaries are resolved to instants with the DST rule of
:mod:`worker.domain.timestamps` (gap: moved forward; fold: first occurrence).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from worker.domain.records import Record
from worker.domain.timestamps import (
    MINUTES_PER_DAY,
    UTC,
    load_zone,
    parse_hhmm,
    parse_minute_of_day,
    resolve_local,
)

__all__ = [
    "CallWindow",
    "Weekday",
    "WindowRange",
    "is_open",
    "minute_window_json",
    "next_boundary",
    "read_clock_window",
    "read_minute_window",
]

_LOOKAHEAD_DAYS = 8  # a week plus the overnight spill of its last day


class Weekday(enum.StrEnum):
    """English weekday names, as both vox and Sarvam spell them."""

    MONDAY = "Monday"
    TUESDAY = "Tuesday"
    WEDNESDAY = "Wednesday"
    THURSDAY = "Thursday"
    FRIDAY = "Friday"
    SATURDAY = "Saturday"
    SUNDAY = "Sunday"

    @classmethod
    def of(cls, day: date) -> Weekday:
        """The weekday of a calendar date."""
        return _WEEK[day.weekday()]


_WEEK = tuple(Weekday)
EVERY_DAY = _WEEK


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRange:
    """Minutes ``[start_min, end_min)`` from local midnight on each of ``days``."""

    days: tuple[Weekday, ...]
    start_min: int
    end_min: int

    @property
    def crosses_midnight(self) -> bool:
        """True when the range closes on the day after it opens."""
        return self.end_min <= self.start_min

    def to_json(self) -> dict[str, object]:
        """Plain JSON form, used in storage and events."""
        return {
            "days": [d.value for d in self.days],
            "start_min": self.start_min,
            "end_min": self.end_min,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWindow:
    """When dialing is allowed, normalized across providers.

    Attributes:
        timezone: IANA zone the minutes are read in.
        ranges: the allowed ranges; empty means never.
        auto_resume: whether the provider resumes by itself when the window
            reopens (vox); ``None`` where the provider has no such notion.
    """

    timezone: str
    ranges: tuple[WindowRange, ...]
    auto_resume: bool | None = None

    def to_json(self) -> dict[str, object]:
        """Plain JSON form, used in storage and events."""
        return {
            "timezone": self.timezone,
            "ranges": [r.to_json() for r in self.ranges],
            "auto_resume": self.auto_resume,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> CallWindow:
        """Inverse of :meth:`to_json`."""
        ranges = data["ranges"]
        auto_resume = data.get("auto_resume")
        assert isinstance(ranges, list)
        return cls(
            timezone=str(data["timezone"]),
            ranges=tuple(
                WindowRange(
                    days=tuple(Weekday(d) for d in r["days"]),
                    start_min=int(r["start_min"]),
                    end_min=int(r["end_min"]),
                )
                for r in ranges
            ),
            auto_resume=None if auto_resume is None else bool(auto_resume),
        )


def is_open(window: CallWindow, at: datetime) -> bool:
    """Whether ``window`` allows dialing at the aware instant ``at``."""
    local = at.astimezone(ZoneInfo(window.timezone))
    minute = local.hour * 60 + local.minute
    today = Weekday.of(local.date())
    yesterday = Weekday.of(local.date() - timedelta(days=1))
    for rng in window.ranges:
        if rng.crosses_midnight:
            if (today in rng.days and minute >= rng.start_min) or (
                yesterday in rng.days and minute < rng.end_min
            ):
                return True
        elif today in rng.days and rng.start_min <= minute < rng.end_min:
            return True
    return False


def next_boundary(window: CallWindow, after: datetime) -> datetime | None:
    """The first instant strictly after ``after`` where :func:`is_open` changes.

    Returns ``None`` when the state never changes within the coming week (an
    empty window, or one open around the clock).
    """
    zone = ZoneInfo(window.timezone)
    start_day = after.astimezone(zone).date() - timedelta(days=1)
    candidates: set[datetime] = set()
    for offset in range(_LOOKAHEAD_DAYS + 1):
        day = start_day + timedelta(days=offset)
        weekday = Weekday.of(day)
        for rng in window.ranges:
            if weekday not in rng.days:
                continue
            end_day = day + timedelta(days=1) if rng.crosses_midnight else day
            candidates.add(_instant(day, rng.start_min, zone))
            candidates.add(_instant(end_day, rng.end_min, zone))
    state = is_open(window, after)
    for candidate in sorted(c for c in candidates if c > after):
        if is_open(window, candidate) != state:
            return candidate
    return None


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), minute - MINUTES_PER_DAY
    naive = datetime.combine(day, time(minute // 60, minute % 60))
    return resolve_local(naive, zone).instant.astimezone(UTC)


def read_minute_window(record: Record, name: str = "call_time_window") -> CallWindow | None:
    """Read a minutes-from-midnight window, vox's ``call_time_window`` shape:
    ``{windows[{start_min,end_min,days}],timezone,auto_resume}``.

    ``start_min`` is 0..1439 and ``end_min`` 0..1440 minutes from local midnight;
    an end at or before its start crosses midnight. ``timezone`` is required
    whenever a window is given: vox documents a default only for creation.

    Raises:
        NormalizationError: naming the nested field, e.g. ``call_time_window.windows[0].days``.
    """
    window = record.child(name)
    if window is None:
        return None
    zone_name = window.text("timezone", required=True)
    assert zone_name is not None
    load_zone(zone_name, window.path("timezone"))
    ranges = []
    for index, item in enumerate(window.array("windows", required=True) or []):
        entry = Record(item, f"{window.path('windows')}[{index}]")
        start = parse_minute_of_day(entry.raw("start_min"), entry.path("start_min"))
        end = parse_minute_of_day(
            entry.raw("end_min"), entry.path("end_min"), allow_end_of_day=True
        )
        weekdays = _read_weekdays(entry, "days", required=True) or ()
        ranges.append(WindowRange(days=weekdays, start_min=start, end_min=end))
    return CallWindow(
        timezone=zone_name,
        ranges=tuple(ranges),
        auto_resume=window.boolean("auto_resume"),
    )


def read_clock_window(
    record: Record, name: str = "allowed_schedule", *, default_zone: str
) -> CallWindow | None:
    """Read a one-range ``HH:MM`` weekly window, Sarvam's ``allowed_schedule`` shape:
    ``{allowed_start_time,allowed_end_time,allowed_days,timezone}``.

    Both times are required local ``HH:MM``; an end at or before the start
    crosses midnight, so equal times mean around the clock. ``allowed_days``
    absent or null means every day, ``timezone`` absent or null ``default_zone``.

    Raises:
        NormalizationError: naming the nested field, e.g. ``allowed_schedule.allowed_days``.
    """
    schedule = record.child(name)
    if schedule is None:
        return None
    zone_name = schedule.text("timezone")
    if zone_name is None:
        zone_name = default_zone
    load_zone(zone_name, schedule.path("timezone"))
    start, end = (
        parse_hhmm(schedule.text(key, required=True), schedule.path(key))
        for key in ("allowed_start_time", "allowed_end_time")
    )
    days = _read_weekdays(schedule, "allowed_days", required=False)
    rng = WindowRange(days=EVERY_DAY if days is None else days, start_min=start, end_min=end)
    return CallWindow(timezone=zone_name, ranges=(rng,))


def _read_weekdays(record: Record, name: str, *, required: bool) -> tuple[Weekday, ...] | None:
    days = record.array(name, required=required)
    if days is None:
        return None
    try:
        return tuple(Weekday(day) for day in days)
    except ValueError:
        raise record.error(name, "expected English weekday names, e.g. 'Monday'") from None


def minute_window_json(window: CallWindow) -> dict[str, object]:
    """Render a window in vox's ``call_time_window`` shape (inverse of the reader)."""
    return {
        "windows": [r.to_json() for r in window.ranges],
        "timezone": window.timezone,
        "auto_resume": window.auto_resume,
    }
