"""The fused page write (two statements of arrays, or COPY for the new campaigns) stores
exactly what the per-table inserts store: every row, version, history bound and event,
awkward values included."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import claim
from worker.domain.campaign import Campaign, Counters, Status, TargetKey
from worker.domain.diff import Change, diff
from worker.domain.drift import DriftNote, drift_event
from worker.ports import Lease, RunSummary, Written
from worker.storage.leases import fence
from worker.storage.postgres import PostgresStore
from worker.storage.writer import PostgresPageWriter

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TARGET = TargetKey(provider="vox_v3", account="acme")
HUGE = int("9" * 4300)  # the longest integer Python's int/str conversion allows
# The writer's thresholds of each path: every page fused (arrays only, or the new
# campaigns by COPY), or per table.
FUSED = {"fused_from": 0, "copy_from": 2**31}
COPY = {"fused_from": 0, "copy_from": 0}
PER_TABLE = {"fused_from": 2**31}


def campaign(cid: str, completed: int, status: Status = Status.RUNNING) -> Campaign:
    return Campaign(
        provider="vox_v3",
        account="acme",
        campaign_id=cid,
        name=f"Kampagne «{cid}» 🚀 \u00e9\u0301",
        status=status,
        status_raw={Status.RUNNING: "ongoing", Status.PAUSED: "paused"}.get(status, "success"),
        counters=Counters(total_calls=10, completed_calls=completed),
        created_at=T,
        raw={
            "id": cid,
            "completed_calls": completed,
            "huge": HUGE,
            "negative": -HUGE,
            "long": "ж" * 200_000,
            "nested": {"a": [1, {"b": [None, True, 1.5, "\u2028"]}], "": {}},
        },
    )


async def write(
    store: PostgresStore,
    lease: Lease,
    changes: Sequence[Change],
    at: datetime,
    path: dict[str, int],
    **extra: Any,
) -> Written:
    async with store.engine.begin() as conn:
        await fence(conn, lease, at)
        writer = PostgresPageWriter(conn, TARGET, lease.run_id, (), **path)
        return await writer.write(changes, [], records=len(changes), **extra)


async def changes_for(store: PostgresStore, at: datetime, *snapshots: Campaign) -> list[Change]:
    stored = await store.load(TARGET, [c.campaign_id for c in snapshots])
    return [ch for c in snapshots if (ch := diff(stored.get(c.campaign_id), c, at))]


async def scenario(engine: AsyncEngine, path: int) -> tuple[list[Written], dict[str, Any]]:
    """New campaigns with drift; changes, one computed from a superseded version; a replay."""
    store = PostgresStore(engine)
    lease = await claim(store, TARGET, T)
    drift = [drift_event(TARGET, DriftNote(field="status", value="odd", campaign_id="1"), T)]
    written = []
    first = await changes_for(store, T, *(campaign(str(i), 0) for i in range(6)))
    written.append(await write(store, lease, first, T, path, drift=drift))
    t2 = T + timedelta(minutes=5)
    second = await changes_for(
        store, t2, campaign("1", 3), campaign("2", 10, Status.COMPLETED), campaign("9", 1)
    )
    written.append(await write(store, lease, second, t2, path, listed_again=["3", "1"]))
    # Computed from version 1 while version 2 is stored: nothing of it is written.
    stale = [ch for ch in first if ch.campaign.campaign_id == "1"]
    written.append(await write(store, lease, stale, t2, path))
    # The same page again (a retried commit): nothing new, no duplicate event.
    written.append(await write(store, lease, second, t2, path))
    await store.finish(lease, t2, RunSummary(status="succeeded"))
    return written, await dump(engine)


async def dump(engine: AsyncEngine) -> dict[str, Any]:
    tables = {
        "campaigns": "SELECT * FROM campaigns ORDER BY campaign_id",
        # Serial ids are the sequence's choice: the fused path inserts a batch's new
        # campaigns' history rows before its changed ones' (worker.storage.fused).
        "history": "SELECT * FROM campaign_history ORDER BY campaign_id, version",
        # xid: the writing transaction's id, the one column that must differ.
        "events": "SELECT *, data::text AS data_text FROM campaign_events ORDER BY id",
        "runs": "SELECT pages, records, changed, events, status FROM sync_runs ORDER BY id",
        "raw": "SELECT raw::text FROM campaign_history ORDER BY campaign_id, version",
    }
    async with engine.connect() as conn:
        return {
            name: [
                {
                    k: v
                    for k, v in row._mapping.items()
                    if k != "xid" and (name, k) != ("history", "id")
                }
                for row in await conn.execute(text(sql))
            ]
            for name, sql in tables.items()
        }


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE campaign_history, campaign_events, sync_runs, sync_targets "
                "RESTART IDENTITY CASCADE"
            )
        )


@pytest.mark.parametrize("path", [FUSED, COPY], ids=["fused", "copy"])
async def test_each_path_stores_what_per_table_inserts_store(
    engine: AsyncEngine, path: dict[str, int]
) -> None:
    per_table = await scenario(engine, PER_TABLE)
    await empty(engine)
    found = await scenario(engine, path)
    assert found == per_table
    written, rows = found
    assert [(w.changed, w.events, w.dropped) for w in written] == [
        (6, 7, 0),
        (3, 5, 0),
        (0, 0, 1),
        (0, 0, 3),
    ]
    assert len(rows["history"]) == 9
    # Campaigns "1" and "2", version 1 then 2: each first version closed by its second.
    assert [r["valid_to"] for r in rows["history"] if r["campaign_id"] in {"1", "2"}] == [
        T + timedelta(minutes=5),
        None,
        T + timedelta(minutes=5),
        None,
    ]
    current = {r["campaign_id"]: r for r in rows["campaigns"]}
    assert current["3"]["missed_listings"] == 0
    # A new version keeps when its campaign was first seen; it changed when observed.
    assert (current["1"]["first_seen_at"], current["1"]["last_changed_at"]) == (
        T,
        T + timedelta(minutes=5),
    )
    assert (current["9"]["first_seen_at"], current["9"]["version"]) == (T + timedelta(minutes=5), 1)


@pytest.mark.parametrize("path", [FUSED, COPY, PER_TABLE], ids=["fused", "copy", "per-table"])
async def test_awkward_values_survive(engine: AsyncEngine, path: dict[str, int]) -> None:
    _, rows = await scenario(engine, path)
    stored = rows["campaigns"][0]
    assert stored["raw"]["huge"] == HUGE
    assert stored["raw"]["negative"] == -HUGE
    assert stored["raw"]["long"] == "ж" * 200_000
    assert stored["raw"]["nested"] == {"a": [1, {"b": [None, True, 1.5, "\u2028"]}], "": {}}
    assert stored["name"] == "Kampagne «0» 🚀 \u00e9\u0301"
    assert str(HUGE) in rows["raw"][0]["raw"]


async def test_a_page_of_new_campaigns_goes_by_copy_unless_one_is_stored(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[str] = []
    copy = asyncpg.Connection.copy_records_to_table

    async def counted(self: asyncpg.Connection, table: str, **kwargs: Any) -> str:
        copies.append(table)
        return await copy(self, table, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", counted)
    store = PostgresStore(engine)
    lease = await claim(store, TARGET, T)
    page = await changes_for(store, T, *(campaign(f"a{i}", 0) for i in range(120)))
    first = await write(store, lease, page, T, {})
    assert (first.changed, first.events, copies) == (
        120,
        120,
        ["campaign_history", "campaign_events"],
    )
    # Computed as new, but "a7" is stored by now: the COPY is rolled back, the arrays skip it.
    overlapping = [
        ch for ch in await changes_for(store, T, *(campaign(f"b{i}", 0) for i in range(119)))
    ] + [ch for ch in page if ch.campaign.campaign_id == "a7"]
    second = await write(store, lease, overlapping, T, {})
    assert (second.changed, second.events, second.dropped) == (119, 119, 1)
    assert copies[2:] == ["campaign_history"]  # the failed COPY, then none
    await store.finish(lease, T, RunSummary(status="succeeded"))
    rows = await dump(engine)
    assert len(rows["campaigns"]) == len(rows["history"]) == 239
    assert len(rows["events"]) == 239
