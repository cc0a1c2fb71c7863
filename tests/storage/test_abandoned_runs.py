"""A run whose worker died (its target's lease expired unrenewed) is never read as running
or as the target's last success: ``status``, ``target_freshness`` and ``sync_run_outcomes``
read it as abandoned from the moment the lease expires, and the next worker to start
closes it as ``abandoned`` in ``sync_runs``, whether or not it syncs that target.

Leases are taken on a manual clock months before the database's ``now()``, so a lease is
expired without waiting for it; a live lease is taken on the real clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import claim, runtime_for
from worker.cli.status import render_status_table, status_json
from worker.clock import ManualClock
from worker.domain.campaign import TargetKey
from worker.ports import RunSummary
from worker.storage.lapsed import ABANDONED
from worker.storage.postgres import PostgresStore
from worker.storage.reporting import target_status

DEAD = TargetKey(provider="vox_v3", account="dead")
LIVE = TargetKey(provider="vox_v3", account="live")
DEAD_OWNER, LIVE_OWNER = "pod-a/7/dead01", "pod-b/8/live02"
PAST = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # long before the database's now()
TTL = 30.0


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(text(sql), params)]


async def dead_and_live(store: PostgresStore) -> tuple[int, int]:
    """Each target synced once; then DEAD's worker dies mid-run (its lease is left to
    expire) while LIVE's next run goes on under a lease the real clock keeps valid.
    Returns the two running runs' ids."""
    for target in (DEAD, LIVE):
        done = await claim(store, target, PAST, owner=DEAD_OWNER, ttl=TTL)
        await store.finish(done, PAST + timedelta(seconds=5), RunSummary(status="succeeded"))
    dead = await claim(store, DEAD, PAST + timedelta(minutes=1), owner=DEAD_OWNER, ttl=TTL)
    live = await claim(store, LIVE, datetime.now(UTC), owner=LIVE_OWNER, ttl=600)
    return dead.run_id, live.run_id


async def test_a_run_whose_lease_expired_reads_as_abandoned_in_status_and_views(
    engine: AsyncEngine,
) -> None:
    store = PostgresStore(engine)
    dead_run, live_run = await dead_and_live(store)
    expired_at = PAST + timedelta(minutes=1, seconds=TTL)

    dead, live = sorted(await target_status(engine), key=lambda s: s.account)
    assert (dead.account, live.account) == ("dead", "live")
    assert (dead.last_status, dead.last_error, dead.last_error_at) == (
        "abandoned",
        ABANDONED,
        expired_at,
    )
    assert dead.last_success_at == PAST + timedelta(seconds=5)
    assert (dead.lease_owner, dead.lease_expires_at) == (DEAD_OWNER, expired_at)
    # A run in progress under a live lease: the last run is still the one that finished.
    assert (live.last_status, live.last_error, live.lease_owner) == ("succeeded", None, LIVE_OWNER)

    table = render_status_table([dead, live], dead.as_of)
    dead_line = next(line for line in table.splitlines() if line.startswith("vox_v3/dead"))
    assert "succeeded" not in dead_line
    assert "abandoned" in dead_line and f"{DEAD_OWNER} (expired)" in dead_line
    document = {d["account"]: d for d in json.loads(status_json([dead, live]))}
    assert (document["dead"]["last_status"], document["dead"]["last_error"]) == (
        "abandoned",
        ABANDONED,
    )

    fresh = {
        r["account"]: r
        for r in await rows(
            engine,
            "SELECT account, last_status, last_finished_at, last_error, last_error_status, "
            "last_error_at, lease_owner, lease_held FROM target_freshness",
        )
    }
    assert fresh["dead"] == {
        "account": "dead",
        "last_status": "abandoned",
        "last_finished_at": expired_at,
        "last_error": ABANDONED,
        "last_error_status": "abandoned",
        "last_error_at": expired_at,
        "lease_owner": DEAD_OWNER,
        "lease_held": False,
    }
    assert (fresh["live"]["last_status"], fresh["live"]["lease_held"]) == ("succeeded", True)

    outcomes = await rows(
        engine,
        "SELECT id, account, status, recorded_status, finished_at, error "
        "FROM sync_run_outcomes WHERE status IN ('running', 'abandoned') ORDER BY id",
    )
    assert outcomes == [
        {
            "id": dead_run,
            "account": "dead",
            "status": "abandoned",
            "recorded_status": "running",
            "finished_at": expired_at,
            "error": ABANDONED,
        },
        {
            "id": live_run,
            "account": "live",
            "status": "running",
            "recorded_status": "running",
            "finished_at": None,
            "error": None,
        },
    ]

    # The next worker to start closes the dead run (the fixture checks none is left running).
    async with runtime_for(engine, ManualClock(datetime.now(UTC)), {}):
        pass
    await store.finish(
        await claim(store, LIVE, datetime.now(UTC), owner=LIVE_OWNER, ttl=600),
        datetime.now(UTC),
        RunSummary(status="succeeded"),
    )


async def test_the_next_worker_to_start_closes_runs_whose_lease_expired(
    engine: AsyncEngine,
) -> None:
    store = PostgresStore(engine)
    dead_run, live_run = await dead_and_live(store)
    started = PAST + timedelta(hours=1)  # the new worker's lease clock: DEAD's lease expired

    # It syncs neither target: closing them is part of starting, not of a claim.
    async with runtime_for(engine, ManualClock(started), {}, lease_clock=ManualClock(started)):
        runs = await rows(engine, "SELECT id, status, finished_at, error FROM sync_runs")
    by_id = {r["id"]: r for r in runs}
    assert by_id[dead_run] == {
        "id": dead_run,
        "status": "abandoned",
        "finished_at": started,
        "error": ABANDONED,
    }
    assert by_id[live_run]["status"] == "running"  # its lease is still being renewed
    assert [r["status"] for r in runs].count("running") == 1

    # The expired lease itself is left for a claim, which still reports the takeover and
    # leaves the closed run as it was.
    taker = await claim(store, DEAD, started + timedelta(minutes=1), owner="pod-c/9/new03")
    assert taker.took_over_from == DEAD_OWNER
    await store.finish(taker, started + timedelta(minutes=2), RunSummary(status="succeeded"))
    (closed,) = await rows(
        engine, "SELECT status, finished_at FROM sync_runs WHERE id = :id", id=dead_run
    )
    assert closed == {"status": "abandoned", "finished_at": started}
    live = await claim(store, LIVE, datetime.now(UTC), owner=LIVE_OWNER, ttl=600)
    await store.finish(live, datetime.now(UTC), RunSummary(status="succeeded"))
