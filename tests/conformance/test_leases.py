"""Leases and fencing, on both stores: one writer per target, a token that grows on every
claim, expiry judged by the lease clock passed in, and a writer whose lease was taken over
refused before it writes anything."""

from __future__ import annotations

import anyio
import pytest

from tests.conformance.backends import Backend
from tests.conformance.values import (
    INTERVAL,
    OTHER,
    OWNER,
    RIVAL,
    TARGET,
    TTL,
    at,
    campaign,
    claim,
    lease,
    page,
)
from worker.domain.leases import ABANDONED, slot_end
from worker.errors import LeaseLost
from worker.ports import LeaseHeld, NotDue, RunSummary


async def test_a_first_claim_takes_the_lease_and_opens_a_running_run(stores: Backend) -> None:
    first = await lease(stores.store, at(5))
    assert (first.target, first.owner, first.token, first.ttl) == (TARGET, OWNER, 1, TTL)
    assert (first.took_over_from, first.last_full_refresh_at) == (None, None)
    held = await stores.inspect.target(TARGET)
    assert held is not None
    assert (held["lease_owner"], held["lease_token"], held["lease_expires_at"]) == (
        OWNER,
        1,
        at(5 + TTL),
    )
    assert (held["next_due_at"], held["interval_seconds"], held["takeovers"]) == (
        slot_end(at(5), INTERVAL),
        INTERVAL,
        0,
    )
    (run,) = await stores.inspect.runs(TARGET)
    assert (run["id"], run["status"], run["owner"], run["lease_token"]) == (
        first.run_id,
        "running",
        OWNER,
        1,
    )
    assert run["started_at"] == at(5)
    assert await stores.inspect.target(OTHER) is None  # targets are independent
    await stores.store.finish(first, at(6), RunSummary(status="succeeded"))


async def test_an_unexpired_lease_refuses_another_owner(stores: Backend) -> None:
    first = await lease(stores.store, at(0))
    refused = await claim(stores.store, at(TTL - 1), owner=RIVAL)
    assert refused == LeaseHeld(owner=OWNER, expires_at=at(TTL))
    assert len(await stores.inspect.runs(TARGET)) == 1  # no run opened for the refused claim
    await stores.store.finish(first, at(1), RunSummary(status="succeeded"))


async def test_an_expired_lease_is_taken_over_with_a_new_token(stores: Backend) -> None:
    first = await lease(stores.store, at(0))
    second = await lease(stores.store, at(TTL + 1), owner=RIVAL)
    assert (second.token, second.took_over_from) == (first.token + 1, OWNER)
    runs = await stores.inspect.runs(TARGET)
    assert [(r["id"], r["status"], r["error"]) for r in runs] == [
        (first.run_id, "abandoned", ABANDONED),
        (second.run_id, "running", None),
    ]
    assert runs[0]["finished_at"] == at(TTL + 1)
    held = await stores.inspect.target(TARGET)
    assert held is not None
    assert (held["lease_owner"], held["lease_token"], held["takeovers"]) == (RIVAL, 2, 1)
    # The first writer learns it at its next page: refused before it writes anything.
    with pytest.raises(LeaseLost, match="taken over"):
        await page(stores.store, first, at(TTL + 2), [campaign("1")])
    assert await stores.inspect.campaign(TARGET, "1") is None
    assert await stores.inspect.events() == []
    assert not await stores.store.renew(first, at(TTL + 2))
    # Its end is recorded as superseded, and leaves the new holder's lease alone.
    ended = await stores.store.finish(first, at(TTL + 3), RunSummary(status="succeeded"))
    assert ended.status == "superseded"
    assert ended.error == f"{TARGET}: the lease was taken over by another worker"
    held = await stores.inspect.target(TARGET)
    assert held is not None and (held["lease_owner"], held["last_status"]) == (RIVAL, None)
    await stores.store.finish(second, at(TTL + 4), RunSummary(status="succeeded"))
    assert [r["status"] for r in await stores.inspect.runs(TARGET)] == ["superseded", "succeeded"]


async def test_the_owners_own_lease_is_taken_back_at_once(stores: Backend) -> None:
    cut = await lease(stores.store, at(0))  # a cycle whose end was never recorded
    again = await lease(stores.store, at(1))
    assert (again.token, again.took_over_from) == (cut.token + 1, None)
    runs = await stores.inspect.runs(TARGET)
    assert [r["status"] for r in runs] == ["abandoned", "running"]
    held = await stores.inspect.target(TARGET)
    assert held is not None and held["takeovers"] == 0
    await stores.store.finish(again, at(2), RunSummary(status="succeeded"))


async def test_a_cycle_runs_once_per_interval_slot_unless_forced(stores: Backend) -> None:
    first = await lease(stores.store, at(10), force=False)
    await stores.store.finish(first, at(11), RunSummary(status="succeeded"))
    assert await claim(stores.store, at(59), force=False) == NotDue(due_at=at(INTERVAL))
    forced = await lease(stores.store, at(59), force=True)
    await stores.store.finish(forced, at(59), RunSummary(status="succeeded"))
    due = await lease(stores.store, at(INTERVAL), force=False)
    assert due.token == 3
    await stores.store.finish(due, at(61), RunSummary(status="succeeded"))


async def test_renewing_extends_the_lease_by_its_ttl(stores: Backend) -> None:
    held = await lease(stores.store, at(0))
    assert await stores.store.renew(held, at(20))
    target = await stores.inspect.target(TARGET)
    assert target is not None and target["lease_expires_at"] == at(20 + TTL)
    assert isinstance(await claim(stores.store, at(TTL + 1), owner=RIVAL), LeaseHeld)
    await stores.store.finish(held, at(21), RunSummary(status="succeeded"))


async def test_a_page_renews_the_lease_it_is_fenced_by(stores: Backend) -> None:
    held = await lease(stores.store, at(0))
    await page(stores.store, held, at(25), [campaign("1")])
    target = await stores.inspect.target(TARGET)
    assert target is not None and target["lease_expires_at"] == at(25 + TTL)
    await stores.store.finish(held, at(26), RunSummary(status="succeeded"))


async def test_a_claim_waits_for_a_page_being_written_and_sees_its_renewal(
    stores: Backend,
) -> None:
    held = await lease(stores.store, at(0))
    results: list[object] = []

    async def rival_claims() -> None:
        results.append(await claim(stores.store, at(TTL + 5), owner=RIVAL))

    # The lease has expired by lease time, but its holder is writing a page...
    async with anyio.create_task_group() as group, stores.store.page(held, at(TTL + 5)) as writer:
        group.start_soon(rival_claims)
        await anyio.wait_all_tasks_blocked()
        assert results == []  # ...so the rival's claim waits for it to commit
        await writer.write([], [], records=0)
    assert results == [LeaseHeld(owner=OWNER, expires_at=at(2 * TTL + 5))]
    await stores.store.finish(held, at(TTL + 6), RunSummary(status="succeeded"))


async def test_finishing_records_the_run_and_releases_the_lease(stores: Backend) -> None:
    held = await lease(stores.store, at(0))
    summary = RunSummary(status="succeeded", pages=2, records=7, changed=3, events=4)
    recorded = await stores.store.finish(
        held, at(9), summary, observed_at=at(8), full_refresh_at=at(0)
    )
    assert recorded == summary
    (run,) = await stores.inspect.runs(TARGET)
    assert {k: run[k] for k in ("status", "finished_at", "pages", "records", "changed")} == {
        "status": "succeeded",
        "finished_at": at(9),
        "pages": 2,
        "records": 7,
        "changed": 3,
    }
    target = await stores.inspect.target(TARGET)
    assert target is not None
    assert {k: target[k] for k in ("lease_owner", "lease_expires_at", "last_run_id")} == {
        "lease_owner": None,
        "lease_expires_at": None,
        "last_run_id": held.run_id,
    }
    assert (target["last_success_at"], target["last_observed_at"]) == (at(9), at(8))
    assert target["last_full_refresh_at"] == at(0)
    assert (await lease(stores.store, at(10))).last_full_refresh_at == at(0)
    again = await lease(stores.store, at(11))  # the previous claim is taken back
    await stores.store.finish(again, at(12), RunSummary(status="succeeded"))
