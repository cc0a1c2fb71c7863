"""The Python subscription API: CloudEvents the SDK accepts, gap-free delivery, durable
cursors that resume after the last acknowledgement, and one process per consumer name."""

from __future__ import annotations

import json

import anyio
import pytest
from cloudevents.http import from_dict
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import plain
from tests.delivery.outbox import ACME, GLOBEX, campaign, out_of_order, writers
from worker import subscribe
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
    parsed = from_dict(dict(event))
    assert parsed["type"] == "campaign.discovered"
    assert parsed["source"] == "campaign-sync/vox_v3/acme"
    assert parsed["subject"] == "1"
    assert parsed["campaignversion"] == 1
    assert parsed.data["campaign"]["campaign_id"] == "1"
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
