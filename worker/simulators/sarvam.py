"""Sarvam scheduling-API simulator: ``X-API-Key``, offset paging, ISO times with ``Z``.

Serves ``/v1/orgs/{org_id}/workspaces/{workspace_id}/campaigns`` both under
``/api/scheduling`` (the production prefix) and bare, so any ``base_url``
works: list, create, detail, PATCH and ``PUT …/{campaign_id}/status``, with
CampaignMetadata and detail payloads field for field (PROVIDERS.md 3.2-3.6;
the state machine is in ``sarvam_engine``). Choices where Sarvam is silent:

* A bad or missing key answers 403 with the general Sarvam envelope
  ``{"error": {"message", "code": "invalid_api_key_error"}}``; another org or
  workspace in the path answers 404. Validation errors answer 422 FastAPI-style,
  ``{"detail": [{"loc", "msg", "type"}]}``, naming the first problem found (FastAPI
  would list them all); a quota breach is a 422 of type ``quota_exceeded``. An
  action or PATCH in the wrong status answers 409 ``{"detail": "…"}``, an unknown
  campaign 404 likewise. Injected 429/5xx use the general envelope
  (``rate_limit_exceeded_error``, ``internal_server_error``).
* List: ``sort_by`` accepts ``created_at``, ``updated_at`` and ``name`` (else
  422); ties break on ``campaign_id``. ``search`` is a case-insensitive
  substring of the name. ``next_page_uri``/``prev_page_uri`` are the request
  path and query with the neighbouring ``offset`` and the asked ``limit``.
* Create requires name, app_config (with ``app_id``), start/end timestamps
  with a UTC offset, the end after the start, and allowed_schedule. It answers
  200 (FastAPI's default) with CampaignMetadata in ``scheduled``. A
  simulator-only ``_sim`` object may set ``contacts`` and ``contacts_per_hour``.
* PATCH ignores null and unknown fields, replaces ``app_config`` and
  ``allowed_schedule`` whole, needs ``end_timestamp`` after both the start and
  now, and moves ``updated_at`` only when something changed.
* ``allowed_days`` absent means every day, ``timezone`` absent Asia/Kolkata
  (documented); equal start and end times mean all day.
* Times are rendered by ``to_iso8601``: ``Z``, with a fraction only when the
  instant has one (the docs' samples never do).

Malformed records (fault knob): ``bad_time`` serves ``created_at`` as
``28/03/2026 10:00``-style text, ``unknown_status`` serves ``archived``,
``missing_id`` drops ``campaign_id``, ``wrong_type`` serves ``app_version`` as ``"two"``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from worker.domain.records import Record
from worker.domain.timestamps import load_zone, parse_hhmm, parse_iso8601, to_iso8601
from worker.domain.windows import EVERY_DAY, CallWindow, Weekday, WindowRange
from worker.errors import NormalizationError
from worker.ports import Clock
from worker.simulators.base import SimError, build_app
from worker.simulators.faults import Faults
from worker.simulators.sarvam_engine import (
    ACTIONS,
    EDITABLE,
    STATUSES,
    SYSTEM_USER,
    IllegalTransition,
    QuotaExceeded,
    SarvamCampaign,
    SarvamEngine,
    demo_fleet,
)

__all__ = [
    "BASE_PATH",
    "BREAKERS",
    "DEMO_API_KEY",
    "DEMO_ORG_ID",
    "DEMO_WORKSPACE_ID",
    "create_app",
    "demo_app",
    "render_detail",
    "render_metadata",
]

BASE_PATH = "/api/scheduling"
DEMO_API_KEY = "sarvam-demo-key"
DEMO_ORG_ID = "org-demo"
DEMO_WORKSPACE_ID = "ws-demo"
DEFAULT_TIMEZONE = "Asia/Kolkata"
SORT_FIELDS = ("created_at", "updated_at", "name")
_NAME = re.compile(r"^[A-Za-z0-9_\- ]{1,50}$")
_WEEKDAYS = frozenset(d.value for d in Weekday)
_Loc = tuple[str | int, ...]


def _bad_time(record: dict[str, Any]) -> dict[str, Any]:
    created = parse_iso8601(record["created_at"], "created_at")
    return {**record, "created_at": created.strftime("%d/%m/%Y %H:%M")}


BREAKERS: dict[str, Any] = {
    "bad_time": _bad_time,
    "unknown_status": lambda r: {**r, "status": "archived"},
    "missing_id": lambda r: {k: v for k, v in r.items() if k != "campaign_id"},
    "wrong_type": lambda r: {**r, "app_version": "two"},
}


def render_metadata(c: SarvamCampaign) -> dict[str, Any]:
    """CampaignMetadata, the list item and the answer of every write."""
    return {
        "name": c.name,
        "campaign_id": c.campaign_id,
        "status": c.status,
        "app_id": c.app_config.get("app_id"),
        "created_by": c.created_by,
        "created_at": to_iso8601(c.created_at),
        "updated_at": to_iso8601(c.updated_at or c.created_at),
        "description": c.description,
        "app_type": c.app_config.get("app_type", "agent"),
        "app_version": c.app_config.get("app_version"),
        "updated_by": c.updated_by,
    }


def schedule_json(window: CallWindow) -> dict[str, Any]:
    """A one-range window in Sarvam's ``allowed_schedule`` shape."""
    rng = window.ranges[0]
    return {
        "allowed_start_time": f"{rng.start_min // 60:02d}:{rng.start_min % 60:02d}",
        "allowed_end_time": f"{rng.end_min // 60:02d}:{rng.end_min % 60:02d}",
        "allowed_days": [d.value for d in rng.days],
        "timezone": window.timezone,
    }


def render_detail(c: SarvamCampaign) -> dict[str, Any]:
    """The Get Campaign payload, keys in the documented order."""
    meta = render_metadata(c)
    head = {k: meta[k] for k in ("name", "campaign_id", "status", "app_id", "created_by")}
    return {
        **head,
        "created_at": meta["created_at"],
        "updated_at": meta["updated_at"],
        "app_config": c.app_config,
        "start_timestamp": to_iso8601(c.start_timestamp),
        "end_timestamp": to_iso8601(c.end_timestamp),
        "allowed_schedule": schedule_json(c.allowed_schedule),
        **{k: meta[k] for k in ("description", "app_type", "app_version", "updated_by")},
    }


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


def _unprocessable(message: str, *loc: str | int, kind: str = "value_error") -> SimError:
    return SimError(422, kind, message, [{"loc": list(loc), "msg": message, "type": kind}])


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise _unprocessable("Input should be a valid integer", "query", name, kind="int_parsing")
    if not low <= int(text) <= high:
        raise _unprocessable(f"Input should be between {low} and {high}", "query", name)
    return int(text)


async def _body(request: Request) -> Record:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise _unprocessable("JSON decode error", "body", 0, kind="json_invalid") from None
    if not isinstance(body, dict):
        raise _unprocessable("Input should be a valid dictionary", "body", kind="dict_type")
    return Record(body)


@contextlib.contextmanager
def _as_422() -> Iterator[None]:
    """Turn a NormalizationError from reading a request body into FastAPI's 422."""
    try:
        yield
    except NormalizationError as exc:
        missing = exc.reason == "required"
        message, kind = ("Field required", "missing") if missing else (exc.reason, "value_error")
        raise _unprocessable(message, "body", *exc.field.split("."), kind=kind) from None


def _parse(body: Record, *, create: bool) -> dict[str, Any]:
    """Validated fields of a create (all required) or PATCH body (nulls and others ignored).

    Raises:
        SimError: 422 naming the first field at fault, FastAPI-style.
    """
    with _as_422():
        name, description = body.text("name", required=create), body.text("description")
        if name is not None and not _NAME.match(name):
            raise body.error("name", "1-50 letters, digits, '-', '_' or spaces")
        if description is not None and len(description) > 150:
            raise body.error("description", "String should have at most 150 characters")
        app = body.child("app_config", required=create)
        if app is not None:
            app.text("app_id", required=True)
            app.integer("app_version", minimum=None)
            if app.text("app_type") not in (None, "agent", "workflow"):
                raise app.error("app_type", "Input should be 'agent' or 'workflow'")
        start = body.iso8601("start_timestamp", required=True) if create else None
        end = body.iso8601("end_timestamp", required=create)
        if start is not None and end is not None and end <= start:
            raise body.error("end_timestamp", "end_timestamp must be after start_timestamp")
        window = _schedule(body.child("allowed_schedule", required=create))
    fields = {
        "name": name,
        "description": description,
        "app_config": None if app is None else {"app_type": "agent", **body.raw("app_config")},
        "start_timestamp": start,
        "end_timestamp": end,
        "allowed_schedule": window,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _schedule(schedule: Record | None) -> CallWindow | None:
    """``allowed_schedule``; absent ``allowed_days`` means every day, ``timezone`` Asia/Kolkata."""
    if schedule is None:
        return None
    zone = schedule.text("timezone") or DEFAULT_TIMEZONE
    load_zone(zone, schedule.path("timezone"))
    start, end = (
        parse_hhmm(schedule.text(key, required=True), schedule.path(key))
        for key in ("allowed_start_time", "allowed_end_time")
    )
    days = schedule.array("allowed_days")
    if days is not None and not all(isinstance(d, str) and d in _WEEKDAYS for d in days):
        raise schedule.error("allowed_days", "Input should be a list of weekday names")
    weekdays = EVERY_DAY if days is None else tuple(Weekday(d) for d in days)
    rng = WindowRange(days=weekdays, start_min=start, end_min=end)
    return CallWindow(timezone=zone, ranges=(rng,))


def _new_campaign(body: Record, engine: SarvamEngine, user: str) -> SarvamCampaign:
    fields = _parse(body, create=True)
    campaign_id = engine.next_id()
    contacts, per_hour = engine.default_contacts(campaign_id)
    with _as_422():
        sim = body.child("_sim") or Record({}, "_sim")
        given_contacts = sim.integer("contacts")
        given_per_hour = sim.integer("contacts_per_hour", minimum=1)
    return SarvamCampaign(
        campaign_id=campaign_id,
        created_at=engine.clock.now(),
        created_by=user,
        contacts=contacts if given_contacts is None else given_contacts,
        contacts_per_hour=per_hour if given_per_hour is None else given_per_hour,
        **fields,
    )


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

    def answer(c: SarvamCampaign, payload: dict[str, Any]) -> Response:
        return JSONResponse(faults.corrupt(c.campaign_id, payload, BREAKERS))

    async def list_campaigns(request: Request) -> Response:
        authorize(request)
        query = request.query_params
        offset = _query_int(request, "offset", 0, 0, 10**9)
        limit = _query_int(request, "limit", 10, 1, 100)
        status = query.get("campaign_status")
        sort_by, order = query.get("sort_by", "created_at"), query.get("sort_order", "desc")
        for name, value, allowed in (
            ("campaign_status", status, (None, *STATUSES)),
            ("sort_by", sort_by, SORT_FIELDS),
            ("sort_order", order, ("asc", "desc")),
        ):
            if value not in allowed:
                message = f"Input should be one of {', '.join(filter(None, allowed))}"
                raise _unprocessable(message, "query", name, kind="enum")
        search = (query.get("search") or "").lower()
        items = [
            c for c in engine.campaigns() if status in (None, c.status) and search in c.name.lower()
        ]
        items.sort(key=lambda c: (getattr(c, sort_by), c.campaign_id), reverse=order == "desc")
        page = items[offset : offset + faults.cap(limit)]
        after = offset + len(page)

        def uri(at: int) -> str:
            keep = [(k, v) for k, v in query.multi_items() if k not in ("offset", "limit")]
            return f"{request.url.path}?{urlencode([*keep, ('offset', at), ('limit', limit)])}"

        return JSONResponse(
            {
                "items": [
                    faults.corrupt(c.campaign_id, render_metadata(c), BREAKERS) for c in page
                ],
                "total": len(items),
                "limit": limit,
                "offset": offset,
                "next_page_uri": uri(after) if page and after < len(items) else None,
                "prev_page_uri": uri(max(0, offset - limit)) if offset > 0 else None,
            }
        )

    async def create(request: Request) -> Response:
        authorize(request)
        campaign = _new_campaign(await _body(request), engine, user)
        try:
            engine.check_quota()
        except QuotaExceeded as exc:
            raise _unprocessable(str(exc), "body", kind="quota_exceeded") from None
        engine.add(campaign)
        return answer(campaign, render_metadata(campaign))

    async def get_campaign(request: Request) -> Response:
        authorize(request)
        campaign = find(request)
        return answer(campaign, render_detail(campaign))

    async def patch_campaign(request: Request) -> Response:
        authorize(request)
        changes = _parse(await _body(request), create=False)
        campaign = find(request)
        if campaign.status not in EDITABLE:
            message = (
                f"Updates are only allowed in paused or scheduled status, not {campaign.status}"
            )
            raise SimError(409, "conflict", message)
        end = changes.get("end_timestamp")
        if end is not None and (end <= campaign.start_timestamp or end <= engine.clock.now()):
            message = "end_timestamp must be after start_timestamp and in the future"
            raise _unprocessable(message, "body", "end_timestamp")
        changed = {k: v for k, v in changes.items() if getattr(campaign, k) != v}
        for key, value in changed.items():
            setattr(campaign, key, value)
        if changed:
            engine.touch(campaign, user)
        return answer(campaign, render_metadata(campaign))

    async def put_status(request: Request) -> Response:
        authorize(request)
        action = (await _body(request)).raw("action")
        if action not in ACTIONS:
            message = "Input should be 'pause', 'resume' or 'cancel'"
            raise _unprocessable(message, "body", "action", kind="enum")
        campaign = find(request)
        try:
            engine.act(campaign, action, user)
        except IllegalTransition as exc:
            raise SimError(409, "conflict", str(exc)) from None
        except QuotaExceeded as exc:
            raise _unprocessable(str(exc), "body", "action", kind="quota_exceeded") from None
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
