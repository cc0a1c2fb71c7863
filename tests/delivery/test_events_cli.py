"""``campaign-sync events``: tail prints committed events (gap-free), follows until a signal,
and the consumer commands show and move cursors."""

from __future__ import annotations

import json
import os
import signal
import sys

import anyio
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from tests.delivery.outbox import ACME, campaign, out_of_order, writers
from worker import subscribe
from worker.storage.postgres import PostgresStore

pytestmark = pytest.mark.slow


async def test_tail_prints_committed_events_as_json_and_skips_none(
    db_url: URL, engine: AsyncEngine
) -> None:
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    seen_between: list[str] = []
    store = PostgresStore(engine)
    async with writers(store) as (acme, globex):

        async def between() -> None:
            result = await cli("events", "tail", "--json", env=env)
            assert result.returncode == 0, result.stderr
            seen_between.extend(result.stdout.splitlines())

        await out_of_order(acme, globex, between)
    after = await cli("events", "tail", "--json", env=env)
    assert seen_between == []  # the late commit's event waits for the early one
    lines = after.stdout.splitlines()
    events = [json.loads(line) for line in lines]  # nothing but JSON on stdout
    assert [e["subject"] for e in events] == ["early", "late"]
    assert all(e["specversion"] == "1.0" for e in events)
    second = int(events[1]["sequence"])  # --since ID starts at that event
    since = await cli("events", "tail", "--json", "--since", str(second), env=env)
    assert [json.loads(line)["subject"] for line in since.stdout.splitlines()] == ["late"]
    typed = await cli("events", "tail", "--type", "campaign.progress", env=env)
    assert typed.stdout == ""


async def test_tail_follows_until_sigterm_then_exits_0(db_url: URL, engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    env = {**os.environ, "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    command = [sys.executable, "-m", "worker", "events", "tail", "--follow", "--json"]
    async with writers(store) as (acme, _), await anyio.open_process(command, env=env) as tail:
        assert tail.stdout is not None
        await acme.write(campaign(ACME, "live"))
        with anyio.fail_after(20):
            line = (await tail.stdout.receive()).decode()
        assert json.loads(line.splitlines()[0])["subject"] == "live"
        tail.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await tail.wait() == 0


async def test_consumers_show_their_lag_and_replay_moves_them_back(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        for i in range(4):
            await acme.write(campaign(ACME, str(i)))
    async with subscribe(plain(db_url), consumer="reports") as events:
        got = []
        async for event in events:
            got.append(event)
            if len(got) == 3:
                await event.ack()
                break
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    listed = await cli("events", "consumers", env=env)
    header, line = listed.stdout.splitlines()
    assert header.split()[:3] == ["consumer", "cursor", "lag"]
    name, _cursor, lag, _seconds, held = line.split()
    assert (name, lag, held) == ("reports", "1", "-")
    first = got[0]["sequence"]
    replayed = await cli(
        "events", "replay", "--consumer", "reports", "--from", str(int(first)), env=env
    )
    assert replayed.returncode == 0, replayed.stderr
    async with subscribe(plain(db_url), consumer="reports") as events:
        again = [e["subject"] async for e in _first(events, 4)]
    assert again == ["0", "1", "2", "3"]
    missing = await cli("events", "replay", "--consumer", "nobody", "--from", "1", env=env)
    last = json.loads(missing.stderr.strip().splitlines()[-1])  # JSON log mode
    assert (missing.returncode, last["message"]) == (
        2,
        "no consumer named 'nobody' (see: campaign-sync events consumers)",
    )


async def _first(events: object, n: int) -> object:
    count = 0
    async for event in events:  # type: ignore[attr-defined]
        yield event
        count += 1
        if count == n:
            return
