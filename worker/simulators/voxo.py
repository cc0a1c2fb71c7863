"""VOXO simulator: token login, ``/v2/call-campaigns`` and the admin create/PATCH endpoints.

Serves the documented paths and payloads (PROVIDERS.md section 2, seed page 003)
over :class:`~worker.simulators.voxo_engine.VoxoEngine`. Choices where VOXO is
silent ([I]):

* ``POST /authentication`` and ``POST /v2/authentication`` both answer 201
  (FeathersJS ``create``; third-party apps report 201 for the latter) with
  ``{"accessToken", "authentication": {"strategy": "local"}, "user": {…}}``.
* Errors use the FeathersJS shape ``{"name", "message", "code", "className",
  "errors"}`` (undocumented; the auth shape is FeathersJS-like): a bad login, a
  missing, unknown or expired token answer 401 ``NotAuthenticated``; a
  ``tenantId`` other than the token user's answers 403 ``Forbidden``; an unknown
  campaign 404 ``NotFound``; validation failures 400 ``BadRequest`` with
  ``errors`` keyed by field in AJV's wording.
* The list is a bare array sorted by id, unpaged: the ``page_size`` fault knob
  does not apply, VOXO has no paging to shrink.
* PATCH validates the seed's rules (``name`` ≥ 3 characters, ``state``
  READY|PAUSED, the date/time/callerId patterns, ``callFrequency`` > 9,
  ``campaignId`` > 0); unknown fields are refused. ``recording`` accepts
  ``yes`` and ``no`` (the seed lists only ``yes``, the sample shows ``no``);
  ``callHoursStart``/``callHoursEnd`` may be set to null to drop the window.
* Create requires ``name``, the four date/time fields and ``timezone``; a new
  campaign is ``PAUSED`` unless the body says otherwise.

Malformed records (fault knob), on list items and details alike: ``bad_time``
serves ``lastrun`` as ``16/02/2022 14:33``, ``unknown_status`` serves ``state``
``EXPIRED``, ``missing_id`` drops ``id``, ``wrong_type`` serves ``tenantId`` as
a string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from worker.ports import Clock
from worker.simulators.base import SimError, build_app, read_json
from worker.simulators.faults import Faults
from worker.simulators.voxo_engine import STATES, VoxoCampaign, VoxoEngine, VoxoUser

__all__ = [
    "BREAKERS",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_TENANT_ID",
    "create_app",
    "demo_app",
    "render_detail",
    "render_list_item",
]

DEMO_EMAIL = "demo@voxo.test"
DEMO_PASSWORD = "voxo-demo-password"
DEMO_TENANT_ID = 1234

_ERROR_NAMES = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    502: "BadGateway",
    503: "Unavailable",
}
_DATE = r"^([1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\d|3[0-1])$"
_HHMM = r"^([01]\d|2[0-3]):([0-5]\d)$"
_CALLER_ID = r"^[1-9]\d{9}$"
_REQUIRED_ON_CREATE = ("name", "dateStart", "timeStart", "dateEnd", "timeEnd", "timezone")

BREAKERS: dict[str, Any] = {
    "bad_time": lambda r: {**r, "lastrun": "16/02/2022 14:33"},
    "unknown_status": lambda r: {**r, "state": "EXPIRED"},
    "missing_id": lambda r: {k: v for k, v in r.items() if k != "id"},
    "wrong_type": lambda r: {**r, "tenantId": str(r["tenantId"])},
}


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
        "lastrun": c.lastrun_text(),
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


def _error(exc: SimError) -> Response:
    return JSONResponse(_feathers(exc.status, exc.message, exc.details), status_code=exc.status)


def _feathers(status: int, message: str, errors: Any = None) -> dict[str, Any]:
    name = _ERROR_NAMES.get(status, "GeneralError")
    class_name = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    return {
        "name": name,
        "message": message,
        "code": status,
        "className": class_name,
        "errors": errors or {},
    }


def _error_body(status: int) -> dict[str, Any]:
    return _feathers(status, "Too many requests" if status == 429 else "Internal server error")


# --- request validation (seed page 003) ---------------------------------------------------

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


def _validate(body: Any, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Campaign attribute changes from a create or PATCH body; raises SimError 400."""
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


def _campaign_id(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def create_app(engine: VoxoEngine, *, faults: Faults | None = None) -> ASGIApp:
    """The VOXO simulator over ``engine``; logins are the engine's users."""
    faults = faults or Faults()

    def user_of(request: Request) -> VoxoUser:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise SimError(401, "NotAuthenticated", "Not authenticated")
        user, reason = engine.authenticate(header.removeprefix("Bearer "))
        if user is None:
            raise SimError(401, "NotAuthenticated", reason)
        return user

    def owned(request: Request, user: VoxoUser, name: str) -> VoxoCampaign:
        text = request.path_params[name]
        campaign_id = _campaign_id(text)
        campaign = None if campaign_id is None else engine.get(campaign_id)
        if campaign is None or campaign.tenant_id != user.tenant_id:
            raise SimError(404, "NotFound", f"No record found for id '{text}'")
        return campaign

    def detail(campaign: VoxoCampaign, status: int = 200) -> Response:
        body = faults.corrupt(str(campaign.id), render_detail(campaign), BREAKERS)
        return JSONResponse(body, status_code=status)

    async def authenticate(request: Request) -> Response:
        body = await read_json(request)
        body = body if isinstance(body, dict) else {}
        if body.get("strategy") != "local":
            raise SimError(401, "NotAuthenticated", "Invalid authentication information")
        session = engine.login(body.get("email"), body.get("password"))
        if session is None:
            raise SimError(401, "NotAuthenticated", "Invalid login")
        token, user = session
        return JSONResponse(
            {
                "accessToken": token,
                "authentication": {"strategy": "local"},
                "user": _render_user(user),
            },
            status_code=201,
        )

    async def list_campaigns(request: Request) -> Response:
        user = user_of(request)
        text = request.query_params.get("tenantId")
        if text is None or not text.isdigit():
            raise SimError(400, "BadRequest", "tenantId must be a number")
        if int(text) != user.tenant_id:
            raise SimError(403, "Forbidden", f"You do not have access to tenant {text}")
        items = [
            faults.corrupt(str(c.id), render_list_item(c), BREAKERS)
            for c in engine.campaigns(user.tenant_id)
        ]
        return JSONResponse(items)

    async def get_campaign(request: Request) -> Response:
        return detail(owned(request, user_of(request), "campaign_id"))

    async def create(request: Request) -> Response:
        user = user_of(request)
        changes = _validate(await read_json(request), required=_REQUIRED_ON_CREATE)
        campaign = VoxoCampaign(
            id=engine.next_id(),
            tenant_id=user.tenant_id,
            created_at=engine.clock.now(),
            **changes,
        )
        engine.add(campaign)
        return detail(campaign, 201)

    async def patch(request: Request) -> Response:
        user = user_of(request)
        text = request.path_params["campaign_id"]
        campaign_id = _campaign_id(text)
        if campaign_id is None or campaign_id <= 0:
            raise SimError(
                400, "BadRequest", "campaignId must be > 0", {"campaignId": "must be > 0"}
            )
        campaign = owned(request, user, "campaign_id")
        engine.update(campaign, _validate(await read_json(request)))
        return detail(campaign)

    routes = [
        Route("/authentication", authenticate, methods=["POST"]),
        Route("/v2/authentication", authenticate, methods=["POST"]),
        Route("/v2/call-campaigns", list_campaigns, methods=["GET"]),
        Route("/v2/call-campaigns/{campaign_id}", get_campaign, methods=["GET"]),
        Route("/v2/admin/call-campaigns/", create, methods=["POST"]),
        Route("/v2/admin/call-campaigns", create, methods=["POST"]),
        Route("/v2/admin/call-campaigns/{campaign_id}", patch, methods=["PATCH"]),
    ]
    return build_app(
        routes, faults=faults, clock=engine.clock, render_error=_error, error_body=_error_body
    )


def _render_user(user: VoxoUser) -> dict[str, Any]:
    last_online = user.last_online
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "tenantId": user.tenant_id,
        # Same naive format as lastrun; VOXO does not say in which zone [I: UTC].
        "lastOnline": None if last_online is None else last_online.strftime("%Y-%m-%d %H:%M:%S"),
    }


# --- demo -----------------------------------------------------------------------------------


def _local(at: datetime, zone: str) -> tuple[str, str]:
    local = at.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M")


def demo_app(clock: Clock, *, seed: int) -> tuple[ASGIApp, VoxoEngine]:
    """A VOXO simulator whose fleet starts, pauses, resumes and ends in its first hours.

    Times are relative to ``clock.now()`` (floored to the minute, as VOXO's
    ``HH:MM`` fields are) in each campaign's zone. A scripted user PATCHes
    ``state`` at exact instants, the only way VOXO campaigns pause and resume.
    Log in as :data:`DEMO_EMAIL` / :data:`DEMO_PASSWORD` for tenant
    :data:`DEMO_TENANT_ID`.
    """
    engine = VoxoEngine(clock, seed=seed, token_lifetime=timedelta(hours=2))
    engine.add_user(DEMO_EMAIL, DEMO_PASSWORD, DEMO_TENANT_ID)
    now = clock.now().replace(second=0, microsecond=0)
    hours = timedelta(hours=1)
    fleet = [  # name, zone, start, end, state, call hours (offsets from now), numbers
        ("Spring renewals", "America/Chicago", 0.25, 3.0, "READY", None, 40),
        ("Clinic reminders", "America/New_York", -1.0, 120.0, "READY", None, 60),
        ("Past-due notices", "Europe/London", -2.0, 4.0, "PAUSED", None, 30),
        ("Evening survey", "America/Los_Angeles", -2.0, 48.0, "READY", (1.0, 3.0), 50),
        ("Holiday promo", "Asia/Tokyo", -48.0, -24.0, "READY", None, 10),
        ("Webinar follow-up", "America/Denver", 2.0, 5.5, "READY", None, 30),
    ]
    ids = []
    for name, zone, start, end, state, call_hours, count in fleet:
        date_start, time_start = _local(now + start * hours, zone)
        date_end, time_end = _local(now + end * hours, zone)
        opens, closes = (None, None)
        if call_hours is not None:
            opens = _local(now + call_hours[0] * hours, zone)[1]
            closes = _local(now + call_hours[1] * hours, zone)[1]
        campaign = engine.add(
            VoxoCampaign(
                id=engine.next_id(),
                tenant_id=DEMO_TENANT_ID,
                name=name,
                date_start=date_start,
                time_start=time_start,
                date_end=date_end,
                time_end=time_end,
                timezone=zone,
                created_at=now - 3 * hours,
                state=state,
                call_frequency=600,
                call_hours_start=opens,
                call_hours_end=closes,
                numbers=[
                    {"number": f"312555{i:04d}", "description": f"contact {i}", "disposition": ""}
                    for i in range(count)
                ],
            )
        )
        ids.append(campaign.id)
    engine.plan(ids[1], now + 1 * hours, "PAUSED")  # Clinic reminders: paused for 90 minutes
    engine.plan(ids[1], now + 2.5 * hours, "READY")
    engine.plan(ids[2], now + 0.75 * hours, "READY")  # Past-due notices: resumed, ends at +4h
    engine.plan(ids[5], now + 3 * hours, "PAUSED")  # Webinar follow-up: a short break
    engine.plan(ids[5], now + 3.25 * hours, "READY")
    return create_app(engine), engine
