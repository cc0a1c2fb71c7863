"""VOXO simulator payloads: create/PATCH validation and the campaign and user bodies.

Validation follows the seed's rules (page 003): ``name`` ≥ 3 characters,
``state`` READY|PAUSED, the date/time/callerId patterns, ``callFrequency`` > 9;
unknown fields are refused, and every failure is reported at once, keyed by
field in AJV's wording. Choices where VOXO is silent ([I]): ``recording``
accepts ``yes`` and ``no`` (the seed lists only ``yes``, the sample shows
``no``); ``callHoursStart``/``callHoursEnd`` may be set to null to drop the
window; create requires ``name``, the four date/time fields and ``timezone``,
and a new campaign is ``PAUSED`` unless the body says otherwise.

Bodies are rendered field for field as PROVIDERS.md 2.3's samples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.simulators.base import SimError
from worker.simulators.voxo_engine import STATES, VoxoCampaign, VoxoEngine, VoxoUser

__all__ = ["parse_create", "parse_patch", "render_detail", "render_list_item", "render_user"]

_DATE = r"^([1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\d|3[0-1])$"
_HHMM = r"^([01]\d|2[0-3]):([0-5]\d)$"
_CALLER_ID = r"^[1-9]\d{9}$"
_REQUIRED_ON_CREATE = ("name", "dateStart", "timeStart", "dateEnd", "timeEnd", "timezone")

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


def parse_create(body: Any, engine: VoxoEngine, *, tenant_id: int) -> VoxoCampaign:
    """A new campaign of ``tenant_id`` from a create body; raises SimError 400."""
    return VoxoCampaign(
        id=engine.next_id(),
        tenant_id=tenant_id,
        created_at=engine.clock.now(),
        **_changes(body, required=_REQUIRED_ON_CREATE),
    )


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
    """The list item, field for field as PROVIDERS.md 2.3's sample."""
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
        "lastrun": _naive(c.lastrun, ZoneInfo(c.timezone)),
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
    """The detail (and PATCH/create response): the list item plus the seed's extra fields."""
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


def render_user(user: VoxoUser) -> dict[str, Any]:
    """The ``user`` of a login answer."""
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "tenantId": user.tenant_id,
        # Same naive format as lastrun; VOXO does not say in which zone [I: UTC].
        "lastOnline": _naive(user.last_online, UTC),
    }


def _naive(at: datetime | None, zone: tzinfo) -> str | None:
    """An instant as VOXO writes its times: naive ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    return None if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
