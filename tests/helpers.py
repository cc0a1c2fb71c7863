"""Helpers for tests that run the real pipeline against simulators over ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.clock import ManualClock
from worker.config import Settings, Target
from worker.domain.campaign import TargetKey
from worker.ports import Clock, Lease
from worker.runtime.app import Runtime, open_runtime
from worker.storage.postgres import PostgresStore
from worker.storage.tables import campaign_events, campaign_history, sync_errors

VOX_KEY = "vox-test-key-0123456789"


def secret(value: str) -> SecretStr:
    return SecretStr(value)


@asynccontextmanager
async def runtime_for(
    engine: AsyncEngine,
    clock: Clock,
    apps: Mapping[Target, ASGIApp],
    *,
    lease_clock: Clock | None = None,
    owner: str | None = None,
    **settings: Any,
) -> AsyncIterator[Runtime]:
    """A Runtime on ``engine`` whose targets talk to the given in-process apps."""
    transports = {t.name: httpx.ASGITransport(app=app) for t, app in apps.items()}
    async with open_runtime(
        Settings(targets=tuple(apps), **settings),
        clock=clock,
        engine=engine,
        transports=transports,
        lease_clock=lease_clock,
        owner=owner,
    ) as rt:
        yield rt


async def claim(
    store: PostgresStore,
    target: TargetKey,
    now: datetime,
    *,
    owner: str = "test-worker",
    ttl: float = 30.0,
    interval: float = 60.0,
) -> Lease:
    """Take ``target``'s lease as ``owner`` (forced: due or not); fails the test if refused."""
    lease = await store.claim(
        target,
        owner=owner,
        lease_clock=ManualClock(now),
        ttl=ttl,
        interval=interval,
        clock=ManualClock(now),
        force=True,
    )
    assert isinstance(lease, Lease), lease
    return lease


async def backends(engine: AsyncEngine, where: str = "true") -> int:
    """Other sessions on this engine's database (``pg_stat_activity``) matching ``where``."""
    others = "datname = current_database() AND pid <> pg_backend_pid()"
    query = f"SELECT count(*) FROM pg_stat_activity WHERE {others} AND ({where})"  # noqa: S608 - the tests' own conditions
    async with engine.connect() as conn:
        return int((await conn.execute(text(query))).scalar_one())


async def stored_event_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return {str(i) for (i,) in await conn.execute(text("SELECT event_id FROM campaign_events"))}


async def count(engine: AsyncEngine, table: Any, *where: Any) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        )


async def events(engine: AsyncEngine, *where: Any) -> list[dict[str, Any]]:
    """Stored events in global order, as plain dicts."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(campaign_events).where(*where).order_by(campaign_events.c.id)
        )
        return [dict(r._mapping) for r in rows]


async def event_types(engine: AsyncEngine, campaign_id: str) -> list[str]:
    return [e["type"] for e in await events(engine, campaign_events.c.campaign_id == campaign_id)]


async def errors(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(sync_errors).order_by(sync_errors.c.id))
        return [dict(r._mapping) for r in rows]


async def history_count(engine: AsyncEngine) -> int:
    return await count(engine, campaign_history)


async def select_all(engine: AsyncEngine, sql: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(text(sql))]


async def row(engine: AsyncEngine, sql: str, **params: Any) -> dict[str, Any]:
    async with engine.connect() as conn:
        return dict((await conn.execute(text(sql), params)).one()._mapping)


def postgres_processes(data_dir: Path) -> list[int]:
    """PIDs of processes whose command line mentions ``data_dir``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "postgres" in cmdline and str(data_dir) in cmdline:
            found.append(int(proc.name))
    return found


async def assert_quiet_cycle(rt: Runtime, engine: AsyncEngine, target: str) -> None:
    """Another cycle on an unchanged clock succeeds and writes no history row and no event."""
    history, stored = await history_count(engine), await count(engine, campaign_events)
    again = await rt.sync_target(target)
    assert (again.status, again.changed, again.events) == ("succeeded", 0, 0)
    assert await history_count(engine) == history
    assert await count(engine, campaign_events) == stored


@asynccontextmanager
async def sim_client(app: ASGIApp, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a simulator in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        base_url="http://sim.test", transport=transport, headers=headers
    ) as client:
        yield client


class FailAfter:
    """ASGI wrapper: matching requests after the first ``after`` answer 503, until disarmed."""

    def __init__(self, app: ASGIApp, match: Callable[[str, str], bool], after: int) -> None:
        self.app = app
        self.match = match
        self.after = after
        self.armed = False
        self.seen = 0
        self.failed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.armed and scope["type"] == "http" and self.match(scope["method"], scope["path"]):
            self.seen += 1
            if self.seen > self.after:
                self.failed += 1
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


class Gate:
    """ASGI wrapper that holds matching responses until released: a barrier the test controls.

    The wrapped app answers at once (so the body is what the provider said at that
    moment); the response is delivered only after :meth:`release`. ``held`` is set
    when a response is waiting.
    """

    def __init__(self, app: ASGIApp, match: Callable[[str, str], bool]) -> None:
        self.app = app
        self.match = match
        self.armed = False
        self.held = anyio.Event()
        self._open = anyio.Event()

    def release(self) -> None:
        self._open.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            self.armed and scope["type"] == "http" and self.match(scope["method"], scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        self.held.set()
        await self._open.wait()
        for message in messages:
            await send(message)


@asynccontextmanager
async def commits_with_events(dsn: str, count: int) -> AsyncIterator[anyio.Event]:
    """An Event set once ``count`` transactions that inserted events have committed.

    Each page that stores events sends one ``pg_notify`` on commit: the signal
    that a page is durable, with no polling.
    """
    import asyncpg

    from worker.storage.tables import NOTIFY_CHANNEL

    done, seen = anyio.Event(), 0

    def heard(*_: object) -> None:
        nonlocal seen
        seen += 1
        if seen >= count:
            done.set()

    conn = await asyncpg.connect(dsn)
    try:
        await conn.add_listener(NOTIFY_CHANNEL, heard)
        yield done
    finally:
        await conn.close()
