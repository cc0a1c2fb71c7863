"""Three ``campaign-sync run`` replicas on one target whose provider answers every fourth
request with 429 and ``Retry-After: 1``. The lease holder is SIGKILLed mid-cycle, the
replica that takes over is SIGTERMed, and the last one carries on. What the provider saw
must keep the target's configured limits throughout: ``max_concurrency`` requests in
flight at most, ``rate_per_second`` (plus one token bucket's burst per replica that held
the target), and no retry sooner than the ``Retry-After`` it was given."""

from __future__ import annotations

import os
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.daemon import Daemon, daemon, plain, run_command
from tests.reliability.invariants import check_invariants
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = [pytest.mark.slow, pytest.mark.storage]

RATE = 2.0  # rate_per_second: below what back-to-back cycles ask for (~6 a second)
CONCURRENCY = 2
THROTTLE_EVERY = 4
RETRY_AFTER = 1.0


@dataclass
class Seen:
    """One request as the provider saw it."""

    at: float  # monotonic seconds
    url: str
    throttled: bool


@dataclass
class Throttling:
    """The provider: every ``THROTTLE_EVERY``-th request is a 429; it records what it saw."""

    app: ASGIApp
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url = f"{scope['path']}?{scope['query_string'].decode()}"
        throttled = (len(self.seen) + 1) % THROTTLE_EVERY == 0
        self.seen.append(Seen(time.monotonic(), url, throttled))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if not throttled:
                await self.app(scope, receive, send)
                return
            headers = [(b"retry-after", f"{RETRY_AFTER:g}".encode())]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": b"{}"})
        finally:
            self.in_flight -= 1


async def holder(engine: AsyncEngine) -> int | None:
    """The pid of the replica holding the target's lease now, if any."""
    async with engine.connect() as conn:
        owner = (
            await conn.execute(
                text("SELECT lease_owner FROM sync_targets WHERE lease_expires_at > now()")
            )
        ).scalar_one_or_none()
    return None if owner is None else int(owner.split("/")[1])


async def succeeded_by(engine: AsyncEngine, pid: int) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM sync_runs WHERE status = 'succeeded'"
                        " AND split_part(owner, '/', 2) = :pid"
                    ),
                    {"pid": str(pid)},
                )
            ).scalar_one()
        )


async def next_holder(engine: AsyncEngine, replicas: list[Daemon], gone: set[int]) -> Daemon:
    """Until a live replica holds the lease and has finished two cycles with it."""
    with anyio.fail_after(60):
        while True:
            pid = await holder(engine)
            if pid is not None and pid not in gone and await succeeded_by(engine, pid) >= 2:
                return next(r for r in replicas if r.process.pid == pid)
            await anyio.sleep(0.1)


def most_in_any_window(times: list[float], width: float) -> int:
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > width:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_replicas_keep_the_providers_limits_through_a_kill_and_a_shutdown(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=9)
    provider = Throttling(app)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve(provider))
        config = tmp_path / "config.yaml"
        config.write_text(
            "lease_ttl: 2\nshutdown_grace: 5\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: fleet, base_url: '{url}', api_key: {{env: KEY}},"
            f" poll_interval: 1, page_size: 1, http: {{rate_per_second: {RATE},"
            f" max_concurrency: {CONCURRENCY}, wait_initial: 0, attempts: 5}}}}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "KEY": DEMO_API_KEY,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = run_command(config)
        replicas = [await stack.enter_async_context(daemon(command, env)) for _ in range(3)]
        began = time.monotonic()

        first = await next_holder(engine, replicas, set())
        first.process.kill()  # mid-cycle: the cycles run back to back under the rate cap
        second = await next_holder(engine, replicas, {first.process.pid})
        assert await second.stop() == 0  # SIGTERM: it ends its cycle and lets the lease go
        gone = {first.process.pid, second.process.pid}
        third = await next_holder(engine, replicas, gone)
        assert await third.stop() == 0
        took = time.monotonic() - began

    times = [s.at for s in provider.seen]
    per_second = most_in_any_window(times, 1.0)
    print(
        f"\nprovider saw {len(times)} requests in {took:.1f} s ({len(times) / took:.2f}/s),"
        f" at most {per_second} in one second, {provider.most_in_flight} in flight;"
        f" rate_per_second {RATE:g}, max_concurrency {CONCURRENCY}"
    )
    assert provider.most_in_flight <= CONCURRENCY
    # A token bucket lets through its size (RATE) at once, then RATE a second; each of
    # the three replicas brought a full bucket of its own when it took the target over.
    assert len(times) <= RATE * took + 3 * RATE
    assert per_second <= 2 * RATE + RATE  # one holder's bucket, and a takeover's burst
    for index, request in enumerate(provider.seen):
        if request.throttled:
            retry = next((s for s in provider.seen[index + 1 :] if s.url == request.url), None)
            if retry is not None:
                assert retry.at - request.at >= RETRY_AFTER - 0.05, request
    assert sum(s.throttled for s in provider.seen) >= 3  # the 429s were really met
    await check_invariants(engine, once_per_interval=True)
