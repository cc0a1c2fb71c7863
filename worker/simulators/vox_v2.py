"""vox.ai v2 simulator: ``POST /v2/campaigns/list`` and ``POST /v2/campaigns``, ISO times.

A second view over the same :class:`~worker.simulators.vox_engine.VoxEngine`
as the v3 simulator: one vox organization answers both API versions. Shapes
follow docs/providers.md 2.2 and 2.4: Bearer auth, a body-filtered list whose
envelope is ``{campaigns, next_cursor, total_count}``, the v2 DTO with flat
``agent_id``/``agent_version``, ``organization_id`` and ISO-8601 ``Z`` times,
and vox's ``{"error": {"code", "message", "details"}}`` envelope.

Choices where vox is silent:

* every field of the response schema is rendered, null when unset: ``paused_at``,
  ``paused_by`` and ``call_time_window`` too, although the v2 samples lack them;
* ``agent_version`` is served as stored: a string (``"production"``, the
  sample) or an integer (the schema's ``integer | null``);
* the list is ordered by ``created_at`` then id (numeric ids numerically);
  ``pagination_key`` names the campaign to continue *after* in that order
  (keyset, so a campaign that changes status between pages is not skipped) and
  an id that names no campaign answers 400; ``next_cursor`` is the page's last
  id while more remain, else null; ``total_count`` counts every match;
* ``filter_criteria.start_timestamp`` thresholds are unix **milliseconds** (the
  unknown of docs/providers.md 2.6), both inclusive, and filter on ``created_at``, the
  one time every campaign has; an empty range matches nothing;
* unknown keys in the list body or its ``filter_criteria`` answer 400 with the
  allowed names, as the live v3 API does for unknown query parameters;
* a missing or wrong key answers 401 ``UNAUTHORIZED``; create answers 200 with
  the whole DTO (status ``pending``, or ``draft`` with a future ``scheduled_at``);
* malformed records (fault knob): ``bad_time`` serves ``created_at`` as unix
  milliseconds instead of ISO, ``unknown_status`` serves ``archived``,
  ``missing_id`` drops ``id``, ``wrong_type`` serves ``total_calls`` as a string.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from worker.simulators.base import SimError, build_app, read_json
from worker.simulators.clock import Clock
from worker.simulators.faults import Faults
from worker.simulators.vox_common import (
    DEFAULT_TIMEZONE,
    authorize,
    breakers,
    created_order,
    fault_body,
    parse_create,
    parse_list,
    render_error,
)
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span, vox_window_json
from worker.simulators.wire.times import write_iso8601, write_unix_ms

__all__ = [
    "BREAKERS",
    "DEMO_API_KEY",
    "DEMO_ORGANIZATION_ID",
    "create_app",
    "demo_app",
    "render_v2",
]

DEMO_API_KEY = "vox-v2-demo-key"
DEMO_ORGANIZATION_ID = "550e8400-e29b-41d4-a716-446655440001"  # the organization of vox's v2 sample
# The record's own created_at, as :func:`render_v2` wrote it, served in v3's unix ms instead.
BREAKERS = breakers(lambda iso: write_unix_ms(datetime.fromisoformat(iso)))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else write_iso8601(value)


def render_v2(c: VoxCampaign, now: datetime) -> dict[str, Any]:
    """The v2 campaign DTO, field for field in its schema's order (docs/providers.md 2.4)."""
    return {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "agent_id": c.agent_id,
        "from_number": c.from_number,
        "total_calls": c.total_calls,
        "created_at": write_iso8601(c.created_at),
        "organization_id": c.organization_id,
        "agent_version": c.agent_version,
        "presentation_number": c.presentation_number,
        "completed_calls": c.completed_calls,
        "failed_calls": c.failed_calls,
        "scheduled_at": _iso(c.scheduled_at),
        "finished_at": _iso(c.finished_at),
        "paused_at": _iso(c.paused_at),
        "concurrency": c.concurrency,
        "active_concurrency": c.active_concurrency(now),
        "call_time_window": None if c.call_window is None else vox_window_json(c.call_window),
        "paused_by": c.paused_by,
    }


def _unknown_key() -> SimError:
    return SimError(
        400,
        "VALIDATION_ERROR",
        "pagination_key does not name a campaign",
        {"field": "pagination_key"},
    )


def create_app(
    engine: VoxEngine,
    *,
    api_key: str,
    organization_id: str = DEMO_ORGANIZATION_ID,
    faults: Faults | None = None,
) -> ASGIApp:
    """The v2 simulator over ``engine``; requests need ``Authorization: Bearer <api_key>``.

    Campaigns created through it belong to ``organization_id``, the key's tenant.
    """
    faults = faults or Faults()

    def dto(campaign: VoxCampaign, now: datetime) -> dict[str, Any]:
        return faults.corrupt(campaign.id, render_v2(campaign, now), BREAKERS)

    async def list_campaigns(request: Request) -> Response:
        authorize(request, api_key)
        query = parse_list(await read_json(request))
        now = engine.clock.now()
        limit = faults.cap(query.limit)
        if query.unfiltered:  # the common case: sorted once, only the page played forward
            matching, place = engine.ordered(created_order, reverse=query.descending)
            start = 0
            if query.pagination_key is not None:
                if query.pagination_key not in place:
                    raise _unknown_key()
                start = place[query.pagination_key] + 1
            remaining = matching[start:]
            page = engine.settle(remaining[:limit])
        else:
            everything = engine.campaigns()
            matching = remaining = query.matching(everything)
            if query.pagination_key is not None:
                anchor = next((c for c in everything if c.id == query.pagination_key), None)
                if anchor is None:
                    raise _unknown_key()
                remaining = [c for c in matching if query.after(c, anchor)]
            page = remaining[:limit]
        return JSONResponse(
            {
                "campaigns": [dto(c, now) for c in page],
                "next_cursor": page[-1].id if len(remaining) > len(page) else None,
                "total_count": len(matching),
            }
        )

    async def create(request: Request) -> Response:
        authorize(request, api_key)
        campaign = parse_create(await read_json(request), engine, version="v2")
        campaign.organization_id = organization_id
        engine.add(campaign)
        engine.advance()
        return JSONResponse(dto(campaign, engine.clock.now()))

    routes = [
        Route("/v2/campaigns/list", list_campaigns, methods=["POST"]),
        Route("/v2/campaigns", create, methods=["POST"]),
    ]
    return build_app(
        routes, faults=faults, clock=engine.clock, render_error=render_error, error_body=fault_body
    )


def _window(now: datetime, *spans: tuple[float, float], auto_resume: bool = True) -> Hours:
    """Every day, open over each ``(from, to)`` span of hours relative to ``now``, in Seoul."""
    zone = ZoneInfo(DEFAULT_TIMEZONE)

    def minute(hours: float) -> int:
        local = (now + timedelta(hours=hours)).astimezone(zone)
        return local.hour * 60 + local.minute

    ranges = tuple(
        Span(days=EVERY_DAY, start_min=minute(start), end_min=minute(end)) for start, end in spans
    )
    return Hours(timezone=DEFAULT_TIMEZONE, ranges=ranges, auto_resume=auto_resume)


def demo_fleet(now: datetime) -> list[VoxCampaign]:
    """Seven campaigns that, over the six hours after ``now``, start, pause, resume and finish.

    Timeline (hours from ``now``): 200104 fails at about +0.5 (no call succeeds);
    200105 starts at +1/60; 200102 goes draft → pending at +0.75, starts a minute
    later and succeeds at about +1.3; 200101 is paused by the system at +1,
    resumed at +2 and succeeds at about +3.4; 200103 is paused by the system at
    +1.5 for good (no auto-resume); 200105 is paused by the system at +5.
    200106 finished yesterday and 200107 was paused by a user before ``now``.
    ``agent_version`` mixes strings and integers, as vox's docs do.
    """
    always = Hours(
        timezone=DEFAULT_TIMEZONE,
        ranges=(Span(days=EVERY_DAY, start_min=0, end_min=1440),),
        auto_resume=True,
    )
    split = _window(now, (-3, 1), (2, 10))  # closes in an hour, reopens an hour later
    closing = _window(now, (-3, 1.5), auto_resume=False)
    h = timedelta(hours=1)
    # id, name, created and scheduled (hours from now), tasks, agent_version, window
    rows: list[tuple[str, str, float, float | None, int, str | int, Hours]] = [
        ("200101", "고객 설문 캠페인", -3, -35 / 60, 450, "production", split),
        ("200102", "Renewal reminders", -1, 0.75, 300, 3, always),
        ("200103", "Overnight follow-up", -4, -2, 5000, 2, closing),
        ("200104", "Invalid numbers batch", -2, -1 / 6, 100, "production", always),
        ("200105", "Walk-in leads", 0, None, 20_000, 1, _window(now, (-1, 5))),
        ("200106", "Last week's NPS", -48, -44, 120, "production", always),
        ("200107", "VIP callbacks", -5, -4, 800, 7, always),
    ]
    extra: dict[str, dict[str, Any]] = {
        "200102": {"concurrency": 10, "seconds_per_call": 60},
        "200104": {"success_percent": 0},
        "200105": {"concurrency": 8, "presentation_number": "15881508"},
        "200106": {"status": "success", "completed_calls": 101, "failed_calls": 19},
        "200107": {"status": "paused", "completed_calls": 300, "failed_calls": 40},
    }
    # Already past their transitions: stamped here, since the engine only moves forward.
    extra["200106"]["finished_at"] = now - 20 * h
    extra["200107"].update(paused_at=now - 40 * h / 60, paused_by="user", dial_seconds=8160)
    return [
        VoxCampaign(
            id=cid,
            name=name,
            created_at=now + created * h,
            scheduled_at=None if scheduled is None else now + scheduled * h,
            total_calls=tasks,
            agent_version=version,
            call_window=window,
            **extra.get(cid, {}),
        )
        for cid, name, created, scheduled, tasks, version, window in rows
    ]


def demo_app(clock: Clock, *, seed: int) -> tuple[ASGIApp, VoxEngine]:
    """The v2 simulator with :func:`demo_fleet`, answering to :data:`DEMO_API_KEY`."""
    engine = VoxEngine(clock, seed=seed)
    for campaign in demo_fleet(clock.now()):
        engine.add(campaign)
    engine.advance()
    return create_app(engine, api_key=DEMO_API_KEY), engine
