"""Every provider's lifecycle scenarios on PostgreSQL: the same scenarios as the fast tier's
``tests/fast/test_lifecycles.py``, so both stores are held to the same stories; and each
scenario leaves the two stores holding the same rows: outbox, campaigns, history, runs and
leases, value for value."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conformance.backends import Backend, memory_backend, postgres_backend
from tests.scenarios import Scenario, all_scenarios
from worker.domain.campaign import TargetKey

SCENARIOS = all_scenarios()


async def kept(backend: Backend) -> list[dict[str, Any]]:
    """The kept rejections, less when they were seen: a page without changes notes its
    rejections at the database's own time on PostgreSQL."""
    times = {"first_seen_at", "last_seen_at"}
    return [
        {k: v for k, v in row.items() if k not in times} for row in await backend.inspect.errors()
    ]


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
async def test_lifecycle_on_postgres_as_in_memory(engine: AsyncEngine, scenario: Scenario) -> None:
    on_postgres = postgres_backend(engine)
    await scenario(on_postgres)  # the database fixture checks the tables' integrity after
    in_memory = memory_backend()
    await scenario(in_memory)
    events = await on_postgres.inspect.events()
    assert await in_memory.inspect.events() == events
    assert await kept(in_memory) == await kept(on_postgres)
    targets = {TargetKey(provider=e["provider"], account=e["account"]) for e in events}
    for target in targets:
        assert await in_memory.inspect.runs(target) == await on_postgres.inspect.runs(target)
        assert await in_memory.inspect.target(target) == await on_postgres.inspect.target(target)
    for event in events:
        target = TargetKey(provider=event["provider"], account=event["account"])
        cid = event["campaign_id"]
        assert await in_memory.inspect.campaign(target, cid) == (
            await on_postgres.inspect.campaign(target, cid)
        )
        assert await in_memory.inspect.history(target, cid) == (
            await on_postgres.inspect.history(target, cid)
        )
