"""A property of the whole write path: whatever order observations arrive in, with replays
and duplicates, history is the sequence of distinct observations in order, event ids are
unique, replaying a prefix adds nothing and a stale observation never wins.

Each example syncs one campaign through the real adapter (vox v3, over ASGITransport to a
server that serves what the example says), the real pipeline and the real store. The clock
is set by the example, so deliveries can arrive out of order.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import T0
from tests.helpers import runtime_for
from worker.config import VoxV3Target
from worker.domain.timestamps import to_unix_ms
from worker.storage.tables import campaign_events, campaign_history

Observation = tuple[str, int]  # (vox status, completed calls)
_accounts = itertools.count()


class SettableClock:
    """A clock the example sets, backwards too: it plays deliveries in any order."""

    def __init__(self, now: datetime) -> None:
        self.instant = now

    def now(self) -> datetime:
        return self.instant


class OnePage:
    """A vox v3 list endpoint serving one record, once or twice in its page."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

        async def campaigns(request: Request) -> JSONResponse:
            return JSONResponse({"items": self.items, "next_cursor": None, "total_count": 1})

        self.app = Starlette(routes=[Route("/v3/campaigns", campaigns)])

    def serve(self, observation: Observation, *, twice: bool) -> None:
        status, completed = observation
        record = {
            "id": "42",
            "name": "property",
            "status": status,
            "total_calls": 10,
            "completed_calls": completed,
            "failed_calls": 0,
            "created_at": to_unix_ms(T0),
            "paused_by": "system" if status == "paused" else None,
            "paused_at": to_unix_ms(T0) if status == "paused" else None,
        }
        self.items = [record, {**record, "name": "the same id again"}] if twice else [record]


def expected_history(observations: list[Observation], deliveries: list[int]) -> list[Observation]:
    """The model: a delivery observed before the newest one already taken is stale and
    dropped; otherwise it becomes a version when it differs from the current one."""
    history: list[Observation] = []
    newest = -1
    for index in deliveries:
        if index < newest:
            continue
        newest = index
        if not history or observations[index] != history[-1]:
            history.append(observations[index])
    return history


async def play(
    engine: AsyncEngine,
    observations: list[Observation],
    deliveries: list[tuple[int, bool]],
    replay: int,
) -> None:
    server = OnePage()
    clock = SettableClock(T0)
    target = VoxV3Target(
        account=f"p{next(_accounts)}", base_url="http://vox.test", api_key=SecretStr("k")
    )
    async with runtime_for(engine, clock, {target: server.app}) as rt:

        async def deliver(index: int, twice: bool) -> None:
            clock.instant = T0 + timedelta(minutes=index)
            server.serve(observations[index], twice=twice)
            summary = await rt.sync_target(target.name)
            assert summary.status == "succeeded", summary.error

        for index, twice in deliveries:
            await deliver(index, twice)
        history = await _history(engine, target.account)
        assert history == expected_history(observations, [i for i, _ in deliveries])
        events_before = await _event_ids(engine, target.account)
        assert len(events_before) == len(set(events_before))  # unique event ids

        for index, twice in deliveries[:replay]:  # replaying any prefix adds nothing
            await deliver(index, twice)
        assert await _history(engine, target.account) == history
        assert await _event_ids(engine, target.account) == events_before


async def _history(engine: AsyncEngine, account: str) -> list[Observation]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(campaign_history.c.status_raw, campaign_history.c.completed_calls)
            .where(campaign_history.c.account == account)
            .order_by(campaign_history.c.version)
        )
        return [(r.status_raw, r.completed_calls) for r in rows]


async def _event_ids(engine: AsyncEngine, account: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(campaign_events.c.event_id)
            .where(campaign_events.c.account == account)
            .order_by(campaign_events.c.id)
        )
        return [str(r) for r in rows.scalars()]


observations_st = st.lists(
    st.tuples(st.sampled_from(["ongoing", "paused"]), st.integers(0, 1)), min_size=1, max_size=5
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Observation], list[tuple[int, bool]], int]:
    observations = draw(observations_st)
    deliveries = draw(
        st.lists(
            st.tuples(st.integers(0, len(observations) - 1), st.booleans()),
            min_size=1,
            max_size=10,
        )
    )
    return observations, deliveries, draw(st.integers(0, len(deliveries)))


async def test_any_order_of_observations_moves_state_only_forward(engine: AsyncEngine) -> None:
    def run() -> None:
        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        )
        @given(scenarios())
        # A page fetched before one already written, whose campaign did not change in
        # that newer page: only the target's newest observation shows it is stale.
        @example(
            (
                [("ongoing", 0), ("ongoing", 1), ("paused", 1), ("ongoing", 1)],
                [(1, False), (3, False), (2, False)],
                0,
            )
        )
        def check(scenario: tuple[list[Observation], list[tuple[int, bool]], int]) -> None:
            anyio.from_thread.run(play, engine, *scenario)

        check()

    await anyio.to_thread.run_sync(run)
    async with engine.connect() as conn:
        distinct = (
            await conn.execute(select(func.count(func.distinct(campaign_events.c.event_id))))
        ).scalar_one()
        total = (await conn.execute(select(func.count()).select_from(campaign_events))).scalar_one()
    assert distinct == total > 0


def test_the_model_drops_stale_and_repeated_observations() -> None:
    observations = [("ongoing", 0), ("ongoing", 1), ("paused", 1), ("ongoing", 1)]
    # 0 after 1 is stale; 1 again and 3 (same content) change nothing; 2 after 3 is stale.
    assert expected_history(observations, [1, 0, 1, 3, 2, 3]) == [("ongoing", 1)]
    assert expected_history(observations, [0, 2, 3]) == [
        ("ongoing", 0),
        ("paused", 1),
        ("ongoing", 1),
    ]
