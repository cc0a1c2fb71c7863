"""The Python subscription API: CloudEvents the SDK accepts, gap-free delivery, durable
cursors that resume after the last acknowledgement, and one process per consumer name."""

from __future__ import annotations

import json
from datetime import datetime

import anyio
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.http import from_dict
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import plain
from tests.delivery.outbox import ACME, GLOBEX, campaign, out_of_order, writers
from worker import subscribe
from worker.clock import SystemClock
from worker.storage.consumers import PostgresConsumers
from worker.storage.postgres import PostgresStore


async def take(events: object, n: int) -> list[object]:
    got = []
    with anyio.fail_after(10):
        async for event in events:  # type: ignore[attr-defined]
            got.append(event)
            if len(got) == n:
                break
    return got


async def take_through(events: object, subject: str) -> list[object]:
    """Events up to and including the one about ``subject`` (the outbox order is total)."""
    got = []
    with anyio.fail_after(10):
        async for event in events:  # type: ignore[attr-defined]
            got.append(event)
            if event["subject"] == subject:  # type: ignore[index]
                break
    return got


async def test_events_are_cloudevents_the_sdk_accepts(db_url: URL, engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        await acme.write(campaign(ACME, "1"))
    async with subscribe(plain(db_url), consumer="sdk", poll_interval=0.2) as events:
        (event,) = await take(events, 1)
        await event.ack()
    # docs/events.md's way, with the CloudEvents SDK 2.x: the JSON format reads the envelope.
    parsed = JSONFormat().read(CloudEvent, json.dumps(dict(event)))
    assert isinstance(parsed, CloudEvent)
    assert parsed.get_id() == event["id"]
    assert parsed.get_type() == "campaign.discovered"
    assert parsed.get_source() == "campaign-sync/vox_v3/acme"
    assert parsed.get_subject() == "1"
    assert parsed.get_time() == datetime.fromisoformat(event["time"])  # aware, as the SDK wants
    assert parsed.get_extension("campaignversion") == 1
    assert parsed.get_extension("sequence") == event["sequence"]
    data = parsed.get_data()
    assert isinstance(data, dict) and data["campaign"]["campaign_id"] == "1"
    # As a webhook or NATS subscriber gets it: a structured message (the SDK finds the mode).
    message = HTTPMessage(
        headers={"content-type": "application/cloudevents+json"},
        body=json.dumps(dict(event)).encode(),
    )
    assert from_http_event(message).get_attributes() == parsed.get_attributes()
    # 2.x keeps 1.x's API under cloudevents.v1 for code written against 1.x.
    legacy = from_dict(dict(event))
    assert (legacy["type"], legacy["campaignversion"]) == ("campaign.discovered", 1)
    json.dumps(dict(event))  # JSON-serializable as it comes


async def test_two_transactions_committing_out_of_order_are_both_delivered_once(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    async with (
        writers(store) as (acme, globex),
        subscribe(plain(db_url), consumer="ordered", poll_interval=0.2) as events,
    ):
        received: list[str] = []

        async def between() -> None:
            # The later id committed first; nothing may be delivered yet.
            with anyio.move_on_after(0.5):
                async for event in events:
                    received.append(event["subject"])
            assert received == []

        await out_of_order(acme, globex, between)
        got = await take(events, 2)
    assert [e["subject"] for e in got] == ["early", "late"]


async def test_a_restarted_consumer_resumes_after_its_last_ack(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        for i in range(5):
            await acme.write(campaign(ACME, str(i)))
    async with subscribe(plain(db_url), consumer="durable", poll_interval=0.2) as events:
        first = await take(events, 3)
        await first[1].ack()  # cumulative: the first two are done; the third is not
    async with subscribe(plain(db_url), consumer="durable", poll_interval=0.2) as events:
        again = await take(events, 3)
    assert [e["subject"] for e in first] == ["0", "1", "2"]
    assert [e["subject"] for e in again] == ["2", "3", "4"]  # only the unacknowledged again


async def test_filters_by_type_and_provider(db_url: URL, engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, globex):
        await acme.write(campaign(ACME, "a"))
        await globex.write(campaign(GLOBEX, "g"))
        await acme.write(campaign(ACME, "a", completed=5))  # a progress event
    async with subscribe(
        plain(db_url), consumer="narrow", types=["campaign.progress"], providers=["vox_v3"]
    ) as events:
        (event,) = await take(events, 1)
    assert (event["type"], event["subject"]) == ("campaign.progress", "a")


async def test_a_second_process_of_one_consumer_waits_until_the_first_lets_go(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        await acme.write(campaign(ACME, "1"))
        await acme.write(campaign(ACME, "2"))
    order: list[str] = []
    first_in, first_done = anyio.Event(), anyio.Event()

    async def first() -> None:
        async with subscribe(plain(db_url), consumer="shared", poll_interval=0.1) as events:
            (event,) = await take(events, 1)
            await event.ack()
            order.append(f"first got {event['subject']}")
            first_in.set()
            await first_done.wait()
            order.append("first leaves")

    async def second() -> None:
        await first_in.wait()
        async with subscribe(plain(db_url), consumer="shared", poll_interval=0.1) as events:
            order.append("second enters")
            (event,) = await take(events, 1)
            order.append(f"second got {event['subject']}")

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            tg.start_soon(second)
            await first_in.wait()
            first_done.set()
    assert order == ["first got 1", "first leaves", "second enters", "second got 2"]


@pytest.mark.slow
async def test_a_subscriber_killed_mid_stream_resumes_without_a_gap(
    db_url: URL, engine: AsyncEngine, tmp_path: object
) -> None:
    import os
    import signal
    import sys

    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        for i in range(40):
            await acme.write(campaign(ACME, f"{i:02d}"))
    script = (
        "import anyio, sys\n"
        "from worker import subscribe\n"
        "async def main():\n"
        "    async with subscribe(\n"
        "        sys.argv[1], consumer='killed', poll_interval=0.2, lease_ttl=2\n"
        "    ) as events:\n"
        "        async for event in events:\n"
        "            print(event['subject'], flush=True)\n"
        "            await event.ack()\n"
        "            print('acked', flush=True)\n"
        "anyio.run(main)\n"
    )
    env = {**os.environ}
    received: list[str] = []
    acked: list[str] = []
    async with await anyio.open_process(
        [sys.executable, "-c", script, plain(db_url)], env=env
    ) as p:
        assert p.stdout is not None
        buffer = ""
        with anyio.fail_after(30):
            async for chunk in p.stdout:
                buffer += chunk.decode()
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    if line == "acked":
                        acked.append(received[-1])
                    elif line:
                        received.append(line)
                if len(received) >= 15:
                    break
        p.send_signal(signal.SIGKILL)
        await p.wait()
    # The dead process's lease runs out after 2 s; the restart waits as a standby till then.
    # Up to the last event, not a count: the process may have acknowledged more before
    # the kill than the lines read here show.
    async with subscribe(plain(db_url), consumer="killed", poll_interval=0.2) as events:
        rest = [e["subject"] for e in await take_through(events, "39")]  # type: ignore[index]
    everything = received + rest
    assert sorted(set(everything)) == [f"{i:02d}" for i in range(40)]  # no gap
    duplicates = [s for s in set(everything) if everything.count(s) > 1]
    assert set(duplicates) <= set(received) - set(acked)  # only unacknowledged ones again


# --- a running consumer and the events commands ------------------------------------------


async def cli_in(db_url: URL, *args: str) -> tuple[int, str, str]:
    """``campaign-sync events …`` as an operator runs it beside the consumer; the last
    stderr line's message (JSON log mode) when it fails."""
    from tests.acceptance.test_cli import cli

    result = await cli("events", *args, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    lines = result.stderr.strip().splitlines()
    message = json.loads(lines[-1])["message"] if result.returncode and lines else ""
    return result.returncode, result.stdout, message


@pytest.mark.slow
async def test_a_replay_reaches_a_running_consumer_busy_or_idle(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        for i in range(4):
            await acme.write(campaign(ACME, str(i)))
    async with subscribe(plain(db_url), consumer="live", poll_interval=0.1) as events:
        stream = aiter(events)
        first = [await anext(stream) for _ in range(4)]
        await first[-1].ack()  # everything; it waits for more now
        code, out, _ = await cli_in(db_url, "replay", "--consumer", "live", "--from", "1")
        assert code == 0, out
        assert "it is running" in out and "it receives again from 1" in out
        with anyio.fail_after(10):  # the running process picks the new cursor up by itself
            again = [await anext(stream) for _ in range(2)]
        assert [e["subject"] for e in again] == ["0", "1"]
        # Busy: it holds "1", not acknowledged, when the cursor moves back to event 3.
        third = first[2]["sequence"]
        code, out, _ = await cli_in(db_url, "replay", "--consumer", "live", "--from", third)
        assert code == 0, out
        await again[-1].ack()  # acknowledges what the replay made stale: the cursor stays
        with anyio.fail_after(10):
            after = [await anext(stream) for _ in range(2)]
        assert [e["subject"] for e in after] == ["2", "3"]  # from the replay's event on
        await after[-1].ack()
        async with writers(store) as (acme, _):
            await acme.write(campaign(ACME, "new"))
        with anyio.fail_after(10):
            assert (await anext(stream))["subject"] == "new"  # and on, live, with no gap


@pytest.mark.slow
async def test_a_running_consumer_is_not_deleted_and_a_stopped_one_is(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        await acme.write(campaign(ACME, "1"))
    async with subscribe(plain(db_url), consumer="doomed", poll_interval=0.1) as events:
        (event,) = await take(events, 1)
        await event.ack()
        (info,) = await PostgresConsumers(engine).list(SystemClock().now())
        code, _, message = await cli_in(db_url, "consumers", "--delete", "doomed")
        assert code == 2
        assert message.startswith(f"consumer 'doomed' is running (held by {info.owner} until ")
        assert "stop it first" in message
    code, out, _ = await cli_in(db_url, "consumers", "--delete", "doomed")
    assert (code, out.strip()) == (0, "doomed: deleted")
    assert await PostgresConsumers(engine).list(SystemClock().now()) == []
    code, _, message = await cli_in(db_url, "consumers", "--delete", "doomed")
    assert (code, message) == (
        2,
        "no consumer named 'doomed' (see: campaign-sync events consumers)",
    )
