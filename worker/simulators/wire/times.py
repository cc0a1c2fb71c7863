"""The providers' time formats as the simulators write and read them.

Writing (every answer a simulator serves):

* :func:`write_unix_ms`: whole milliseconds since 1970-01-01T00:00:00Z (vox v3 ``*_at``);
* :func:`write_iso8601`: ``YYYY-MM-DDTHH:MM:SS`` in UTC with ``Z``, plus ``.mmm`` when the instant
  has milliseconds, ``.uuuuuu`` when it has microseconds finer than that (vox v2, Sarvam);
* :func:`write_wall_clock`: ``YYYY-MM-DD HH:MM:SS`` as a wall clock in a zone shows the instant,
  no zone written (VOXO ``lastrun``).

Reading (request bodies, and the VOXO schedule a simulator keeps as the strings it was sent):

* :func:`read_unix_ms`, :func:`read_unix_seconds`: a JSON integer within 1970..9999;
* :func:`read_iso8601`: a date-time carrying ``Z`` or a numeric offset;
* :func:`wall_clock_instant`: a wall-clock date and time in an IANA zone (VOXO's
  ``dateStart``/``timeStart``/``timezone``): the first instant at which that zone's clocks
  show that time or later. So an ordinary time is itself, a time that happens twice (clocks
  set back) is its first occurrence, and a time that never happens (clocks set forward) is
  the instant the clocks jump past it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from worker.simulators.wire.errors import BadField

__all__ = [
    "EPOCH",
    "LAST_UNIX_MS",
    "arrivals",
    "clock_jump",
    "instants_showing",
    "minutes_of_hhmm",
    "read_iso8601",
    "read_unix_ms",
    "read_unix_seconds",
    "wall_clock",
    "wall_clock_instant",
    "write_iso8601",
    "write_unix_ms",
    "write_wall_clock",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)

# YYYY-MM-DD, T or a space, HH:MM, optional :SS and a fraction of 1-9 digits, then the offset.
_ISO8601 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[T ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?:(?P<zulu>[Zz])|(?P<sign>[+-])(?P<off_hours>[0-9]{2}):?(?P<off_minutes>[0-9]{2}))?"
)


def _aware(instant: datetime) -> datetime:
    if instant.utcoffset() is None:
        raise ValueError(f"{instant!r} is naive: no instant to write")
    return instant


def write_unix_ms(instant: datetime) -> int:
    """Milliseconds from the epoch to ``instant``, rounded down to the millisecond."""
    elapsed = _aware(instant) - EPOCH
    return elapsed.days * 86_400_000 + elapsed.seconds * 1000 + elapsed.microseconds // 1000


LAST_UNIX_MS = write_unix_ms(datetime.max.replace(tzinfo=UTC))  # 9999-12-31T23:59:59.999Z


def write_iso8601(instant: datetime) -> str:
    """``instant`` in UTC as ISO-8601 with ``Z``; a fraction only when it has one."""
    u = _aware(instant).astimezone(UTC)
    text = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
    if u.microsecond % 1000:
        text += f".{u.microsecond:06d}"
    elif u.microsecond:
        text += f".{u.microsecond // 1000:03d}"
    return text + "Z"


def wall_clock(instant: datetime, zone: tzinfo) -> datetime:
    """What a wall clock in ``zone`` shows at ``instant`` (naive)."""
    return _aware(instant).astimezone(zone).replace(tzinfo=None)


def write_wall_clock(instant: datetime, zone: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` as a wall clock in ``zone`` shows ``instant``."""
    w = wall_clock(instant, zone)
    return f"{w.year:04d}-{w.month:02d}-{w.day:02d} {w.hour:02d}:{w.minute:02d}:{w.second:02d}"


def _whole_number(value: Any, field: str, unit: str) -> int:
    if type(value) is not int:  # JSON true is a bool, and a bool is no count of anything
        raise BadField(field, value, f"expected integer {unit}, got {type(value).__name__}")
    return value


def read_unix_ms(value: Any, field: str) -> datetime:
    """A JSON integer of unix milliseconds; raises BadField outside 1970..9999 or not an integer."""
    ms = _whole_number(value, field, "unix milliseconds")
    if ms < 0 or ms > LAST_UNIX_MS:
        raise BadField(field, value, "out of range")
    return EPOCH + timedelta(milliseconds=ms)


def read_unix_seconds(value: Any, field: str) -> datetime:
    """A JSON integer of unix seconds; raises BadField outside 1970..9999 or not an integer."""
    seconds = _whole_number(value, field, "unix seconds")
    if seconds < 0 or seconds > LAST_UNIX_MS // 1000:
        raise BadField(field, value, "out of range")
    return EPOCH + timedelta(seconds=seconds)


def read_iso8601(value: Any, field: str) -> datetime:
    """An ISO-8601 date-time with ``Z`` or ``±HH:MM``/``±HHMM``, as aware UTC.

    Digits of a fraction past the sixth (microseconds) are dropped.

    Raises:
        BadField: not a string, not that shape, no offset, or not a real date-time.
    """
    if not isinstance(value, str):
        raise BadField(field, value, f"expected ISO-8601 string, got {type(value).__name__}")
    parts = _ISO8601.fullmatch(value.strip())
    if parts is None:
        raise BadField(field, value, "not an ISO-8601 date-time")
    if parts["zulu"] is None and parts["sign"] is None:
        raise BadField(field, value, "no UTC offset; naive times need a declared zone")
    offset = timedelta(0)
    if parts["sign"] is not None:
        offset = timedelta(hours=int(parts["off_hours"]), minutes=int(parts["off_minutes"]))
        offset = -offset if parts["sign"] == "-" else offset
    year, month, day, hour, minute = (
        int(parts[n]) for n in ("year", "month", "day", "hour", "minute")
    )
    second = int(parts["second"] or 0)
    microsecond = int((parts["fraction"] or "").ljust(6, "0")[:6])
    try:
        local = datetime(year, month, day, hour, minute, second, microsecond, timezone(offset))
        return local.astimezone(UTC)
    except ValueError as exc:
        raise BadField(field, value, f"not a valid date-time ({exc})") from None
    except OverflowError:
        raise BadField(field, value, "out of range") from None


def minutes_of_hhmm(text: str) -> int:
    """Minutes from midnight of an ``HH:MM`` the simulator has already checked."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _both_readings(wall: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """``wall`` read with the offset before and with the offset after any change, as instants."""
    first, second = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return first, second


def instants_showing(wall: datetime, zone: tzinfo) -> list[datetime]:
    """Every instant at which clocks in ``zone`` show the naive ``wall``, earliest first.

    One for an ordinary time, two when clocks are set back over it, none when they skip it.
    """
    return sorted({at for at in _both_readings(wall, zone) if wall_clock(at, zone) == wall})


def clock_jump(zone: tzinfo, before: datetime, after: datetime) -> datetime:
    """The whole second at which clocks in ``zone`` change offset, between ``before`` and ``after``.

    ``before`` and ``after`` must have different offsets with one change between them: the
    answer is the first second in ``(before, after]`` that already has ``after``'s offset.
    """
    new_offset = after.astimezone(zone).utcoffset()
    low = (before - EPOCH) // _SECOND  # still the old offset
    high = -((EPOCH - after) // _SECOND)  # the new one (rounded up to a whole second)
    while high - low > 1:
        middle = (low + high) // 2
        if (EPOCH + middle * _SECOND).astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return EPOCH + high * _SECOND


def arrivals(wall: datetime, zone: tzinfo) -> list[datetime]:
    """The instants at which clocks in ``zone`` come to the naive ``wall``, earliest first.

    Each instant they show it and, when they skip it or are set back across it, the jump.
    """
    showing = instants_showing(wall, zone)
    if len(showing) == 1:
        return showing
    return sorted({*showing, clock_jump(zone, *_both_readings(wall, zone))})


def wall_clock_instant(day: date, minute_of_day: int, zone: tzinfo) -> datetime:
    """The first instant at which clocks in ``zone`` show ``day`` at ``minute_of_day`` or later.

    Raises:
        OverflowError: the instant falls outside the years datetime holds.
    """
    wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minute_of_day)
    # Shown: its first showing. Skipped: the clocks pass it at the jump.
    return arrivals(wall, zone)[0]
