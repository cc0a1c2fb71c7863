"""The subscribers a scenario runs beside the worker, each collecting what it gets: a
Python consumer of ``worker.subscribe`` and a JetStream consumer of the relay's stream."""

from __future__ import annotations

import json
from typing import Any

import anyio
import nats.js.errors
from nats.js import JetStreamContext

from tests.delivery.nats_server import Names
from worker.delivery.subscribe import Subscription

__all__ = ["consume", "read_stream"]


async def consume(events: Subscription, into: list[dict[str, Any]]) -> None:
    """Every event of the subscription, acknowledged one by one, until cancelled."""
    async for event in events:
        into.append(dict(event))
        await event.ack()


async def read_stream(
    js: JetStreamContext, names: Names, into: list[dict[str, Any]], msg_ids: list[str]
) -> None:
    """Every message of the relay's stream, with its ``Nats-Msg-Id``, until cancelled."""
    while True:  # the relay creates its stream once it runs
        try:
            sub = await js.pull_subscribe(f"{names.prefix}.>", stream=names.stream)
            break
        except nats.js.errors.NotFoundError:
            await anyio.sleep(0.2)
    while True:
        try:
            batch = await sub.fetch(100, timeout=1)
        except TimeoutError:  # nats.errors.TimeoutError, or asyncio's own from inside fetch
            continue
        for msg in batch:
            msg_ids.append(msg.headers.get("Nats-Msg-Id", "") if msg.headers else "")
            into.append(json.loads(msg.data))
            await msg.ack()
