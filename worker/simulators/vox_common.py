"""What the vox v2 and v3 simulators share: one organization's API conventions.

* Bearer auth, refused with 401 ``UNAUTHORIZED``, and vox's error envelope
  ``{"error": {"code", "message", "details"}}`` for handler errors and injected
  faults alike (``RATE_LIMITED``, ``INTERNAL_ERROR``).
* Create bodies (docs/providers.md 1.7). v3: ``from_number``,
  ``agent{agent_id,agent_version}``, ``scheduled_at`` in unix ms (10- or
  11-digit unix seconds are accepted and normalized, as reported of the live
  API). v2: ``call_from``, flat ``agent_id`` and ``agent_version`` (default
  ``production``), ISO ``scheduled_at``. Both: ``name`` 1-255 characters, at
  least one task, ``concurrency`` 1-100 (default 5), ``call_time_window``
  defaulting to 08:00-20:00 every day. A simulator-only ``_sim`` object may set
  ``seconds_per_call``, ``success_percent`` and ``created_at`` (unix ms) for
  deterministic scenarios.
* The v2 list body (its choices are documented in :mod:`worker.simulators.vox_v2`).
* Malformed records: the same four kinds, ``bad_time`` in the other version's format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from worker.simulators.base import SimError
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.wire.bodies import Body, read_vox_window
from worker.simulators.wire.errors import ABSENT, BadField
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span
from worker.simulators.wire.times import read_unix_ms, read_unix_seconds

__all__ = [
    "DEFAULT_TIMEZONE",
    "ListQuery",
    "authorize",
    "breakers",
    "default_window",
    "fault_body",
    "parse_create",
    "parse_list",
    "parse_window",
    "render_error",
]

Breaker = Callable[[dict[str, Any]], dict[str, Any]]

DEFAULT_TIMEZONE = "Asia/Seoul"  # vox is a Korean service; its samples use this zone
_STATUSES = ("draft", "pending", "ongoing", "paused", "success", "fail", "canceled")
_AGENT_VERSION = re.compile(r"^(current|production|v[1-9][0-9]*)$")
_LIST_FIELDS = ("filter_criteria", "sort_order", "limit", "pagination_key")
_FILTER_FIELDS = ("status", "agent_id", "start_timestamp")
_THRESHOLD_FIELDS = ("upper_threshold", "lower_threshold")
_SORT_ORDERS = {"descending": True, "ascending": False}


def authorize(request: Request, api_key: str) -> None:
    """Raise SimError 401 unless the request carries ``Authorization: Bearer <api_key>``."""
    if request.headers.get("authorization") != f"Bearer {api_key}":
        raise SimError(401, "UNAUTHORIZED", "Invalid or missing API key")


def render_error(exc: SimError) -> Response:
    """``exc`` in vox's envelope; ``details`` only when there are some."""
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details is not None:
        body["details"] = exc.details
    return JSONResponse({"error": body}, status_code=exc.status)


def fault_body(status: int) -> dict[str, Any]:
    """The envelope of an injected 429 or 5xx."""
    if status == 429:
        return {"error": {"code": "RATE_LIMITED", "message": "Too many requests"}}
    return {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}}


def breakers(bad_time: Callable[[Any], Any]) -> dict[str, Breaker]:
    """The malformations a vox record can be served with, for ``Faults.corrupt``.

    Args:
        bad_time: Rewrites a good ``created_at`` in the other API version's format,
            the mix-up a client of both versions is most likely to meet.
    """
    return {
        "bad_time": lambda r: {**r, "created_at": bad_time(r["created_at"])},
        "unknown_status": lambda r: {**r, "status": "archived"},
        "missing_id": lambda r: {k: v for k, v in r.items() if k != "id"},
        "wrong_type": lambda r: {**r, "total_calls": str(r["total_calls"])},
    }


def _refused(exc: BadField) -> SimError:
    return SimError(400, "VALIDATION_ERROR", str(exc), {"field": exc.field})


def default_window() -> Hours:
    """08:00-20:00 every day, vox's documented default."""
    return Hours(
        timezone=DEFAULT_TIMEZONE,
        ranges=(Span(days=EVERY_DAY, start_min=8 * 60, end_min=20 * 60),),
        auto_resume=True,
    )


def parse_window(body: Body, *, required: bool = False) -> Hours | None:
    """``call_time_window`` from a request; null is refused when the field is present."""
    if body.has("call_time_window") and body.get("call_time_window") is None:
        raise BadField("call_time_window", None, "may not be null")
    if required and not body.has("call_time_window"):
        raise BadField("call_time_window", None, "required")
    return read_vox_window(body)


def parse_create(payload: Any, engine: VoxEngine, *, version: Literal["v2", "v3"]) -> VoxCampaign:
    """A new campaign from a create body; raises SimError 400 naming the bad field."""
    try:
        return _parse_create(Body(payload), engine, version)
    except BadField as exc:
        raise _refused(exc) from None


def _parse_create(body: Body, engine: VoxEngine, version: str) -> VoxCampaign:
    name = body.text("name", required=True) or ""
    if not name.strip() or len(name) > 255:
        raise body.refuse("name", "must be 1-255 characters, not blank")
    tasks = body.array("tasks", required=True) or []
    if not tasks:
        raise body.refuse("tasks", "at least one task is required")
    concurrency = body.integer("concurrency", minimum=1)
    if concurrency is not None and concurrency > 100:
        raise body.refuse("concurrency", "must be between 1 and 100")
    if version == "v3":
        agent = body.child("agent", required=True)
        assert agent is not None
        agent_id = agent.text("agent_id", required=True)
        agent_version: str | int = agent.text("agent_version") or "current"
        from_number = body.text("from_number", required=True)
        scheduled_raw = body.get("scheduled_at")
        scheduled = None
        if scheduled_raw is not None and scheduled_raw is not ABSENT:
            # 10- or 11-digit numbers are unix seconds, as reported of the live API.
            seconds_like = isinstance(scheduled_raw, int) and scheduled_raw < 100_000_000_000
            read = read_unix_seconds if seconds_like else read_unix_ms
            scheduled = read(scheduled_raw, "scheduled_at")
    else:
        agent_id = body.text("agent_id", required=True)
        agent_version = body.text("agent_version") or "production"
        from_number = body.text("call_from", required=True)
        scheduled = body.iso8601("scheduled_at")
    if isinstance(agent_version, str) and not _AGENT_VERSION.match(agent_version):
        raise BadField("agent_version", agent_version, "expected current, production or v<n>")
    sim = body.child("_sim") or Body({}, "_sim")
    created = sim.unix_ms("created_at")
    success_percent = sim.integer("success_percent", minimum=0)
    return VoxCampaign(
        id=engine.next_id(),
        name=name,
        created_at=created or engine.clock.now(),
        total_calls=len(tasks),
        scheduled_at=scheduled,
        concurrency=concurrency or 5,
        agent_id=agent_id or "",
        agent_version=agent_version,
        from_number=from_number or "",
        presentation_number=body.text("presentation_number"),
        call_window=parse_window(body) or default_window(),
        seconds_per_call=float(sim.integer("seconds_per_call", minimum=1) or 120),
        success_percent=80 if success_percent is None else success_percent,
    )


def created_order(c: VoxCampaign) -> tuple[datetime, int, str]:
    """The order of vox lists: by creation, then id (numeric ids compare numerically)."""
    return (c.created_at, len(c.id), c.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """A validated ``POST /v2/campaigns/list`` body."""

    limit: int = 50
    descending: bool = True
    pagination_key: str | None = None
    statuses: frozenset[str] | None = None
    agent_ids: frozenset[str] | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None

    @property
    def unfiltered(self) -> bool:
        """No ``filter_criteria``: every campaign, in creation order."""
        return (
            self.statuses is None
            and self.agent_ids is None
            and self.created_from is None
            and self.created_until is None
        )

    def matching(self, campaigns: Iterable[VoxCampaign]) -> list[VoxCampaign]:
        """The campaigns that pass ``filter_criteria``, in the requested order."""
        return sorted(
            (c for c in campaigns if self._matches(c)), key=created_order, reverse=self.descending
        )

    def after(self, c: VoxCampaign, anchor: VoxCampaign) -> bool:
        """Whether ``c`` comes after ``anchor`` in this query's order."""
        if self.descending:
            return created_order(c) < created_order(anchor)
        return created_order(c) > created_order(anchor)

    def _matches(self, c: VoxCampaign) -> bool:
        return (
            (self.statuses is None or c.status in self.statuses)
            and (self.agent_ids is None or c.agent_id in self.agent_ids)
            and (self.created_from is None or c.created_at >= self.created_from)
            and (self.created_until is None or c.created_at <= self.created_until)
        )


def parse_list(payload: Any) -> ListQuery:
    """Validate a v2 list body; raises SimError 400 naming the field. An empty body is ``{}``."""
    try:
        return _parse_list(payload)
    except BadField as exc:
        raise _refused(exc) from None


def _parse_list(payload: Any) -> ListQuery:
    body = _object(payload, "", _LIST_FIELDS)
    limit = body.integer("limit", minimum=1)
    if limit is not None and limit > 500:
        raise body.refuse("limit", "must be between 1 and 500")
    order = body.text("sort_order") or "descending"
    if order not in _SORT_ORDERS:
        raise body.refuse("sort_order", "expected descending or ascending")
    criteria = _object(body.get("filter_criteria"), "filter_criteria", _FILTER_FIELDS)
    statuses = _strings(criteria, "status")
    if statuses is not None and not statuses <= set(_STATUSES):
        raise criteria.refuse("status", f"expected values among {', '.join(_STATUSES)}")
    thresholds = _object(
        criteria.get("start_timestamp"), criteria.path("start_timestamp"), _THRESHOLD_FIELDS
    )
    return ListQuery(
        limit=50 if limit is None else limit,
        descending=_SORT_ORDERS[order],
        pagination_key=body.text("pagination_key") or None,
        statuses=statuses,
        agent_ids=_strings(criteria, "agent_id"),
        created_from=thresholds.unix_ms("lower_threshold"),
        created_until=thresholds.unix_ms("upper_threshold"),
    )


def _object(value: Any, path: str, allowed: tuple[str, ...]) -> Body:
    """The JSON object at ``path``; absent or null reads as ``{}``; unknown keys are refused."""
    body = Body({} if value is None or value is ABSENT else value, path)
    for key in body.names():
        if key not in allowed:
            raise body.refuse(key, f"unknown field; allowed: {', '.join(allowed)}")
    return body


def _strings(body: Body, name: str) -> frozenset[str] | None:
    values = body.array(name)
    if values is None:
        return None
    if not all(isinstance(v, str) for v in values):
        raise body.refuse(name, "expected an array of strings")
    return frozenset(values)
