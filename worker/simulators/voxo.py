"""VOXO simulator: token login, ``/v2/call-campaigns`` and the admin create/PATCH endpoints.

Serves the documented paths and payloads (docs/providers.md section 3; its choices in 3.7)
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
* Create and PATCH bodies are validated as
  :mod:`worker.simulators.voxo_requests` describes.

Malformed records (fault knob), on list items and details alike: ``bad_time``
serves ``lastrun`` as ``16/02/2022 14:33``, ``unknown_status`` serves ``state``
``EXPIRED``, ``missing_id`` drops ``id``, ``wrong_type`` serves ``tenantId`` as
a string.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from worker.simulators.base import SimError, build_app, read_json
from worker.simulators.clock import Clock
from worker.simulators.faults import Faults
from worker.simulators.voxo_engine import VoxoEngine, VoxoUser
from worker.simulators.voxo_requests import (
    VoxoCampaign,
    parse_create,
    parse_patch,
    render_detail,
    render_list_item,
)
from worker.simulators.wire.times import write_wall_clock

__all__ = [
    "BREAKERS",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_TENANT_ID",
    "create_app",
    "demo_app",
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

BREAKERS: dict[str, Any] = {
    "bad_time": lambda r: {**r, "lastrun": "16/02/2022 14:33"},
    "unknown_status": lambda r: {**r, "state": "EXPIRED"},
    "missing_id": lambda r: {k: v for k, v in r.items() if k != "id"},
    "wrong_type": lambda r: {**r, "tenantId": str(r["tenantId"])},
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

    def owned(request: Request, user: VoxoUser) -> VoxoCampaign:
        text = request.path_params["campaign_id"]
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
        return detail(owned(request, user_of(request)))

    async def create(request: Request) -> Response:
        user = user_of(request)
        campaign = parse_create(
            await read_json(request),
            campaign_id=engine.next_id(),
            tenant_id=user.tenant_id,
            created_at=engine.clock.now(),
        )
        return detail(engine.add(campaign), 201)

    async def patch(request: Request) -> Response:
        user = user_of(request)
        text = request.path_params["campaign_id"]
        campaign_id = _campaign_id(text)
        if campaign_id is None or campaign_id <= 0:
            raise SimError(
                400, "BadRequest", "campaignId must be > 0", {"campaignId": "must be > 0"}
            )
        campaign = owned(request, user)
        engine.update(campaign, parse_patch(await read_json(request)))
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
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "tenantId": user.tenant_id,
        # Same naive format as lastrun; VOXO does not say in which zone [I: UTC].
        "lastOnline": None if user.last_online is None else write_wall_clock(user.last_online, UTC),
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
