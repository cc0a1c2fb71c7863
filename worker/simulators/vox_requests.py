"""Validation of vox create requests, shared by the v2 and v3 simulators.

v3 (PROVIDERS.md 1.5): ``from_number``, ``agent{agent_id,agent_version}``,
``scheduled_at`` in unix ms (10- or 11-digit unix seconds are accepted and
normalized, as reported of the live API). v2: ``call_from``, flat ``agent_id``
and ``agent_version`` (default ``production``), ISO ``scheduled_at``. Both:
``name`` 1-255 characters, at least one task, ``concurrency`` 1-100 (default 5),
``call_time_window`` defaulting to 08:00-20:00 every day.

A simulator-only ``_sim`` object may set ``seconds_per_call``,
``success_percent`` and ``created_at`` (unix ms) for deterministic scenarios.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from worker.domain.records import Record
from worker.domain.timestamps import parse_unix_ms, parse_unix_seconds
from worker.domain.windows import EVERY_DAY, CallWindow, WindowRange, read_minute_window
from worker.errors import NormalizationError
from worker.simulators.base import SimError
from worker.simulators.vox_engine import VoxCampaign, VoxEngine

__all__ = ["DEFAULT_TIMEZONE", "default_window", "parse_create", "parse_window"]

DEFAULT_TIMEZONE = "Asia/Seoul"  # vox is a Korean service; its samples use this zone
_AGENT_VERSION = re.compile(r"^(current|production|v[1-9][0-9]*)$")


def default_window() -> CallWindow:
    """08:00-20:00 every day, vox's documented default."""
    return CallWindow(
        timezone=DEFAULT_TIMEZONE,
        ranges=(WindowRange(days=EVERY_DAY, start_min=8 * 60, end_min=20 * 60),),
        auto_resume=True,
    )


def parse_window(body: Record, *, required: bool = False) -> CallWindow | None:
    """``call_time_window`` from a request; null is refused when the field is present."""
    if body.has("call_time_window") and body.raw("call_time_window") is None:
        raise NormalizationError("call_time_window", None, "may not be null")
    if required and not body.has("call_time_window"):
        raise NormalizationError("call_time_window", None, "required")
    return read_minute_window(body)


def parse_create(payload: Any, engine: VoxEngine, *, version: Literal["v2", "v3"]) -> VoxCampaign:
    """A new campaign from a create body; raises SimError 400 naming the bad field."""
    try:
        return _parse(Record(payload), engine, version)
    except NormalizationError as exc:
        raise SimError(400, "VALIDATION_ERROR", str(exc), {"field": exc.field}) from None


def _parse(body: Record, engine: VoxEngine, version: str) -> VoxCampaign:
    name = body.text("name", required=True) or ""
    if not name.strip() or len(name) > 255:
        raise body.error("name", "must be 1-255 characters, not blank")
    tasks = body.array("tasks", required=True) or []
    if not tasks:
        raise body.error("tasks", "at least one task is required")
    concurrency = body.integer("concurrency", minimum=1)
    if concurrency is not None and concurrency > 100:
        raise body.error("concurrency", "must be between 1 and 100")
    if version == "v3":
        agent = body.child("agent", required=True)
        assert agent is not None
        agent_id = agent.text("agent_id", required=True)
        agent_version: str | int = agent.text("agent_version") or "current"
        from_number = body.text("from_number", required=True)
        scheduled_raw = body.raw("scheduled_at")
        scheduled = None
        if scheduled_raw is not None and body.has("scheduled_at"):
            seconds_like = isinstance(scheduled_raw, int) and scheduled_raw < 100_000_000_000
            parse = parse_unix_seconds if seconds_like else parse_unix_ms
            scheduled = parse(scheduled_raw, "scheduled_at")
    else:
        agent_id = body.text("agent_id", required=True)
        agent_version = body.text("agent_version") or "production"
        from_number = body.text("call_from", required=True)
        scheduled = body.iso8601("scheduled_at")
    if isinstance(agent_version, str) and not _AGENT_VERSION.match(agent_version):
        raise NormalizationError(
            "agent_version", agent_version, "expected current, production or v<n>"
        )
    sim = body.child("_sim") or Record({}, "_sim")
    created = sim.unix_ms("created_at")
    success_percent = sim.integer("success_percent")
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
