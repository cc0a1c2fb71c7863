"""Calling hours: when a simulated campaign may dial, and the instant that next changes.

Hours are an IANA zone and spans of minutes from local midnight on named weekdays
(``"Monday"`` … ``"Sunday"``, as vox and Sarvam spell them). A span is open from
``start_min`` up to, not including, ``end_min``; a span whose end is at or before its start
runs through midnight into the next day (equal ends: around the clock).

Whether hours are open depends only on what the zone's wall clock shows, so the engines
ask :func:`is_open` at an instant and :func:`next_change` for the first later instant where
the answer differs: a ``paused_by=system`` pause, a resume, the dialer stopping.

The engines take any :class:`WeeklyHours`: the simulators build :class:`Hours`; a test may
hand them another object with the same attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from worker.simulators.wire.times import arrivals

__all__ = [
    "EVERY_DAY",
    "WEEKDAYS",
    "DailySpan",
    "Hours",
    "Span",
    "WeeklyHours",
    "is_open",
    "next_change",
    "sarvam_schedule_json",
    "vox_window_json",
]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVERY_DAY = WEEKDAYS
_DAYS_AHEAD = 8  # a week, plus the night that runs into the day after it


class DailySpan(Protocol):
    """Minutes ``[start_min, end_min)`` from local midnight on each of ``days``."""

    @property
    def days(self) -> Sequence[str]: ...
    @property
    def start_min(self) -> int: ...
    @property
    def end_min(self) -> int: ...


class WeeklyHours(Protocol):
    """Spans in a zone; ``auto_resume`` is vox's flag (``None`` where a provider has none)."""

    @property
    def timezone(self) -> str: ...
    @property
    def ranges(self) -> Sequence[DailySpan]: ...
    @property
    def auto_resume(self) -> bool | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """One :class:`DailySpan` as the simulators keep it."""

    days: tuple[str, ...]
    start_min: int
    end_min: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Hours:
    """One :class:`WeeklyHours` as the simulators keep it."""

    timezone: str
    ranges: tuple[Span, ...]
    auto_resume: bool | None = None


def _covers(span: DailySpan, weekday: int, minute: int) -> bool:
    """Whether ``span`` is open at ``minute`` of a day whose weekday is ``weekday`` (0 = Monday)."""
    today, yesterday = WEEKDAYS[weekday], WEEKDAYS[(weekday - 1) % 7]
    if span.start_min < span.end_min:
        return today in span.days and span.start_min <= minute < span.end_min
    evening = today in span.days and minute >= span.start_min
    morning_after = yesterday in span.days and minute < span.end_min
    return evening or morning_after


def is_open(hours: WeeklyHours, at: datetime) -> bool:
    """Whether ``hours`` allow dialing at the aware instant ``at``."""
    local = at.astimezone(ZoneInfo(hours.timezone))
    minute = local.hour * 60 + local.minute
    return any(_covers(span, local.weekday(), minute) for span in hours.ranges)


def next_change(hours: WeeklyHours, after: datetime) -> datetime | None:
    """The first instant later than ``after`` at which :func:`is_open` answers differently.

    ``None`` when it answers the same for the coming week (no spans, or open around the
    clock). The answer can only change where the wall clock arrives at a span's start or
    end, so those arrivals are the candidates, clock changes included.
    """
    zone = ZoneInfo(hours.timezone)
    first_day = after.astimezone(zone).date() - timedelta(days=1)
    candidates: set[datetime] = set()
    for offset in range(_DAYS_AHEAD + 1):
        day = first_day + timedelta(days=offset)
        for span in hours.ranges:
            for minute in (span.start_min, span.end_min):
                candidates.update(arrivals(_wall(day, minute), zone))
    now_open = is_open(hours, after)
    for candidate in sorted(c for c in candidates if c > after):
        if is_open(hours, candidate) != now_open:
            return candidate
    return None


def _wall(day: date, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(minutes=minute)


def vox_window_json(hours: WeeklyHours) -> dict[str, Any]:
    """vox's ``call_time_window``: ``{windows[{days,start_min,end_min}],timezone,auto_resume}``."""
    return {
        "windows": [
            {
                "days": [str(day) for day in span.days],
                "start_min": span.start_min,
                "end_min": span.end_min,
            }
            for span in hours.ranges
        ],
        "timezone": hours.timezone,
        "auto_resume": hours.auto_resume,
    }


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def sarvam_schedule_json(hours: WeeklyHours) -> dict[str, Any]:
    """Sarvam's ``allowed_schedule`` (one span): local ``HH:MM`` times, day names and the zone."""
    span = hours.ranges[0]
    return {
        "allowed_start_time": _hhmm(span.start_min),
        "allowed_end_time": _hhmm(span.end_min),
        "allowed_days": [str(day) for day in span.days],
        "timezone": hours.timezone,
    }
