"""``campaign-sync run`` as Prometheus and Kubernetes see it: every metric family moves
where it should, and ``/healthz`` fails while a cycle is stuck past its deadline."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from tests.daemon import daemon, free_port, plain, run_command
from tests.hostile.server import Answer, HostileVox, page, record
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
HOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def samples(exposition: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def total(scraped: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scraped.items() if n == name and wanted <= ls)


async def receiver(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body", False) if scope["type"] == "http" else False:
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def flaky(number: int, cursor: str | None) -> Answer:
    if number == 1:  # the first request of the run: a 429 that asks for no wait
        return Answer(status=429, body=b"{}", headers=[(b"retry-after", b"0")])
    return Answer(body=page(record("1")))


async def test_metrics_move_and_a_stuck_cycle_fails_liveness(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC))
    app, _ = demo_app(clock, seed=2)
    async with engine.begin() as conn:  # a worker that died holding the demo target
        await conn.execute(
            text(
                "INSERT INTO sync_targets (provider, account, lease_owner, lease_expires_at) "
                "VALUES ('vox_v3', 'demo', 'ghost/1/dead', now() - interval '1 hour')"
            )
        )
    port = free_port()
    async with serve(app) as demo, serve(HostileVox(flaky)) as other, serve(receiver) as hook:
        config = tmp_path / "config.yaml"
        config.write_text(
            "targets:\n"
            f"  - {{provider: vox_v3, account: demo, base_url: '{demo}', api_key: {{env: KEY}},"
            " poll_interval: 1, limits: {cycle_deadline: 1}}\n"
            f"  - {{provider: vox_v3, account: flaky, base_url: '{other}', api_key: {{env: KEY}},"
            " poll_interval: 3600, http: {wait_initial: 0}}\n"
            f"webhooks:\n  - {{name: hook, url: '{hook}/events', secret: {{env: HOOK}}}}\n"
            "health: {deadline_slack: 0, backlog_seconds: 0.2}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "KEY": DEMO_API_KEY,
            "HOOK": HOOK_SECRET,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = run_command(config, health_port=port)
        async with (
            daemon(command, env) as worker,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe,
        ):

            async def scrape_until(done: Callable[[Samples], bool]) -> Samples:
                # Polls the endpoint until the condition holds; bounded, never a fixed wait.
                with anyio.fail_after(60):
                    while True:
                        try:
                            scraped = samples((await probe.get("/metrics")).text)
                        except httpx.TransportError:
                            scraped = {}
                        if scraped and done(scraped):
                            return scraped
                        await anyio.sleep(0.1)

            hook_consumer = frozenset({("consumer", "webhook:hook")})
            first = await scrape_until(
                lambda s: (
                    total(s, "campaign_sync_cycles_total", account="flaky") >= 1
                    and total(s, "campaign_sync_cycles_total", account="demo") >= 1
                    and total(s, "campaign_sync_webhook_deliveries_total", outcome="delivered") >= 1
                    # the backlog gauges refresh on their own period, after the sink registers
                    and ("campaign_sync_outbox_backlog", hook_consumer) in s
                )
            )

            def demo_finished(line: dict[str, object]) -> bool:
                return line.get("event") == "sync.finished" and line.get("target") == "vox_v3/demo"

            await worker.until(demo_finished)  # the discovery; the fleet is still until:
            clock.advance(timedelta(hours=6))  # it moves, and the next cycle changes
            # Pages count their changes as they commit; the cycle counts itself at its end,
            # just before it logs that end: so scrape after the line, not on a page's counts.
            await worker.until(lambda line: demo_finished(line) and line["changed"] > 0)
            second = samples((await probe.get("/metrics")).text)

            def grew(name: str, **labels: str) -> bool:
                return total(second, name, **labels) > total(first, name, **labels)

            demo_ok = {"account": "demo", "status": "succeeded"}
            assert total(first, "campaign_sync_cycles_total", **demo_ok) >= 1
            assert grew("campaign_sync_cycles_total", **demo_ok)
            assert grew("campaign_sync_cycle_seconds_count", account="demo")
            assert grew("campaign_sync_records_total", account="demo")
            assert grew("campaign_sync_provider_requests_total", account="demo", status_class="2xx")
            assert grew("campaign_sync_provider_request_seconds_count", account="demo")
            assert grew("campaign_sync_changed_total", account="demo")
            assert grew("campaign_sync_events_total", account="demo")
            assert total(first, "campaign_sync_lease_takeovers_total", account="demo") == 1
            assert total(first, "campaign_sync_events_total", type="campaign.discovered") >= 5
            last = total(second, "campaign_sync_last_success_timestamp_seconds", account="demo")
            assert last > total(
                first, "campaign_sync_last_success_timestamp_seconds", account="demo"
            )
            flaky_429 = {"account": "flaky", "status_class": "429"}
            assert total(first, "campaign_sync_provider_requests_total", **flaky_429) == 1
            assert total(first, "campaign_sync_provider_retries_total", account="flaky") == 1
            assert ("campaign_sync_leases_held", frozenset()) in first
            assert (
                first.get(("campaign_sync_webhook_sink_disabled", frozenset({("sink", "hook")})))
                == 0
            )

            assert (await probe.get("/healthz")).status_code == 200
            assert (await probe.get("/readyz")).status_code == 200
            async with engine.connect() as lock:
                # Hold the demo target's row: its next claim waits, past its 1 s deadline.
                await lock.execute(
                    text("SELECT 1 FROM sync_targets WHERE account = 'demo' FOR UPDATE")
                )
                with anyio.fail_after(30):
                    while (stuck := await probe.get("/healthz")).status_code == 200:  # noqa: ASYNC110 - another process: only its answers tell
                        await anyio.sleep(0.1)
                await lock.rollback()
            assert stuck.status_code == 503
            assert stuck.json()["problems"] == [
                "the cycle of vox_v3/demo has run past its deadline"
            ]
            with anyio.fail_after(30):  # the claim goes through once the row is free
                while (await probe.get("/healthz")).status_code != 200:  # noqa: ASYNC110 - as above
                    await anyio.sleep(0.1)
            assert await worker.stop() == 0
    assert worker.lines
    assert all(line["level"] != "error" for line in worker.lines), worker.text  # quiet
