"""Every time conversion campaign-sync does, with one explicit rule per input format.

All functions return aware datetimes in UTC. None of them ever reads the host's
zone: a naive wall-clock value is only accepted together with an IANA zone.

Errors name the field and the raw value, e.g. ``scheduled_at=-5: out of range``.

DST rule for local wall-clock times (VOXO dates, naive ``lastrun``):

* **gap** (the wall time does not exist, e.g. 02:30 on a spring-forward night):
  the transition itself (03:00 local): what is due "at 02:30" happens once that
  wall time has passed, and every time in the gap maps to that one instant.
* **fold** (the wall time happens twice, e.g. 01:30 on a fall-back night):
  the *first* occurrence (PEP 495 ``fold=0``).

So later wall times never resolve to earlier instants. Both cases are reported as
a :class:`LocalAdjustment`, so the caller can flag the record.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.errors import TimestampError

__all__ = [
    "MAX_UNIX_MS",
    "UTC",
    "LocalAdjustment",
    "LocalTime",
    "load_zone",
    "parse_date",
    "parse_date_and_time",
    "parse_hhmm",
    "parse_iso8601",
    "parse_local_datetime",
    "parse_minute_of_day",
    "parse_unix_ms",
    "parse_unix_seconds",
    "resolve_local",
    "to_iso8601",
    "to_unix_ms",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_UNIX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant datetime holds
MINUTES_PER_DAY = 1440

_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?P<frac>\.\d{1,9})?)?)"
    r"(?P<offset>Z|z|[+-]\d{2}:?\d{2})$"
)
_LOCAL_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LONGEST_ZONE_NAME = 64  # the longest IANA name is 32 characters (America/Argentina/ComodRivadavia)
_HHMM_RE = re.compile(r"^(?P<h>\d{2}):(?P<m>\d{2})$")


class LocalAdjustment(enum.StrEnum):
    """How a local wall-clock time was resolved when DST made it irregular."""

    GAP = "gap"  # did not exist; moved forward by the gap
    FOLD = "fold"  # happened twice; the first occurrence was taken


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalTime:
    """A local wall-clock time resolved to an instant.

    Attributes:
        instant: the aware UTC instant.
        adjustment: ``None`` for a regular time, else how DST was resolved.
    """

    instant: datetime
    adjustment: LocalAdjustment | None = None


def _require_int(value: Any, field: str, unit: str) -> int:
    # bool is an int subclass; a JSON true where a time belongs is a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TimestampError(field, value, f"expected integer {unit}, got {type(value).__name__}")
    return value


def parse_unix_ms(value: Any, field: str) -> datetime:
    """Read integer unix milliseconds (vox v3 ``*_at`` fields).

    Raises:
        TimestampError: not an integer, or outside 1970-01-01..9999-12-31.
    """
    ms = _require_int(value, field, "unix milliseconds")
    if not 0 <= ms <= MAX_UNIX_MS:
        raise TimestampError(field, value, "out of range")
    return _EPOCH + timedelta(milliseconds=ms)


def parse_unix_seconds(value: Any, field: str) -> datetime:
    """Read integer unix seconds.

    Raises:
        TimestampError: not an integer, or outside 1970-01-01..9999-12-31.
    """
    seconds = _require_int(value, field, "unix seconds")
    if not 0 <= seconds <= MAX_UNIX_MS // 1000:
        raise TimestampError(field, value, "out of range")
    return _EPOCH + timedelta(seconds=seconds)


def parse_iso8601(value: Any, field: str) -> datetime:
    """Read an ISO-8601 date-time that carries ``Z`` or a numeric offset.

    Fractions of up to nine digits are accepted; digits past microseconds are
    truncated, because PostgreSQL and Python both stop at microseconds.

    Raises:
        TimestampError: not a string, no offset (naive), or not a real date-time.
    """
    if not isinstance(value, str):
        raise TimestampError(field, value, f"expected ISO-8601 string, got {type(value).__name__}")
    match = _ISO_RE.match(value.strip())
    if match is None:
        reason = (
            "no UTC offset; naive times need a declared zone"
            if _looks_naive(value)
            else "not an ISO-8601 date-time"
        )
        raise TimestampError(field, value, reason)
    frac = match["frac"] or ""
    text = f"{match['date']}T{match['time'].removesuffix(frac)}{frac[:7]}"
    offset = match["offset"].upper()
    offset = "+00:00" if offset == "Z" else offset
    if len(offset) == 5:  # +HHMM
        offset = f"{offset[:3]}:{offset[3:]}"
    try:
        parsed = datetime.fromisoformat(text + offset)
    except ValueError as exc:
        raise TimestampError(field, value, f"not a valid date-time ({exc})") from None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise TimestampError(field, value, "out of range") from None


def _looks_naive(value: str) -> bool:
    return (
        re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", value.strip()) is not None
    )


def load_zone(name: Any, field: str) -> ZoneInfo:
    """Load an IANA zone by name.

    Raises:
        TimestampError: not a string or not a known IANA zone.
    """
    if not isinstance(name, str) or not name:
        raise TimestampError(field, name, "expected an IANA zone name")
    if len(name) > _LONGEST_ZONE_NAME:
        raise TimestampError(field, name, "unknown IANA zone")
    try:
        return ZoneInfo(name)
    # OSError: a name the zone database's file lookup refuses (too long, a directory).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimestampError(field, name, "unknown IANA zone") from None


def resolve_local(naive: datetime, zone: ZoneInfo) -> LocalTime:
    """Turn a naive wall-clock time in ``zone`` into a UTC instant (DST rule above)."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    instant = first.astimezone(UTC)
    if first.utcoffset() == second.utcoffset():
        return LocalTime(instant=instant)
    # Offsets differ for fold 0/1: either a gap or a fold. A gap time does not
    # survive a round trip through UTC; a fold time does.
    round_trip = instant.astimezone(zone).replace(tzinfo=None)
    if round_trip == naive:
        return LocalTime(instant=instant, adjustment=LocalAdjustment.FOLD)
    later = second.astimezone(UTC)
    return LocalTime(
        instant=_transition(zone, min(instant, later), max(instant, later)),
        adjustment=LocalAdjustment.GAP,
    )


def _transition(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first whole second in ``(low, high]`` that has ``high``'s UTC offset."""
    target = high.astimezone(zone).utcoffset()
    lo, hi = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def parse_local_datetime(value: Any, zone: ZoneInfo, field: str) -> LocalTime:
    """Read a naive ``YYYY-MM-DD HH:MM:SS`` (VOXO ``lastrun``) as wall-clock time in ``zone``.

    Raises:
        TimestampError: not a string of that exact shape, or not a real date-time.
    """
    if not isinstance(value, str) or _LOCAL_RE.match(value) is None:
        raise TimestampError(field, value, "expected 'YYYY-MM-DD HH:MM:SS'")
    try:
        naive = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")  # zone applied next
    except ValueError as exc:
        raise TimestampError(field, value, f"not a valid date-time ({exc})") from None
    return _resolve_in_range(naive, zone, field, value)


def parse_date(value: Any, field: str) -> date:
    """Read a ``YYYY-MM-DD`` calendar date.

    Raises:
        TimestampError: not a string of that shape, or not a real date.
    """
    if not isinstance(value, str) or _DATE_RE.match(value) is None:
        raise TimestampError(field, value, "expected 'YYYY-MM-DD'")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise TimestampError(field, value, f"not a valid date ({exc})") from None


def parse_hhmm(value: Any, field: str) -> int:
    """Read a 24-hour ``HH:MM`` and return minutes from midnight (0..1439).

    Raises:
        TimestampError: not ``HH:MM`` or out of range.
    """
    match = _HHMM_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise TimestampError(field, value, "expected 'HH:MM'")
    hours, minutes = int(match["h"]), int(match["m"])
    if hours > 23 or minutes > 59:
        raise TimestampError(field, value, "out of range")
    return hours * 60 + minutes


def parse_date_and_time(
    date_value: Any, time_value: Any, zone: ZoneInfo, *, date_field: str, time_field: str
) -> LocalTime:
    """Combine a ``YYYY-MM-DD`` date and an ``HH:MM`` time read in ``zone`` (VOXO schedule).

    Raises:
        TimestampError: naming whichever of the two fields is malformed.
    """
    day = parse_date(date_value, date_field)
    minute = parse_hhmm(time_value, time_field)
    naive = datetime.combine(day, time(minute // 60, minute % 60))
    return _resolve_in_range(naive, zone, date_field, f"{date_value} {time_value}")


def _resolve_in_range(naive: datetime, zone: ZoneInfo, field: str, value: Any) -> LocalTime:
    """:func:`resolve_local`, refusing a wall-clock time whose instant falls outside the
    years 1..9999 that ``datetime`` holds (``0001-01-01 00:00`` in Seoul is in year 0)."""
    try:
        return resolve_local(naive, zone)
    except OverflowError:
        raise TimestampError(field, value, "out of range") from None


def parse_minute_of_day(value: Any, field: str, *, allow_end_of_day: bool = False) -> int:
    """Read minutes from midnight (vox ``call_time_window``): 0..1439, or 1440 for an end.

    Raises:
        TimestampError: not an integer, or out of range.
    """
    minute = _require_int(value, field, "minutes from midnight")
    upper = MINUTES_PER_DAY if allow_end_of_day else MINUTES_PER_DAY - 1
    if not 0 <= minute <= upper:
        raise TimestampError(field, value, f"out of range 0..{upper}")
    return minute


def to_unix_ms(instant: datetime) -> int:
    """Render an aware datetime as unix milliseconds (simulators, fixtures)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime has no instant")
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def to_iso8601(instant: datetime) -> str:
    """Render an aware datetime as ISO-8601 UTC with ``Z``; fractions only when present."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime has no instant")
    utc = instant.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
    text = utc.isoformat(timespec=spec if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")
