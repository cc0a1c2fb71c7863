"""State only moves forward, through the real load and write path: a replica that fetched
a page and then lost its lease never applies it over a newer version, and a provider that
serves an older record than the stored one is not believed."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta

import anyio
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conftest import T0
from tests.helpers import Gate, count, events, row, runtime_for
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app
from worker.storage.tables import campaign_events, campaign_history

KEY = "vox-stale-key"
TARGET = VoxV3Target(account="acme", base_url="http://vox.test", api_key=SecretStr(KEY))
# Monday 09:00-09:02 in Seoul; T0 is Monday 09:00 KST: the window closes two minutes in.
SHORT_WINDOW = CallWindow(
    timezone="Asia/Seoul",
    ranges=(WindowRange(days=(Weekday.MONDAY,), start_min=540, end_min=542),),
    auto_resume=True,
)


def fleet(clock: ManualClock) -> tuple[VoxEngine, str]:
    vox = VoxEngine(clock, seed=5, dispatch_delay=timedelta(0))
    campaign = vox.add(
        VoxCampaign(
            id=vox.next_id(),
            name="window",
            created_at=T0 - timedelta(hours=1),
            total_calls=10_000,
            concurrency=10,
            seconds_per_call=6.0,
            call_window=SHORT_WINDOW,
        )
    )
    return vox, campaign.id


async def test_a_page_fetched_before_a_takeover_is_never_applied(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    vox, _ = fleet(clock)
    app = create_app(vox, api_key=KEY)
    slow = Gate(app, lambda method, path: path == "/v3/campaigns")
    # Each replica has its own lease clock; B's runs 31 s ahead, past A's 30 s lease.
    a_leases, b_leases = ManualClock(T0), ManualClock(T0 + timedelta(seconds=31))
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            runtime_for(engine, clock, {TARGET: slow}, lease_clock=a_leases, owner="replica-a")
        )
        b = await stack.enter_async_context(
            runtime_for(engine, clock, {TARGET: app}, lease_clock=b_leases, owner="replica-b")
        )
        clock.set(T0 + timedelta(seconds=30))  # 09:00:30, dialing
        assert (await a.sync_target(TARGET.name)).status == "succeeded"

        clock.set(T0 + timedelta(minutes=1))  # 09:01: A fetches "ongoing"...
        slow.armed = True
        outcome = {}

        async def replica_a() -> None:
            outcome["a"] = await a.sync_target(TARGET.name)

        async with anyio.create_task_group() as tg:
            tg.start_soon(replica_a)
            with anyio.fail_after(10):
                await slow.held.wait()
            # ...and stalls. 09:02:30: the window closed; B takes the target over.
            clock.set(T0 + timedelta(minutes=2, seconds=30))
            newer = await b.sync_target(TARGET.name)
            assert newer.status == "succeeded"
            assert newer.changed == 1
            slow.release()  # A's stale page arrives now
        stale = outcome["a"]

    assert stale.status == "superseded"
    assert (stale.changed, stale.events) == (0, 0)
    assert await row(engine, "SELECT version, status, paused_by FROM campaigns") == {
        "version": 2,
        "status": "paused",
        "paused_by": "system",
    }
    assert await row(engine, "SELECT version FROM campaign_history WHERE valid_to IS NULL") == {
        "version": 2
    }
    assert await count(engine, campaign_events, campaign_events.c.version > 2) == 0
    assert [e["type"] for e in await events(engine, campaign_events.c.version == 2)] == [
        "campaign.status_changed",
        "campaign.paused",
        "campaign.progress",
    ]
    async with engine.connect() as conn:
        completed = (
            (
                await conn.execute(
                    select(campaign_history.c.completed_calls).order_by(campaign_history.c.version)
                )
            )
            .scalars()
            .all()
        )
    assert completed == sorted(completed)  # counters never went backwards
    runs = await row(
        engine,
        "SELECT string_agg(owner || ':' || status, ',' ORDER BY id) AS runs FROM sync_runs",
    )
    assert runs == {"runs": "replica-a:succeeded,replica-a:superseded,replica-b:succeeded"}


class Replay:
    """ASGI wrapper: records every response body, and on demand serves the recorded ones
    again (a provider read replica lagging behind)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.recorded: dict[str, list[Message]] = {}
        self.replaying: dict[str, list[Message]] | None = None

    def freeze(self) -> None:
        self.replaying = dict(self.recorded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}"
        if self.replaying is not None and key in self.replaying:
            for message in self.replaying[key]:
                await send(message)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, keep)
        self.recorded[key] = messages


async def test_an_older_provider_updated_at_is_not_applied(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    kit = all_kits()["sarvam"]
    app, state = kit.build(clock, Faults(), 3)
    (cid,) = kit.populate(state, 1)
    replay = Replay(app)
    async with runtime_for(engine, clock, {kit.target: replay}) as rt:
        await rt.sync_target(kit.target.name)
        old = replay.recorded.copy()
        clock.advance(timedelta(minutes=5))
        # The provider moves on: paused, with a newer updated_at.
        state.act(state.get(cid), "pause", "user@example.com")
        clock.advance(timedelta(minutes=5))
        assert (await rt.sync_target(kit.target.name)).changed == 1
        replay.recorded = old
        replay.freeze()  # a lagging replica now serves the first listing again
        clock.advance(timedelta(minutes=5))
        lagging = await rt.sync_target(kit.target.name)
    assert (lagging.status, lagging.changed, lagging.stale) == ("succeeded", 0, 1)
    assert await row(engine, "SELECT version, status FROM campaigns") == {
        "version": 2,
        "status": "paused",
    }
    assert await count(engine, campaign_events) == 3  # discovered, status_changed, paused
