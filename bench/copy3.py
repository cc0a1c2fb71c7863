"""The ``copy-3`` ceiling: the fastest any design of our schema can store an initial sync.

The same fetch as every method (``bench.fetchers``), the least per-record work
there is (parse, pick the id, serialize: the raw bytes are hashed once for the
content hash and the event id), and asyncpg binary COPY of the rows a new
campaign needs into campaign-sync's own tables, in a database copied from the
migrated template (so exactly the product's columns, indexes, constraints and
defaults, whatever the migrations make them). Issue 19 named it for the three
rows the schema needed then (a ``campaigns`` row too); since migration 0010 the
current state is the open history row, so it is two:

* ``campaign_history``: version 1, open (``valid_to`` NULL), the picked name and
  status, the raw record, its hash, first seen;
* ``campaign_events``: one ``campaign.discovered`` whose data carries the record.

Columns the product fills by normalizing (counters, schedule times, the call
window) are left NULL or to their defaults: the rows are if anything narrower
than the product's, which keeps this a ceiling. Ten pages commit together (a
product may commit several pages in one transaction; at 20 000 campaigns ten
pages per commit took 1.7 to 1.9 s against 2.1 to 3.3 s for one and 2.3 to 3.0
s for 200, on a busy machine), and fetching overlaps the COPY (a queue of two
pages), as a product with a writer task may.

``copy-lean`` measures a leaner schema the same way (issue 19, item 1: ``copy-3`` came
out under 1.5x dlt merge's throughput): it first also dropped the ``campaigns`` row,
which migration 0010 adopted; what is left of it is events that carry no second copy
of the record (the ``campaign.discovered`` event would name its version and a reader
join the history row). Two rows a campaign, one copy of the record.

Both run in the initial phase only: the tables' keys make "insert everything
again" fail in later phases, and a later phase's ceiling is the fetch-only one
plus the few rows that changed (the ``copy`` method shows "insert everything
again" into one table).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from bench.fetchers import Fetcher, Page

HISTORY = ("provider", "account", "campaign_id", "version", "name", "status", "status_raw",
           "raw", "content_hash", "valid_from", "first_seen_at")  # fmt: skip
EVENTS = ("event_id", "type", "provider", "account", "campaign_id", "version", "occurred_at",
          "detected_at", "data")  # fmt: skip
ID_FIELD = {"sarvam": "campaign_id"}
STATUS_FIELD = {"voxo": "state"}
PAGES_PER_COMMIT = 10


async def _jsonb_as_bytes(conn: asyncpg.Connection) -> None:
    """Hand jsonb to the server as the bytes orjson made (binary format: version 1, text)."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: b"\x01" + value,
        decoder=lambda value: value[1:],
        format="binary",
    )


def rows_of(
    provider: str, account: str, page: Page, now: datetime, *, lean: bool = False
) -> tuple[list[Any], ...]:
    """The history and event rows of one page of new campaigns (``lean``: events
    without the record)."""
    id_field, status_field = ID_FIELD.get(provider, "id"), STATUS_FIELD.get(provider, "status")
    history, events = [], []
    for record in page:
        raw = orjson.dumps(record)
        digest = hashlib.sha256(raw).digest()
        campaign_id, status = str(record[id_field]), str(record.get(status_field))
        name = record.get("name")
        common = (provider, account, campaign_id, 1, name, status, status, raw, digest.hex())
        history.append((*common, now, now))
        data = b'{"version":1}' if lean else b'{"campaign":' + raw + b"}"
        events.append((uuid.UUID(bytes=digest[:16]), "campaign.discovered", provider, account,
                       campaign_id, 1, now, now, data))  # fmt: skip
    return history, events


async def copy_three(
    spec: dict[str, Any], fetcher: Fetcher, *, lean: bool = False
) -> dict[str, Any]:
    """Fetch every page and COPY its two rows per campaign (``lean``: events without the
    record), ten pages per transaction."""
    conn = await asyncpg.connect(spec["dsn"])
    await _jsonb_as_bytes(conn)
    pages: asyncio.Queue[Page | None] = asyncio.Queue(maxsize=2)
    records = 0

    async def fetch() -> None:
        async for page in fetcher.pages():
            await pages.put(page)
        await pages.put(None)

    async def commit(batch: Page) -> None:
        now = datetime.now(UTC)
        history, events = rows_of(spec["provider"], "bench", batch, now, lean=lean)
        async with conn.transaction():
            await conn.copy_records_to_table("campaign_history", records=history, columns=HISTORY)
            await conn.copy_records_to_table("campaign_events", records=events, columns=EVENTS)

    async def write() -> None:
        nonlocal records
        batch: Page = []
        taken = 0
        while (page := await pages.get()) is not None:
            batch += page
            taken += 1
            if taken % PAGES_PER_COMMIT == 0:
                await commit(batch)
                records, batch = records + len(batch), []
        if batch:
            await commit(batch)
            records += len(batch)

    try:
        async with asyncio.TaskGroup() as group:  # either failing stops the other
            group.create_task(fetch())
            group.create_task(write())
    finally:
        await conn.close()
    return {"records": records, "requests": fetcher.requests}
