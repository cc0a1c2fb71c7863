"""A VOXO campaign as the simulator keeps it, as requests change it, and as answers show it.

:class:`VoxoCampaign` holds what VOXO serves of a campaign, plus the bookkeeping
of the state machine in :mod:`worker.simulators.voxo_engine`, which advances it.

Validation follows VOXO's documented rules (docs/providers.md 3.3 and 3.4): ``name`` ≥ 3 characters,
``state`` READY|PAUSED, the date/time/callerId patterns, ``callFrequency`` > 9;
unknown fields are refused, and every failure is reported at once, keyed by
field in AJV's wording. Choices where VOXO is silent ([I]): ``recording``
accepts ``yes`` and ``no`` (the docs list only ``yes``, their sample shows
``no``); ``callHoursStart``/``callHoursEnd`` may be set to null to drop the
window; create requires ``name``, the four date/time fields and ``timezone``,
and a new campaign is ``PAUSED`` unless the body says otherwise.

List items and details are rendered field for field as docs/providers.md 3.4's
samples, ``lastrun`` naive in the campaign's zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.simulators.base import SimError
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span, is_open
from worker.simulators.wire.times import minutes_of_hhmm, wall_clock_instant, write_wall_clock

__all__ = [
    "STATES",
    "VoxoCampaign",
    "parse_create",
    "parse_patch",
    "render_detail",
    "render_list_item",
]

STATES = ("READY", "PAUSED")

_DATE = r"^([1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\d|3[0-1])$"
_HHMM = r"^([01]\d|2[0-3]):([0-5]\d)$"
_CALLER_ID = r"^[1-9]\d{9}$"
_REQUIRED_ON_CREATE = ("name", "dateStart", "timeStart", "dateEnd", "timeEnd", "timezone")


@dataclass
class VoxoCampaign:
    """One simulated VOXO campaign (mutable simulator state, not a domain value).

    ``created_at`` is the simulator's own: VOXO serves no creation time; the
    state machine plays dials from that instant on.
    """

    id: int
    tenant_id: int
    name: str
    date_start: str
    time_start: str
    date_end: str
    time_end: str
    timezone: str
    created_at: datetime
    state: str = "PAUSED"
    type: str = "SCHEDULED"
    caller_id: str | None = "6013151002"
    call_delay: int | None = 5000
    dialtimeout: int | None = 30
    tech: str | None = "VOICE"
    message: str | None = None
    call_frequency: int = 60
    call_hours_start: str | None = None
    call_hours_end: str | None = None
    recording: str | None = "no"
    numbers: list[dict[str, Any]] = field(default_factory=list)
    destinations: list[dict[str, Any]] = field(default_factory=list)
    enable_vm_detect: int = 0
    match_destinations: list[dict[str, Any]] = field(default_factory=list)
    not_match_destinations: list[dict[str, Any]] = field(default_factory=list)
    lastrun: datetime | None = None
    next_dial_at: datetime | None = None
    advanced_to: datetime | None = None
    transitions: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def starts_at(self) -> datetime:
        """``dateStart timeStart`` in ``timezone``, as an instant."""
        return self._instant(self.date_start, self.time_start)

    @property
    def ends_at(self) -> datetime:
        """``dateEnd timeEnd`` in ``timezone``, as an instant."""
        return self._instant(self.date_end, self.time_end)

    @property
    def window(self) -> Hours | None:
        """The daily call hours, every day, when both bounds are set."""
        if self.call_hours_start is None or self.call_hours_end is None:
            return None
        span = Span(
            days=EVERY_DAY,
            start_min=minutes_of_hhmm(self.call_hours_start),
            end_min=minutes_of_hhmm(self.call_hours_end),
        )
        return Hours(timezone=self.timezone, ranges=(span,))

    def in_hours(self, at: datetime) -> bool:
        """Inside the date range and the call hours (state aside)."""
        window = self.window
        return self.starts_at <= at < self.ends_at and (window is None or is_open(window, at))

    def waiting(self) -> list[int]:
        """Positions of the numbers not dialed yet, in dialing order."""
        return [i for i, n in enumerate(self.numbers) if not n.get("disposition")]

    def _instant(self, day: str, hhmm: str) -> datetime:
        # Both were checked against VOXO's patterns when they came in (a day past the
        # month's end still raises ValueError here, as nothing guards it).
        return wall_clock_instant(
            date.fromisoformat(day), minutes_of_hhmm(hhmm), ZoneInfo(self.timezone)
        )


Check = Callable[[Any], str | None]


def _pattern(regex: str) -> Check:
    compiled = re.compile(regex)
    return lambda v: (
        None if isinstance(v, str) and compiled.match(v) else f'must match pattern "{regex}"'
    )


def _one_of(*allowed: str) -> Check:
    return lambda v: None if v in allowed else "must be equal to one of the allowed values"


def _nullable(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def _zone(value: Any) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return "must be an IANA timezone identifier"
    return None


def _objects(*keys: str) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            return "must be array of objects"
        if any(k not in item for item in value for k in keys):
            return f"items must have required properties {', '.join(keys)}"
        return None

    return check


def _min_length(size: int) -> Check:
    return lambda v: (
        None
        if isinstance(v, str) and len(v) >= size
        else f"must NOT have fewer than {size} characters"
    )


def _above(low: int) -> Check:
    return lambda v: (
        None
        if isinstance(v, int | float) and not isinstance(v, bool) and v > low
        else f"must be > {low}"
    )


_DESTINATIONS = _objects("typeSrc", "destType", "id", "order")
_CHECKS: dict[str, tuple[str, Check]] = {  # JSON field -> (VoxoCampaign attribute, check)
    "name": ("name", _min_length(3)),
    "tech": ("tech", _one_of("VOICE")),
    "state": ("state", _one_of(*STATES)),
    "dateStart": ("date_start", _pattern(_DATE)),
    "timeStart": ("time_start", _pattern(_HHMM)),
    "dateEnd": ("date_end", _pattern(_DATE)),
    "timeEnd": ("time_end", _pattern(_HHMM)),
    "callerId": ("caller_id", _pattern(_CALLER_ID)),
    "recording": ("recording", _one_of("yes", "no")),
    "message": ("message", _min_length(0)),
    "numbers": ("numbers", _objects("number")),
    "destinations": ("destinations", _DESTINATIONS),
    "timezone": ("timezone", _zone),
    "callFrequency": ("call_frequency", _above(9)),
    "matchDestinations": ("match_destinations", _DESTINATIONS),
    "notMatchDestinations": ("not_match_destinations", _DESTINATIONS),
    "enableVMDetect": ("enable_vm_detect", _one_of("0", "1")),
    "callHoursStart": ("call_hours_start", _nullable(_pattern(_HHMM))),
    "callHoursEnd": ("call_hours_end", _nullable(_pattern(_HHMM))),
}


def parse_create(
    body: Any, *, campaign_id: int, tenant_id: int, created_at: datetime
) -> VoxoCampaign:
    """A new campaign of ``tenant_id`` from a create body; raises SimError 400."""
    changes = _changes(body, required=_REQUIRED_ON_CREATE)
    return VoxoCampaign(id=campaign_id, tenant_id=tenant_id, created_at=created_at, **changes)


def parse_patch(body: Any) -> dict[str, Any]:
    """Campaign attribute changes from a PATCH body; raises SimError 400."""
    return _changes(body, required=())


def _changes(body: Any, *, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SimError(400, "BadRequest", "Request body must be a JSON object")
    errors = {name: "must NOT have additional properties" for name in body if name not in _CHECKS}
    errors |= {name: "is a required property" for name in required if name not in body}
    for name, value in body.items():
        if name in _CHECKS and (problem := _CHECKS[name][1](value)) is not None:
            errors[name] = problem
    if errors:
        raise SimError(400, "BadRequest", "Validation failed", dict(sorted(errors.items())))
    changes = {_CHECKS[name][0]: value for name, value in body.items()}
    if "numbers" in changes:
        changes["numbers"] = [
            {
                "number": str(n["number"]),
                "description": str(n.get("description") or ""),
                "disposition": str(n.get("disposition") or ""),
            }
            for n in changes["numbers"]
        ]
    if "enable_vm_detect" in changes:  # a string in requests, an integer in responses
        changes["enable_vm_detect"] = int(changes["enable_vm_detect"])
    if "call_frequency" in changes:
        changes["call_frequency"] = int(changes["call_frequency"])
    return changes


def render_list_item(c: VoxoCampaign) -> dict[str, Any]:
    """The list item, field for field as docs/providers.md 3.4's sample."""
    return {
        "id": c.id,
        "tenantId": c.tenant_id,
        "name": c.name,
        "type": c.type,
        "dateStart": c.date_start,
        "dateEnd": c.date_end,
        "callerId": c.caller_id,
        "callDelay": c.call_delay,
        "state": c.state,
        "lastrun": None if c.lastrun is None else write_wall_clock(c.lastrun, ZoneInfo(c.timezone)),
        "dialtimeout": c.dialtimeout,
        "tech": c.tech,
        "message": c.message,
        "timeStart": c.time_start,
        "timeEnd": c.time_end,
        "timezone": c.timezone,
        "callFrequency": c.call_frequency,
        "callHoursStart": c.call_hours_start,
        "callHoursEnd": c.call_hours_end,
        "recording": c.recording,
    }


def render_detail(c: VoxoCampaign) -> dict[str, Any]:
    """The detail and PATCH/create answer: the list item and more (docs/providers.md 3.3)."""
    return {
        **render_list_item(c),
        "numbers": [
            {
                "number": n["number"],
                "description": n["description"],
                "disposition": n["disposition"],
            }
            for n in c.numbers
        ],
        "destinations": [dict(d) for d in c.destinations],
        "enableVMDetect": c.enable_vm_detect,
        "matchDestinations": [dict(d) for d in c.match_destinations],
        "notMatchDestinations": [dict(d) for d in c.not_match_destinations],
    }
