"""Sarvam scheduling-API simulator: ``X-API-Key``, offset paging, ISO times with ``Z``.

Serves ``/v1/orgs/{org_id}/workspaces/{workspace_id}/campaigns`` both under
``/api/scheduling`` (the production prefix) and bare, so any ``base_url``
works: list, create, detail, PATCH and ``PUT …/{campaign_id}/status``
(docs/providers.md 4.2-4.5, its choices in 4.7; validation and payloads are in
``sarvam_requests``, the state machine in ``sarvam_engine``). Choices where Sarvam is silent:

* A bad or missing key answers 403 with the general Sarvam envelope
  ``{"error": {"message", "code": "invalid_api_key_error"}}``; another org or
  workspace in the path answers 404. Validation errors answer FastAPI's 422; a
  quota breach is a 422 of type ``quota_exceeded``. An action or PATCH in the
  wrong status answers 409 ``{"detail": "…"}``, an unknown campaign 404
  likewise. Injected 429/5xx use the general envelope
  (``rate_limit_exceeded_error``, ``internal_server_error``).
* Create answers 200 (FastAPI's default) with CampaignMetadata in ``scheduled``.
* PATCH needs ``end_timestamp`` after both the start and now, and moves
  ``updated_at`` only when something changed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from worker.simulators.base import SimError, build_app, unprocessable
from worker.simulators.clock import Clock
from worker.simulators.faults import Faults
from worker.simulators.sarvam_engine import (
    DEFAULT_TIMEZONE,
    EDITABLE,
    SYSTEM_USER,
    IllegalTransition,
    QuotaExceeded,
    SarvamCampaign,
    SarvamEngine,
    all_day,
)
from worker.simulators.sarvam_requests import (
    BREAKERS,
    ListQuery,
    created_order,
    new_campaign,
    parse_action,
    parse_changes,
    read_body,
    render_detail,
    render_metadata,
)
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span

__all__ = [
    "BASE_PATH",
    "BREAKERS",
    "DEMO_API_KEY",
    "DEMO_ORG_ID",
    "DEMO_WORKSPACE_ID",
    "create_app",
    "demo_app",
    "demo_fleet",
]

BASE_PATH = "/api/scheduling"
DEMO_API_KEY = "sarvam-demo-key"
DEMO_ORG_ID = "org-demo"
DEMO_WORKSPACE_ID = "ws-demo"


def _error(exc: SimError) -> Response:
    # 403 in Sarvam's general envelope, 422 as FastAPI's list, anything else as FastAPI's string.
    if exc.status == 403:
        body: Any = {"error": {"message": exc.message, "code": exc.code}}
    elif exc.status == 422:
        body = {"detail": exc.details}
    else:
        body = {"detail": exc.message}
    return JSONResponse(body, status_code=exc.status)


def _error_body(status: int) -> dict[str, Any]:
    if status == 429:
        return {"error": {"message": "Rate limit exceeded", "code": "rate_limit_exceeded_error"}}
    return {"error": {"message": "Internal server error", "code": "internal_server_error"}}


def create_app(
    engine: SarvamEngine,
    *,
    api_key: str,
    org_id: str,
    workspace_id: str,
    faults: Faults | None = None,
    user: str = SYSTEM_USER,
) -> ASGIApp:
    """The simulator over ``engine`` for one workspace; requests need ``X-API-Key: <api_key>``."""
    faults = faults or Faults()

    def authorize(request: Request) -> None:
        if request.headers.get("x-api-key") != api_key:
            raise SimError(403, "invalid_api_key_error", "Invalid API key provided")
        params = request.path_params
        if (params["org_id"], params["workspace_id"]) != (org_id, workspace_id):
            raise SimError(404, "not_found", "Workspace not found")

    def find(request: Request) -> SarvamCampaign:
        campaign = engine.get(request.path_params["campaign_id"])
        if campaign is None:
            raise SimError(404, "not_found", "Campaign not found")
        return campaign

    def served(c: SarvamCampaign, payload: dict[str, Any]) -> dict[str, Any]:
        return faults.corrupt(c.campaign_id, payload, BREAKERS)

    def answer(c: SarvamCampaign, payload: dict[str, Any]) -> Response:
        return JSONResponse(served(c, payload))

    async def list_campaigns(request: Request) -> Response:
        authorize(request)
        query = ListQuery.of(request)
        offset, limit = query.offset, query.limit
        if query.by_creation:  # the common case: sorted once, only the page played forward
            items, _ = engine.ordered(created_order, reverse=query.descending)
            page = engine.settle(items[offset : offset + faults.cap(limit)])
        else:
            items = query.select(engine.campaigns())
            page = items[offset : offset + faults.cap(limit)]
        after = offset + len(page)
        return JSONResponse(
            {
                "items": [served(c, render_metadata(c)) for c in page],
                "total": len(items),
                "limit": limit,
                "offset": offset,
                "next_page_uri": (
                    query.page_uri(request, after) if page and after < len(items) else None
                ),
                "prev_page_uri": (
                    query.page_uri(request, max(0, offset - limit)) if offset > 0 else None
                ),
            }
        )

    async def create(request: Request) -> Response:
        authorize(request)
        campaign = new_campaign(await read_body(request), engine, user)
        try:
            engine.check_quota()
        except QuotaExceeded as exc:
            raise unprocessable(str(exc), "body", kind="quota_exceeded") from None
        engine.add(campaign)
        return answer(campaign, render_metadata(campaign))

    async def get_campaign(request: Request) -> Response:
        authorize(request)
        campaign = find(request)
        return answer(campaign, render_detail(campaign))

    async def patch_campaign(request: Request) -> Response:
        authorize(request)
        changes = parse_changes(await read_body(request), create=False)
        campaign = find(request)
        if campaign.status not in EDITABLE:
            message = (
                f"Updates are only allowed in paused or scheduled status, not {campaign.status}"
            )
            raise SimError(409, "conflict", message)
        end = changes.get("end_timestamp")
        if end is not None and (end <= campaign.start_timestamp or end <= engine.clock.now()):
            message = "end_timestamp must be after start_timestamp and in the future"
            raise unprocessable(message, "body", "end_timestamp")
        changed = {k: v for k, v in changes.items() if getattr(campaign, k) != v}
        for key, value in changed.items():
            setattr(campaign, key, value)
        if changed:
            engine.touch(campaign, user)
        return answer(campaign, render_metadata(campaign))

    async def put_status(request: Request) -> Response:
        authorize(request)
        action = parse_action(await read_body(request))
        campaign = find(request)
        try:
            engine.act(campaign, action, user)
        except IllegalTransition as exc:
            raise SimError(409, "conflict", str(exc)) from None
        except QuotaExceeded as exc:
            raise unprocessable(str(exc), "body", "action", kind="quota_exceeded") from None
        return answer(campaign, render_metadata(campaign))

    base = "/v1/orgs/{org_id}/workspaces/{workspace_id}/campaigns"
    routes = [
        route
        for prefix in (BASE_PATH, "")
        for route in (
            Route(prefix + base, list_campaigns, methods=["GET"]),
            Route(prefix + base, create, methods=["POST"]),
            Route(prefix + base + "/{campaign_id}", get_campaign, methods=["GET"]),
            Route(prefix + base + "/{campaign_id}", patch_campaign, methods=["PATCH"]),
            Route(prefix + base + "/{campaign_id}/status", put_status, methods=["PUT"]),
        )
    ]
    return build_app(
        routes, faults=faults, clock=engine.clock, render_error=_error, error_body=_error_body
    )


def _sample_app_config(app_id: str) -> dict[str, Any]:
    """An AgentConfig shaped like the docs' create example."""
    return {
        "app_id": app_id,
        "app_version": 1,
        "app_type": "agent",
        "attempts_per_second": 2,
        "connection_configs": [
            {"connection_id": "conn-xyz", "phone_numbers": ["+918041234567"], "weight": 1}
        ],
        "retry_config": {
            "max_retries": 3,
            "retry_interval_minutes": 30,
            "retry_on": {"busy": {"enabled": True}, "no_answer": {"enabled": True}},
        },
        "webhook_config": {"url": "https://your-server.com/webhook", "metadata": {}},
    }


def demo_fleet(engine: SarvamEngine) -> list[SarvamCampaign]:
    """Seven campaigns around ``engine.clock.now()``; within six hours they start, get
    paused and resumed by (planned) users, run out of contacts, hit their end or are cancelled.
    """
    base = engine.clock.now().replace(second=0, microsecond=0)
    hour = timedelta(hours=1)
    local = (base + hour).astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    opens = local.hour * 60 + local.minute  # the collections window opens an hour from now
    later = Hours(
        timezone=DEFAULT_TIMEZONE,
        ranges=(Span(days=EVERY_DAY, start_min=opens, end_min=(opens + 480) % 1440),),
    )
    specs: list[tuple[str, timedelta, timedelta, timedelta, Hours, int, int]] = [
        # name, created, start, end (from base), window, contacts, contacts per hour
        ("Q1 Payment Reminders", -240 * hour, -216 * hour, -48 * hour, all_day(), 10**6, 60),
        ("Renewal Reminders", -48 * hour, -24 * hour, 168 * hour, all_day(), 7800, 300),
        ("Feedback Survey", -hour, hour / 2, 5 * hour, all_day(), 10**6, 200),
        ("Collections Follow-up", -3 * hour, -hour, 72 * hour, later, 10**6, 150),
        ("Loan Offer Pilot", -24 * hour, -20 * hour, 48 * hour, all_day(), 10**6, 120),
        ("Holiday Greetings", -6 * hour, -5 * hour, 96 * hour, all_day(), 10**6, 90),
        ("Policy Lapse Alerts", -2 * hour, 30 * hour, 96 * hour, all_day(), 10**6, 90),
    ]
    fleet = []
    for name, created, start, end, window, contacts, per_hour in specs:
        fleet.append(
            engine.add(
                SarvamCampaign(
                    campaign_id=engine.next_id(),
                    name=name,
                    description=f"Demo campaign: {name.lower()}",
                    created_at=base + created,
                    start_timestamp=base + start,
                    end_timestamp=base + end,
                    allowed_schedule=window,
                    app_config=_sample_app_config("payment-reminder-agent"),
                    contacts=contacts,
                    contacts_per_hour=per_hour,
                )
            )
        )
    survey, pilot, greetings = fleet[2], fleet[4], fleet[5]
    engine.plan(survey.campaign_id, base + 1.5 * hour, "pause")
    engine.plan(survey.campaign_id, base + 2.5 * hour, "resume")
    engine.plan(pilot.campaign_id, base + 3 * hour, "cancel")
    engine.plan(greetings.campaign_id, base - hour / 2, "pause")
    engine.plan(greetings.campaign_id, base + 4 * hour, "resume")
    engine.advance()
    return fleet


def demo_app(clock: Clock, *, seed: int) -> tuple[ASGIApp, SarvamEngine]:
    """A simulator with a small fleet whose first six hours hold starts, pauses and ends.

    Serve it and point a target at ``<host>/api/scheduling`` with org
    ``DEMO_ORG_ID``, workspace ``DEMO_WORKSPACE_ID`` and key ``DEMO_API_KEY``.
    """
    engine = SarvamEngine(clock, seed=seed)
    demo_fleet(engine)
    return (
        create_app(
            engine, api_key=DEMO_API_KEY, org_id=DEMO_ORG_ID, workspace_id=DEMO_WORKSPACE_ID
        ),
        engine,
    )
