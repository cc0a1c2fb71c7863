"""Detail requests (VOXO, Sarvam) fail per campaign: a failing or missing detail keeps that
campaign's stored state for the cycle, and a token the provider echoes never leaks."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.helpers import errors, event_types, events, row, runtime_for
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.simulators.faults import Faults
from worker.storage.tables import campaign_events, sync_errors, sync_runs, sync_targets

KITS = all_kits()


class Breaking:
    """ASGI wrapper: requests whose path ``breaks`` returns true answer ``status``, with a
    FeathersJS error that echoes the request's Authorization header (a careless server)."""

    def __init__(self, app: ASGIApp, status: int = 500) -> None:
        self.app = app
        self.status = status
        self.breaks: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.breaks:
            headers = dict(scope["headers"])
            echoed = headers.get(b"authorization", b"").decode()
            body = json.dumps(
                {"name": "GeneralError", "message": f"upstream refused {echoed}", "code": 500}
            ).encode()
            await send({"type": "http.response.start", "status": self.status, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def test_a_failing_detail_defers_one_campaign_and_it_is_stored_when_it_recovers(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    kit = KITS["voxo"]
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 3)
    broken = Breaking(app)
    broken.breaks.add(f"/v2/call-campaigns/{ids[1]}")
    async with runtime_for(engine, clock, {kit.target: broken}) as rt:
        first = await rt.sync_target(kit.target.name)
        assert (first.status, first.changed, first.deferred) == ("partial", 2, 1)
        assert await row(engine, "SELECT count(*) AS n FROM campaigns") == {"n": 2}
        broken.breaks.clear()
        second = await rt.sync_target(kit.target.name)
    assert (second.status, second.changed, second.deferred) == ("succeeded", 1, 0)
    assert await event_types(engine, ids[1]) == ["campaign.discovered"]
    stored = await row(
        engine, "SELECT raw ? 'numbers' AS detailed FROM campaigns WHERE campaign_id = :c", c=ids[1]
    )
    assert stored == {"detailed": True}


async def test_a_token_the_provider_echoes_is_redacted_everywhere(
    engine: AsyncEngine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kit = KITS["voxo"]
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 2)
    broken = Breaking(app)
    async with runtime_for(engine, clock, {kit.target: broken}) as rt:
        broken.breaks.update(f"/v2/call-campaigns/{cid}" for cid in ids)
        deferred = await rt.sync_target(kit.target.name)  # every detail echoes the token
        broken.breaks.add("/v2/call-campaigns")
        failed = await rt.sync_target(kit.target.name)  # the list echoes it too
    tokens = set(state.issued_tokens())
    assert tokens, "the simulator issued no token"
    assert deferred.status == "partial" and failed.status == "failed"
    assert "[REDACTED]" in (failed.error or "")
    async with engine.connect() as conn:
        dumped = [
            json.dumps([list(r) for r in await conn.execute(select(table))], default=str)
            for table in (sync_runs, sync_errors, campaign_events, sync_targets)
        ]
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    for token in tokens:
        assert all(token not in d for d in dumped)
        assert token not in logged
        assert token not in (failed.error or "")
    reasons = [e["reason"] for e in await errors(engine) if e["kind"] == "detail"]
    assert reasons and all("Bearer [REDACTED]" in r for r in reasons)


async def test_a_detail_404_for_a_listed_campaign_keeps_its_stored_detail_fields(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    kit = KITS["sarvam"]
    app, state = kit.build(clock, Faults(), 3)
    (cid,) = kit.populate(state, 1)
    broken = Breaking(app, status=404)
    detail = f"/api/scheduling/v1/orgs/org-kit/workspaces/ws-kit/campaigns/{cid}"
    async with runtime_for(engine, clock, {kit.target: broken}) as rt:
        await rt.sync_target(kit.target.name)
        before = await row(engine, "SELECT version, scheduled_start_at, call_window FROM campaigns")
        clock.advance(timedelta(minutes=5))
        state.touch(state.get(cid), "editor@example.com")  # the list item moves...
        broken.breaks.add(detail)  # ...but its detail answers 404
        missing = await rt.sync_target(kit.target.name)
        kept = await row(engine, "SELECT version, scheduled_start_at, call_window FROM campaigns")
        broken.breaks.clear()
        back = await rt.sync_target(kit.target.name)
    assert (missing.status, missing.deferred, missing.changed) == ("partial", 1, 0)
    assert kept == before  # no version without its start, end and schedule
    assert back.changed == 1
    assert await event_types(engine, cid) == ["campaign.discovered", "campaign.updated"]
    (noted,) = [e for e in await errors(engine) if e["kind"] == "detail_missing"]
    assert noted["campaign_id"] == cid
    updated = await events(engine, campaign_events.c.type == "campaign.updated")
    assert updated[0]["data"]["raw_changed"] == ["updated_at", "updated_by"]
