"""Claims: the interval slot of a claim is the slot it takes effect in (a claim that
waited for the target's row lock across a slot boundary schedules the next cycle from
when it got the lock, not from when it asked, so no other replica syncs the target again
in that slot); and a worker takes back at once a lease of its own that a cycle could not
release, while another worker waits it out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import backends
from worker.clock import ManualClock
from worker.domain.campaign import TargetKey
from worker.ports import Lease, LeaseHeld, NotDue, RunSummary
from worker.storage.postgres import PostgresStore

TARGET = TargetKey(provider="vox_v3", account="acme")
INTERVAL = 60.0
SLOT_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a whole multiple of 60 s


async def claim(
    store: PostgresStore, owner: str, lease_clock: ManualClock, *, force: bool = False
) -> object:
    return await store.claim(
        TARGET,
        owner=owner,
        lease_clock=lease_clock,
        ttl=30,
        interval=INTERVAL,
        clock=lease_clock,
        force=force,
    )


async def test_a_claim_that_waited_across_a_slot_boundary_counts_for_the_slot_it_got(
    engine: AsyncEngine,
) -> None:
    store = PostgresStore(engine)
    lease_clock = ManualClock(SLOT_START - timedelta(seconds=1))  # the slot's last second
    first = await claim(store, "a/1/x", lease_clock, force=True)
    assert isinstance(first, Lease)
    await store.finish(first, lease_clock.now(), RunSummary(status="succeeded"))
    lease_clock.advance(timedelta(seconds=INTERVAL))  # due again: the next slot's last second
    results: list[object] = []
    async with engine.connect() as holder:
        # Another worker's page transaction holds the target's row...
        await holder.execute(text("SELECT 1 FROM sync_targets FOR UPDATE"))
        async with anyio.create_task_group() as group:

            async def ask() -> None:
                results.append(await claim(store, "b/2/y", lease_clock))

            group.start_soon(ask)
            with anyio.fail_after(10):  # ...so the claim waits on it: a barrier we can see
                while not await backends(engine, "wait_event_type = 'Lock'"):  # noqa: ASYNC110 - the server tells
                    await anyio.sleep(0.01)
            lease_clock.advance(timedelta(seconds=2))  # it gets the row in the slot after
            await holder.rollback()
    (second,) = results
    assert isinstance(second, Lease)
    await store.finish(second, lease_clock.now(), RunSummary(status="succeeded"))
    third = await claim(store, "c/3/z", lease_clock)
    assert isinstance(third, NotDue), "a second cycle in the slot the claim took effect in"
    assert third.due_at == SLOT_START + timedelta(seconds=2 * INTERVAL)


async def test_a_lease_left_by_the_workers_own_cycle_is_taken_back_at_once(
    engine: AsyncEngine,
) -> None:
    store = PostgresStore(engine)
    lease_clock = ManualClock(SLOT_START - timedelta(seconds=5))
    # A cycle whose end could not be recorded: it is never finished.
    cut = await claim(store, "a/1/x", lease_clock)
    assert isinstance(cut, Lease)
    lease_clock.advance(timedelta(seconds=10))  # the next slot: due; the 30 s lease holds
    other = await claim(store, "b/2/y", lease_clock)
    assert isinstance(other, LeaseHeld) and other.owner == "a/1/x"
    again = await claim(store, "a/1/x", lease_clock)
    assert isinstance(again, Lease), again
    assert again.token > cut.token and again.took_over_from is None
    async with engine.connect() as conn:
        runs = (await conn.execute(text("SELECT id, status FROM sync_runs ORDER BY id"))).all()
        takeovers = (await conn.execute(text("SELECT takeovers FROM sync_targets"))).scalar_one()
    assert [tuple(r) for r in runs] == [(cut.run_id, "abandoned"), (again.run_id, "running")]
    assert takeovers == 0
    await store.finish(again, lease_clock.now(), RunSummary(status="succeeded"))
