"""Request validation and payload rendering of the Sarvam simulator.

Payloads follow docs/providers.md 4.2-4.4 field for field. Choices where Sarvam is silent:

* Validation errors are FastAPI's 422, ``{"detail": [{"loc", "msg", "type"}]}``,
  naming the first problem found (FastAPI would list them all).
* List: ``sort_by`` accepts ``created_at``, ``updated_at`` and ``name`` (else
  422); ties break on ``campaign_id``. ``search`` is a case-insensitive
  substring of the name. ``next_page_uri``/``prev_page_uri`` are the request
  path and query with the neighbouring ``offset`` and the asked ``limit``.
* Create requires name, app_config (with ``app_id``), start/end timestamps
  with a UTC offset, the end after the start, and allowed_schedule. A
  simulator-only ``_sim`` object may set ``contacts`` and ``contacts_per_hour``.
* PATCH ignores null and unknown fields and replaces ``app_config`` and
  ``allowed_schedule`` whole.
* ``allowed_days`` absent means every day, ``timezone`` absent Asia/Kolkata
  (documented); equal start and end times mean all day.
* Times are written by ``write_iso8601``: ``Z``, with a fraction only when the
  instant has one (the docs' samples never do).

Malformed records (fault knob): ``bad_time`` serves ``created_at`` as
``28/03/2026 10:00``-style text, ``unknown_status`` serves ``archived``,
``missing_id`` drops ``campaign_id``, ``wrong_type`` serves ``app_version`` as ``"two"``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from worker.simulators.base import int_param, read_json, unprocessable
from worker.simulators.sarvam_engine import (
    ACTIONS,
    DEFAULT_TIMEZONE,
    STATUSES,
    SarvamCampaign,
    SarvamEngine,
)
from worker.simulators.wire.bodies import Body, read_sarvam_schedule
from worker.simulators.wire.errors import BadField
from worker.simulators.wire.hours import sarvam_schedule_json
from worker.simulators.wire.times import write_iso8601

__all__ = [
    "BREAKERS",
    "ListQuery",
    "new_campaign",
    "parse_action",
    "parse_changes",
    "read_body",
    "render_detail",
    "render_metadata",
]

SORT_FIELDS = ("created_at", "updated_at", "name")
_NAME = re.compile(r"^[A-Za-z0-9_\- ]{1,50}$")


def _bad_time(record: dict[str, Any]) -> dict[str, Any]:
    # The record's own created_at, as render_metadata wrote it, in a day-first local style.
    created = datetime.fromisoformat(record["created_at"])
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
        "created_at": write_iso8601(c.created_at),
        "updated_at": write_iso8601(c.updated_at or c.created_at),
        "description": c.description,
        "app_type": c.app_config.get("app_type", "agent"),
        "app_version": c.app_config.get("app_version"),
        "updated_by": c.updated_by,
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
        "start_timestamp": write_iso8601(c.start_timestamp),
        "end_timestamp": write_iso8601(c.end_timestamp),
        "allowed_schedule": sarvam_schedule_json(c.allowed_schedule),
        **{k: meta[k] for k in ("description", "app_type", "app_version", "updated_by")},
    }


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The validated query of ``GET …/campaigns``."""

    offset: int
    limit: int
    status: str | None
    sort_by: str
    descending: bool
    search: str

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        """Read the query; raises SimError 422 naming the first bad parameter."""
        query = request.query_params
        offset = int_param(request, "offset", default=0, low=0, high=10**9, style="fastapi")
        limit = int_param(request, "limit", default=10, low=1, high=100, style="fastapi")
        status = query.get("campaign_status")
        sort_by, order = query.get("sort_by", "created_at"), query.get("sort_order", "desc")
        for name, value, allowed in (
            ("campaign_status", status, (None, *STATUSES)),
            ("sort_by", sort_by, SORT_FIELDS),
            ("sort_order", order, ("asc", "desc")),
        ):
            if value not in allowed:
                message = f"Input should be one of {', '.join(filter(None, allowed))}"
                raise unprocessable(message, "query", name, kind="enum")
        search = (query.get("search") or "").lower()
        return cls(offset, limit, status, sort_by, order == "desc", search)

    @property
    def by_creation(self) -> bool:
        """Every campaign by ``created_at``: an order that does not change as time passes."""
        return self.status is None and not self.search and self.sort_by == "created_at"

    def select(self, campaigns: Iterable[SarvamCampaign]) -> list[SarvamCampaign]:
        """The matching campaigns in the asked order, before paging."""
        items = [
            c
            for c in campaigns
            if self.status in (None, c.status) and self.search in c.name.lower()
        ]
        items.sort(key=lambda c: (getattr(c, self.sort_by), c.campaign_id), reverse=self.descending)
        return items

    def page_uri(self, request: Request, offset: int) -> str:
        """The request's path and query with ``offset`` and the asked ``limit``."""
        query = request.query_params.multi_items()
        keep = [(k, v) for k, v in query if k not in ("offset", "limit")]
        return f"{request.url.path}?{urlencode([*keep, ('offset', offset), ('limit', self.limit)])}"


def created_order(c: SarvamCampaign) -> tuple[Any, str]:
    """The list's order by ``created_at``, ties broken by id."""
    return (c.created_at, c.campaign_id)


async def read_body(request: Request) -> Body:
    """The JSON object a write sends; raises SimError 422 for anything else."""
    body = await read_json(request, style="fastapi")
    if not isinstance(body, dict):
        raise unprocessable("Input should be a valid dictionary", "body", kind="dict_type")
    return Body(body)


@contextlib.contextmanager
def _as_422() -> Iterator[None]:
    """Turn a BadField from reading a request body into FastAPI's 422."""
    try:
        yield
    except BadField as exc:
        missing = exc.reason == "required"
        message, kind = ("Field required", "missing") if missing else (exc.reason, "value_error")
        raise unprocessable(message, "body", *exc.field.split("."), kind=kind) from None


def parse_changes(body: Body, *, create: bool) -> dict[str, Any]:
    """Validated fields of a create (all required) or PATCH body (nulls and others ignored).

    Raises:
        SimError: 422 naming the first field at fault, FastAPI-style.
    """
    with _as_422():
        name, description = body.text("name", required=create), body.text("description")
        if name is not None and not _NAME.match(name):
            raise body.refuse("name", "1-50 letters, digits, '-', '_' or spaces")
        if description is not None and len(description) > 150:
            raise body.refuse("description", "String should have at most 150 characters")
        app = body.child("app_config", required=create)
        if app is not None:
            app.text("app_id", required=True)
            app.integer("app_version", minimum=None)
            if app.text("app_type") not in (None, "agent", "workflow"):
                raise app.refuse("app_type", "Input should be 'agent' or 'workflow'")
        start = body.iso8601("start_timestamp", required=True) if create else None
        end = body.iso8601("end_timestamp", required=create)
        if start is not None and end is not None and end <= start:
            raise body.refuse("end_timestamp", "end_timestamp must be after start_timestamp")
        window = read_sarvam_schedule(body, default_zone=DEFAULT_TIMEZONE)
        if create and window is None:
            raise body.refuse("allowed_schedule", "required")
    fields = {
        "name": name,
        "description": description,
        "app_config": None if app is None else {"app_type": "agent", **body.get("app_config")},
        "start_timestamp": start,
        "end_timestamp": end,
        "allowed_schedule": window,
    }
    return {k: v for k, v in fields.items() if v is not None}


def new_campaign(body: Body, engine: SarvamEngine, user: str) -> SarvamCampaign:
    """A campaign from a create body, not yet added; raises SimError 422 like FastAPI."""
    fields = parse_changes(body, create=True)
    campaign_id = engine.next_id()
    contacts, per_hour = engine.default_contacts(campaign_id)
    with _as_422():
        sim = body.child("_sim") or Body({}, "_sim")
        given_contacts = sim.integer("contacts", minimum=0)
        given_per_hour = sim.integer("contacts_per_hour", minimum=1)
    return SarvamCampaign(
        campaign_id=campaign_id,
        created_at=engine.clock.now(),
        created_by=user,
        contacts=contacts if given_contacts is None else given_contacts,
        contacts_per_hour=per_hour if given_per_hour is None else given_per_hour,
        **fields,
    )


def parse_action(body: Body) -> str:
    """The ``action`` of ``PUT …/status``; raises SimError 422 unless a known one."""
    action = body.get("action")
    if action not in ACTIONS:
        message = "Input should be 'pause', 'resume' or 'cancel'"
        raise unprocessable(message, "body", "action", kind="enum")
    return str(action)
