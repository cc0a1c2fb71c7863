"""vox.ai v3 simulator: ``/v3/campaigns`` with Bearer auth, cursor paging and unix-ms times.

Serves the documented campaign object (docs/providers.md 1.4) and error
envelope ``{"error": {"code", "message", "details"}}``. Choices where vox is
silent: a wrong-state PATCH or action answers 409 ``INVALID_STATE``; a bad key
answers 401 ``UNAUTHORIZED``; the cursor is opaque (base64 of the last item's
sort key). Malformed records (fault knob): ``bad_time`` serves ``created_at``
as an ISO string instead of unix milliseconds, ``unknown_status`` serves
``archived``, ``missing_id`` drops ``id``, ``wrong_type`` serves
``total_calls`` as a string. What it models is summed up in docs/providers.md 1.7.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from worker.simulators.base import SimError, build_app, int_param, read_json
from worker.simulators.clock import Clock
from worker.simulators.faults import Faults
from worker.simulators.vox_common import (
    DEFAULT_TIMEZONE,
    authorize,
    breakers,
    created_order,
    fault_body,
    parse_create,
    parse_window,
    render_error,
)
from worker.simulators.vox_engine import EDITABLE, IllegalTransition, VoxCampaign, VoxEngine
from worker.simulators.wire.bodies import Body
from worker.simulators.wire.errors import BadField
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span, vox_window_json
from worker.simulators.wire.times import EPOCH, write_iso8601, write_unix_ms

__all__ = ["DEMO_API_KEY", "create_app", "demo_app", "render_v3"]

_LIST_PARAMS = ("limit", "cursor", "sort_order")


def _ms(value: datetime | None) -> int | None:
    return None if value is None else write_unix_ms(value)


BREAKERS = breakers(lambda ms: write_iso8601(EPOCH + timedelta(milliseconds=ms)))


def render_v3(c: VoxCampaign, now: datetime) -> dict[str, Any]:
    """The v3 campaign object, exactly as documented."""
    return {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "agent": {"agent_id": c.agent_id, "agent_version": str(c.agent_version)},
        "from_number": c.from_number,
        "total_calls": c.total_calls,
        "completed_calls": c.completed_calls,
        "failed_calls": c.failed_calls,
        "concurrency": c.concurrency,
        "active_concurrency": c.active_concurrency(now),
        "created_at": write_unix_ms(c.created_at),
        "presentation_number": c.presentation_number,
        "scheduled_at": _ms(c.scheduled_at),
        "finished_at": _ms(c.finished_at),
        "paused_at": _ms(c.paused_at),
        "paused_by": c.paused_by,
        "call_time_window": None if c.call_window is None else vox_window_json(c.call_window),
    }


def _cursor(c: VoxCampaign) -> str:
    return base64.urlsafe_b64encode(f"{write_unix_ms(c.created_at)}:{c.id}".encode()).decode()


def _cursor_id(cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")[2] or None
    except (ValueError, UnicodeDecodeError):
        return None


def create_app(engine: VoxEngine, *, api_key: str, faults: Faults | None = None) -> ASGIApp:
    """The v3 simulator over ``engine``; requests need ``Authorization: Bearer <api_key>``."""
    faults = faults or Faults()

    def find(request: Request) -> VoxCampaign:
        authorize(request, api_key)
        campaign = engine.get(request.path_params["campaign_id"])
        if campaign is None:
            raise SimError(404, "NOT_FOUND", "Campaign not found")
        return campaign

    def one(campaign: VoxCampaign) -> Response:
        now = engine.clock.now()
        return JSONResponse(faults.corrupt(campaign.id, render_v3(campaign, now), BREAKERS))

    async def list_campaigns(request: Request) -> Response:
        authorize(request, api_key)
        unknown = sorted(set(request.query_params) - set(_LIST_PARAMS))
        if unknown:
            raise SimError(
                400,
                "VALIDATION_ERROR",
                f"Unknown query parameter: {unknown[0]}",
                {"allowed_query_parameters": list(_LIST_PARAMS)},
            )
        limit = faults.cap(int_param(request, "limit", default=50, low=1, high=100))
        order = request.query_params.get("sort_order", "desc")
        if order not in ("asc", "desc"):
            raise SimError(400, "VALIDATION_ERROR", "sort_order must be asc or desc")
        # Sorted once (not per page), and only the served page is played forward.
        items, place = engine.ordered(created_order, reverse=order == "desc")
        start = 0
        cursor = request.query_params.get("cursor")
        if cursor:
            anchor = place.get(_cursor_id(cursor) or "")
            if anchor is None:
                raise SimError(400, "VALIDATION_ERROR", "Invalid cursor")
            start = anchor + 1
        page = engine.settle(items[start : start + limit])
        more = start + limit < len(items)
        now = engine.clock.now()
        return JSONResponse(
            {
                "items": [faults.corrupt(c.id, render_v3(c, now), BREAKERS) for c in page],
                "next_cursor": _cursor(page[-1]) if more and page else None,
                "total_count": len(items),
            }
        )

    async def create(request: Request) -> Response:
        authorize(request, api_key)
        campaign = parse_create(await read_json(request), engine, version="v3")
        engine.add(campaign)
        return one(campaign)

    async def get_campaign(request: Request) -> Response:
        return one(find(request))

    async def patch_campaign(request: Request) -> Response:
        campaign = find(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not body:
            raise SimError(400, "VALIDATION_ERROR", "Request body must name at least one field")
        if campaign.status not in EDITABLE:
            raise SimError(
                409, "INVALID_STATE", f"Cannot edit a campaign in status {campaign.status}"
            )
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                raise SimError(400, "VALIDATION_ERROR", "name must be 1-255 characters, not blank")
            campaign.name = name
        if "call_time_window" in body:
            try:
                campaign.call_window = parse_window(Body(body), required=True)
            except BadField as exc:
                raise SimError(400, "VALIDATION_ERROR", str(exc)) from None
        return one(campaign)

    def action(name: str) -> Any:
        async def handler(request: Request) -> Response:
            campaign = find(request)
            try:
                getattr(engine, name)(campaign)
            except IllegalTransition as exc:
                raise SimError(409, "INVALID_STATE", str(exc)) from None
            return one(campaign)

        return handler

    routes = [
        Route("/v3/campaigns", list_campaigns, methods=["GET"]),
        Route("/v3/campaigns", create, methods=["POST"]),
        Route("/v3/campaigns/{campaign_id}", get_campaign, methods=["GET"]),
        Route("/v3/campaigns/{campaign_id}", patch_campaign, methods=["PATCH"]),
        *(
            Route(f"/v3/campaigns/{{campaign_id}}/{name}", action(name), methods=["POST"])
            for name in ("pause", "resume", "cancel")
        ),
    ]
    return build_app(
        routes, faults=faults, clock=engine.clock, render_error=render_error, error_body=fault_body
    )


DEMO_API_KEY = "vox-demo-key"


def demo_app(clock: Clock, *, seed: int) -> tuple[ASGIApp, VoxEngine]:
    """A v3 simulator with a small fleet whose first hours show every transition.

    Times are relative to ``clock.now()`` in Asia/Seoul: one campaign's morning
    window closes 10 minutes in (a ``paused_by=system`` pause) and reopens an
    hour later (an automatic resume); others start from a schedule, finish,
    fail, or stay paused because they do not auto-resume.
    """
    engine = VoxEngine(clock, seed=seed)
    now = clock.now()
    local = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    minute = local.hour * 60 + local.minute

    def window(*ranges: tuple[int, int], auto_resume: bool = True) -> Hours:
        return Hours(
            timezone=DEFAULT_TIMEZONE,
            ranges=tuple(
                Span(days=EVERY_DAY, start_min=(minute + a) % 1440, end_min=(minute + b) % 1440)
                for a, b in ranges
            ),
            auto_resume=auto_resume,
        )

    fleet = [
        ("Morning survey", 3000, window((-120, 10), (70, 400)), now - timedelta(hours=2), 6),
        (
            "Renewal reminders",
            2500,
            window((-60, 25), (150, 500), auto_resume=False),
            now - timedelta(hours=1),
            8,
        ),
        ("Evening follow-up", 400, window((20, 600)), now + timedelta(minutes=15), 5),
        ("Payment nudges", 60, None, now - timedelta(minutes=30), 4),
        ("Lead qualification", 90, window((-30, 900)), now - timedelta(minutes=20), 3),
    ]
    for index, (name, calls, call_window, scheduled_at, concurrency) in enumerate(fleet):
        engine.add(
            VoxCampaign(
                id=str(100_001 + index),
                name=name,
                created_at=now - timedelta(hours=3),
                scheduled_at=scheduled_at,
                total_calls=calls,
                concurrency=concurrency,
                call_window=call_window,
                success_percent=0 if name == "Lead qualification" else 80,
            )
        )
    return create_app(engine, api_key=DEMO_API_KEY), engine
