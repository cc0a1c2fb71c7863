"""``campaign-sync grant-subscriber``: a role that can run the Python subscription API
(read the events, keep its consumer's cursor) and write nothing else; the reader role
cannot subscribe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from tests.acceptance.test_roles import as_role, drop_roles, run, unique
from tests.delivery.outbox import ACME, campaign, writers
from worker import subscribe
from worker.errors import StorageError
from worker.storage.postgres import PostgresStore

pytestmark = pytest.mark.slow

# What a subscriber must never do (each in its own savepoint).
WRITES = {
    "UPDATE campaigns SET name = 'x'": "permission denied for view campaigns",
    "INSERT INTO sync_targets (provider, account) VALUES ('p', 'a')": "permission denied",
    "UPDATE sync_targets SET lease_owner = 'x'": "permission denied for table sync_targets",
    "DELETE FROM campaign_events": "permission denied for table campaign_events",
    "DELETE FROM event_consumers": "permission denied for table event_consumers",
    "TRUNCATE event_consumers": "permission denied for table event_consumers",
    "UPDATE event_consumers SET name = 'renamed'": "permission denied for table event_consumers",
    "UPDATE webhook_deliveries SET status = 'dead'": "permission denied",
}


@pytest.fixture
async def roles(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    made: list[str] = []
    yield made
    await drop_roles(engine, *made)


async def login_member(engine: AsyncEngine, granted: str, roles: list[str]) -> str:
    """A login role that holds ``granted``, as an operator makes one for a service."""
    login = unique("cs_service")
    roles.append(login)
    await run(engine, f"CREATE ROLE {login} LOGIN", f"GRANT {granted} TO {login}")
    return login


async def test_the_subscriber_role_receives_acks_and_writes_nothing_else(
    db_url: URL, engine: AsyncEngine, roles: list[str]
) -> None:
    role = unique("cs_subscriber")
    roles.append(role)
    granted = await cli("grant-subscriber", role, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == (
        f"role {role} can read the change events and keep durable consumers' cursors "
        "(event_consumers), and write nothing else"
    )
    again = await cli("grant-subscriber", role, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    assert again.returncode == 0, again.stderr  # idempotent
    service = await login_member(engine, role, roles)
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        for cid in ("1", "2", "3"):
            await acme.write(campaign(ACME, cid))

    dsn = plain(db_url.set(username=service, password=None))
    with anyio.fail_after(20):
        async with subscribe(dsn, consumer="billing", poll_interval=0.2) as events:
            got = []
            async for event in events:
                got.append(event["subject"])
                if len(got) == 2:
                    await event.ack()
                    break
        async with subscribe(dsn, consumer="billing", poll_interval=0.2) as events:
            async for event in events:  # resumes after the acknowledgement
                got.append(event["subject"])
                await event.ack()
                break
    assert got == ["1", "2", "3"]

    as_service = as_role(db_url, service)
    try:
        async with as_service.connect() as conn:
            for write, refused in WRITES.items():
                with pytest.raises(DBAPIError, match=refused):
                    async with conn.begin_nested():
                        await conn.execute(text(write))
            await conn.rollback()
    finally:
        await as_service.dispose()


async def test_the_reader_role_cannot_subscribe(
    db_url: URL, engine: AsyncEngine, roles: list[str]
) -> None:
    role = unique("cs_reader")
    roles.append(role)
    granted = await cli("grant-reader", role, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    assert granted.returncode == 0, granted.stderr
    service = await login_member(engine, role, roles)
    dsn = plain(db_url.set(username=service, password=None))
    with pytest.raises(StorageError, match="permission denied for table event_consumers"):
        async with subscribe(dsn, consumer="billing", poll_interval=0.2):
            pass
