"""The real sync pipeline on one store, polling one provider's simulator in-process.

A scenario drives a simulator through a campaign's life on a manual clock and
runs one cycle whenever it wants the worker to look. The cycle is the one the
daemon runs: ``worker.sync.pipeline.SyncPipeline`` with the target's provider
(``worker.runtime.targets.provider_for``: its HTTP source on an
``httpx.ASGITransport`` to the simulator, and its dialect). Only the store
differs: the scenario's :class:`~tests.conformance.backends.Backend`, memory or
PostgreSQL, read back through its inspector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from starlette.types import ASGIApp

from tests.conformance.backends import Backend
from tests.conformance.inspector import Inspector
from worker.clock import ManualClock
from worker.config import Settings, Target
from worker.domain.campaign import TargetKey
from worker.observability.redaction import SecretValues
from worker.ports import Provider, RunSummary
from worker.runtime.targets import provider_for
from worker.sync.pipeline import CyclePolicy, SyncPipeline

__all__ = ["HOUR", "MINUTE", "T0", "Harness", "harness"]

OWNER = "scenario/1/worker"
# A Monday, 09:00 in Seoul, 18:00 the day before in Chicago (as tests/conftest.py's T0).
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


@dataclass
class Harness:
    """One target's cycles, and what its store holds."""

    pipeline: SyncPipeline
    provider: Provider
    policy: CyclePolicy
    backend: Backend

    @property
    def inspect(self) -> Inspector:
        """Reads what the store holds."""
        return self.backend.inspect

    @property
    def target(self) -> TargetKey:
        """The target the cycles sync."""
        return self.provider.source.target

    async def sync(self) -> RunSummary:
        """One cycle, now (on the scenario's clock)."""
        return await self.pipeline.sync_once(self.provider, self.policy)

    async def event_types(self, campaign_id: str) -> list[str]:
        """The types of one campaign's stored events, in outbox order."""
        return [e["type"] for e in await self.inspect.events(campaign_id=campaign_id)]

    async def assert_quiet_cycle(self) -> None:
        """Another cycle on an unchanged clock succeeds and stores no version and no event."""
        stored = len(await self.inspect.events())
        again = await self.sync()
        assert (again.status, again.changed, again.events) == ("succeeded", 0, 0), again
        assert len(await self.inspect.events()) == stored


@asynccontextmanager
async def harness(
    backend: Backend, clock: ManualClock, target: Target, app: ASGIApp
) -> AsyncIterator[Harness]:
    """Cycles of ``target`` on ``backend``'s store, its provider talking to ``app``.

    One manual clock is both observation and lease time.
    """
    secrets = SecretValues(Settings(targets=(target,)).secrets())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(base_url=target.base_url, transport=transport) as client:
        provider = provider_for(target, client, clock, secrets=secrets)
        pipeline = SyncPipeline(
            backend.store, clock, owner=OWNER, lease_clock=clock, secrets=secrets
        )
        policy = CyclePolicy(
            interval=target.poll_interval,
            misses_to_vanish=target.vanish_after_misses,
            detail_refresh=target.detail_refresh_interval,
        )
        yield Harness(pipeline, provider, policy, backend)
