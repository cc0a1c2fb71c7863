"""``grant-reader`` and ``grant-subscriber`` through the command line, against the real
database: a role that could write (by any path) is refused, and the roles granted can do
what they are for and nothing more."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from worker.storage.engine import create_engine

pytestmark = pytest.mark.slow

COMMANDS = ("grant-reader", "grant-subscriber")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def run(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def drop_roles(engine: AsyncEngine, *roles: str) -> None:
    """Roles are cluster-wide: drop this test's own, with what they own in its database."""
    async with engine.begin() as conn:
        for role in roles:
            found = await conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            )
            if found.first():
                await conn.execute(text(f"REASSIGN OWNED BY {role} TO current_user"))
                await conn.execute(text(f"DROP OWNED BY {role}"))
    async with engine.begin() as conn:
        for role in roles:
            await conn.execute(text(f"DROP ROLE IF EXISTS {role}"))


@pytest.fixture
async def owner(engine: AsyncEngine) -> AsyncIterator[str]:
    """A plain (not superuser) role that owns every campaign-sync table, view and sequence,
    as in production, where a migration role owns the schema's objects."""
    role = unique("cs_owner")
    await run(engine, f"CREATE ROLE {role} NOLOGIN")
    await run(
        engine,
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT c.relname, c.relkind FROM pg_class c "  # noqa: S608 - the test's own role name
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
        "AND c.relkind IN ('r', 'v') LOOP "
        f"EXECUTE format('ALTER TABLE %I OWNER TO {role}', r.relname); END LOOP; END $$",
    )
    try:
        yield role
    finally:
        await drop_roles(engine, role)


@pytest.fixture
async def roles(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """Names for this test's other roles, dropped afterwards (before the owner)."""
    made: list[str] = []
    yield made
    await drop_roles(engine, *made)


def as_role(db_url: URL, role: str) -> AsyncEngine:
    return create_engine(db_url.set(username=role, password=None))


def refusal(stderr: str) -> str:
    """The one error line (JSON log mode; the info line naming the database precedes it)."""
    lines = [json.loads(line) for line in stderr.strip().splitlines()]
    (failed,) = [line for line in lines if line["level"] == "error"]
    assert (failed["event"], failed["exit_code"]) == ("cli.failed", 2)
    assert "Traceback" not in stderr
    return str(failed["message"])


async def acl_entries(engine: AsyncEngine, role: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = :r"),
            {"r": role},
        )
        return int(found.scalar_one())


@pytest.mark.parametrize("command", COMMANDS)
async def test_a_noinherit_member_of_the_owner_is_refused(
    db_url: URL, engine: AsyncEngine, owner: str, roles: list[str], command: str
) -> None:
    sneaky = unique("cs_sneaky")
    roles.append(sneaky)
    await run(engine, f"CREATE ROLE {sneaky} LOGIN NOINHERIT", f"GRANT {owner} TO {sneaky}")
    # The hole itself: NOINHERIT hides the owner's rights until SET ROLE, which is allowed.
    sneaky_engine = as_role(db_url, sneaky)
    try:
        async with sneaky_engine.begin() as conn:
            with pytest.raises(DBAPIError, match="permission denied"):
                async with conn.begin_nested():
                    await conn.execute(text("UPDATE sync_targets SET lease_owner = 'x'"))
            await conn.execute(text(f"SET LOCAL ROLE {owner}"))
            await conn.execute(text("UPDATE sync_targets SET lease_owner = 'x'"))
            await conn.rollback()
    finally:
        await sneaky_engine.dispose()

    result = await cli(command, sneaky, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    message = refusal(result.stderr)
    assert message.startswith(f"role {sneaky} can write campaign-sync's tables: ")
    assert f"it is a member of {owner}, which owns table " in message
    assert f"(SET ROLE {owner} needs no INHERIT)" in message
    assert await acl_entries(engine, sneaky) == 0  # nothing was granted


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("setup", "why"),
    [
        ("CREATE ROLE {role} NOLOGIN CREATEROLE", "has CREATEROLE"),
        ("CREATE ROLE {role} NOLOGIN SUPERUSER", "is a superuser"),
        (
            "CREATE ROLE {role}_app NOLOGIN; GRANT INSERT ON campaigns TO {role}_app; "
            "CREATE ROLE {role} NOLOGIN NOINHERIT; GRANT {role}_app TO {role}",
            "it is a member of {role}_app, which may write view campaigns",
        ),
        (
            "CREATE ROLE {role} NOLOGIN; GRANT TRUNCATE ON campaign_history TO PUBLIC",
            "PUBLIC may write table campaign_history",
        ),
    ],
    ids=["createrole", "superuser", "member of a writer", "public"],
)
async def test_other_roles_that_could_write_are_refused(
    db_url: URL, engine: AsyncEngine, roles: list[str], command: str, setup: str, why: str
) -> None:
    role = unique("cs_role")
    roles.extend([role, f"{role}_app"])
    await run(engine, *setup.format(role=role).split("; "))
    result = await cli(command, role, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    assert result.returncode == 2, result.stderr
    message = refusal(result.stderr)
    assert message.startswith(f"role {role} can write campaign-sync's tables: "), message
    assert why.format(role=role) in message, message


async def test_the_tables_owner_itself_is_refused(
    db_url: URL, engine: AsyncEngine, owner: str
) -> None:
    result = await cli("grant-reader", owner, env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)})
    assert result.returncode == 2, result.stderr
    assert f"role {owner} can write campaign-sync's tables: it owns table " in refusal(
        result.stderr
    )
