"""Reading the JSON bodies the simulators accept, field by field.

A wrong field raises :class:`~worker.simulators.wire.errors.BadField` naming its dotted path
(``call_time_window.windows[0].days``), its value and why; each simulator answers it in its
provider's error envelope. Beside the generic :class:`Body` are the two calling-hours shapes
requests carry: vox's ``call_time_window`` (minutes from midnight) and Sarvam's
``allowed_schedule`` (``HH:MM`` times).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.simulators.wire.errors import ABSENT, BadField
from worker.simulators.wire.hours import EVERY_DAY, WEEKDAYS, Hours, Span
from worker.simulators.wire.times import read_iso8601, read_unix_ms

__all__ = ["Body", "read_sarvam_schedule", "read_vox_window"]

_HHMM = re.compile(r"(?P<hours>[0-9]{2}):(?P<minutes>[0-9]{2})")
_MINUTES_A_DAY = 24 * 60


class Body:
    """A JSON object from a request, and the dotted path it sits at (``""`` for the body).

    The typed readers answer ``None`` for a field that is absent or null, or refuse it as
    ``required``; a value of another JSON type is refused as ``expected <type>, got <type>``.

    Raises:
        BadField: from the constructor, when ``value`` is not a JSON object.
    """

    __slots__ = ("_at", "_fields")

    def __init__(self, value: Any, at: str = "") -> None:
        if not isinstance(value, dict):
            raise BadField(at, value, f"expected an object, got {type(value).__name__}")
        self._fields: dict[str, Any] = value
        self._at = at

    def path(self, name: str) -> str:
        """The dotted path of the field ``name``."""
        return f"{self._at}.{name}" if self._at else name

    def names(self) -> list[str]:
        """The keys the object has."""
        return list(self._fields)

    def has(self, name: str) -> bool:
        """Whether the key is there, even with null."""
        return name in self._fields

    def get(self, name: str) -> Any:
        """The raw value, or :data:`~worker.simulators.wire.errors.ABSENT`."""
        return self._fields.get(name, ABSENT)

    def refuse(self, name: str, reason: str) -> BadField:
        """The refusal of field ``name`` with its value, to raise."""
        return BadField(self.path(name), self.get(name), reason)

    def _typed(self, name: str, kind: type, label: str, *, required: bool) -> Any:
        value = self._fields.get(name)
        if value is None:
            if required:
                raise self.refuse(name, "required")
            return None
        # JSON true is a bool, and Python's bool is an int: only a boolean field takes one.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.refuse(name, f"expected {label}, got {type(value).__name__}")
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A JSON string."""
        value: str | None = self._typed(name, str, "string", required=required)
        return value

    def integer(self, name: str, *, minimum: int | None, required: bool = False) -> int | None:
        """A JSON integer, refused below ``minimum`` (``None``: no bound)."""
        value: int | None = self._typed(name, int, "integer", required=required)
        if value is not None and minimum is not None and value < minimum:
            raise self.refuse(name, f"must be >= {minimum}")
        return value

    def boolean(self, name: str) -> bool | None:
        """A JSON boolean."""
        value: bool | None = self._typed(name, bool, "boolean", required=False)
        return value

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        """A JSON array."""
        value: list[Any] | None = self._typed(name, list, "array", required=required)
        return value

    def child(self, name: str, *, required: bool = False) -> Body | None:
        """A nested JSON object, as a Body at its own path."""
        value = self._typed(name, dict, "object", required=required)
        return None if value is None else Body(value, self.path(name))

    def unix_ms(self, name: str) -> datetime | None:
        """An instant in integer unix milliseconds."""
        value = self._fields.get(name)
        return None if value is None else read_unix_ms(value, self.path(name))

    def iso8601(self, name: str, *, required: bool = False) -> datetime | None:
        """An instant in ISO-8601 with ``Z`` or an offset."""
        value = self._fields.get(name)
        if value is None and required:
            raise self.refuse(name, "required")
        return None if value is None else read_iso8601(value, self.path(name))


def _zone(name: str, field: str) -> str:
    if not name:
        raise BadField(field, name, "expected an IANA zone name")
    try:
        ZoneInfo(name)
    # OSError: a name the zone files cannot be looked up by (too long, a directory).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadField(field, name, "unknown IANA zone") from None
    return name


def _weekdays(body: Body, name: str, *, required: bool) -> tuple[str, ...] | None:
    days = body.array(name, required=required)
    if days is None:
        return None
    if not all(isinstance(day, str) and day in WEEKDAYS for day in days):
        raise body.refuse(name, "expected English weekday names, e.g. 'Monday'")
    return tuple(days)


def _minute_of_day(body: Body, name: str, *, last: int) -> int:
    value = body.get(name)
    if value is ABSENT or value is None:
        raise body.refuse(name, "required")
    if type(value) is not int:
        raise body.refuse(
            name, f"expected integer minutes from midnight, got {type(value).__name__}"
        )
    if not 0 <= value <= last:
        raise body.refuse(name, f"out of range 0..{last}")
    return value


def read_vox_window(body: Body, name: str = "call_time_window") -> Hours | None:
    """vox's ``{windows[{start_min, end_min, days}], timezone, auto_resume}``, or None if null.

    ``start_min`` is 0..1439 and ``end_min`` 0..1440; ``timezone`` and ``windows`` are required.
    """
    window = body.child(name)
    if window is None:
        return None
    zone = _zone(window.text("timezone", required=True) or "", window.path("timezone"))
    spans = []
    for index, item in enumerate(window.array("windows", required=True) or []):
        entry = Body(item, f"{window.path('windows')}[{index}]")
        start = _minute_of_day(entry, "start_min", last=_MINUTES_A_DAY - 1)
        end = _minute_of_day(entry, "end_min", last=_MINUTES_A_DAY)
        days = _weekdays(entry, "days", required=True) or ()
        spans.append(Span(days=days, start_min=start, end_min=end))
    return Hours(timezone=zone, ranges=tuple(spans), auto_resume=window.boolean("auto_resume"))


def _hhmm(body: Body, name: str) -> int:
    text = body.text(name, required=True) or ""
    parts = _HHMM.fullmatch(text)
    if parts is None:
        raise body.refuse(name, "expected 'HH:MM'")
    hours, minutes = int(parts["hours"]), int(parts["minutes"])
    if hours > 23 or minutes > 59:
        raise body.refuse(name, "out of range")
    return hours * 60 + minutes


def read_sarvam_schedule(
    body: Body, *, default_zone: str, name: str = "allowed_schedule"
) -> Hours | None:
    """Sarvam's ``{allowed_start_time, allowed_end_time, allowed_days, timezone}``, or None.

    Both times are required; ``allowed_days`` absent or null means every day, ``timezone``
    absent or null ``default_zone``.
    """
    schedule = body.child(name)
    if schedule is None:
        return None
    zone = schedule.text("timezone")
    zone = _zone(default_zone if zone is None else zone, schedule.path("timezone"))
    start, end = _hhmm(schedule, "allowed_start_time"), _hhmm(schedule, "allowed_end_time")
    days = _weekdays(schedule, "allowed_days", required=False)
    span = Span(days=EVERY_DAY if days is None else days, start_min=start, end_min=end)
    return Hours(timezone=zone, ranges=(span,))
