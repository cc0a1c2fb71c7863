"""Shared fixtures: a real PostgreSQL, a migrated template, one fresh database per test.

The server is the embedded one unless ``CAMPAIGN_SYNC_TEST_DATABASE_URL`` points
at another. Migrations run once into a template database; every test that needs
storage gets ``CREATE DATABASE … TEMPLATE`` and it is dropped ``WITH (FORCE)``
afterwards, so no test ever sees another's rows. Tests that use it are marked
``storage`` automatically.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import stamina
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from worker.clock import ManualClock
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import async_url, create_engine
from worker.storage.integrity import integrity_violations

TEST_URL_ENV = "CAMPAIGN_SYNC_TEST_DATABASE_URL"
# A Monday, so weekday windows are easy to reason about in tests.
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


NO_SKIPS_ENV = "CAMPAIGN_SYNC_TEST_NO_SKIPS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    soak_asked = "soak" in str(config.getoption("markexpr", ""))
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.storage)
    # The soak runs with `pytest -m soak`; otherwise it is deselected, not skipped, so that a
    # skip always means something is missing.
    soak = [item for item in items if item.get_closest_marker("soak") is not None]
    if soak and not soak_asked:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if item.get_closest_marker("soak") is None]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """With ``CAMPAIGN_SYNC_TEST_NO_SKIPS=1`` (set by .ci/run) a skipped test fails, naming why.

    Tests skip only when a service they need is missing (a ``nats-server`` binary, say);
    CI provides every one, so there a skip is a broken machine, not a pass.
    """
    report: pytest.TestReport = yield
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get(NO_SKIPS_ENV) == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and {NO_SKIPS_ENV}=1 forbids skips: {reason}"
    return report


@pytest.fixture(autouse=True, scope="session")
def _no_retry_waits() -> Iterator[None]:
    """Retries still happen (so their logic is tested) but never sleep.

    A session run inside this one (``pytester``) finds test mode on and leaves it on.
    """
    if stamina.is_testing():
        yield
        return
    stamina.set_testing(True, attempts=3, cap=True)
    yield
    stamina.set_testing(False)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """Admin URL of the test server: external if configured, else embedded."""
    configured = os.environ.get(TEST_URL_ENV)
    if configured:
        yield async_url(configured)
        return
    with EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data") as server:
        yield async_url(server.url)


def _admin(url: URL) -> AsyncEngine:
    return create_async_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)


async def _execute(url: URL, *statements: str) -> None:
    admin = _admin(url)
    try:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def template_db(pg_server: URL) -> Iterator[str]:
    """A database migrated to head, used only as a template."""
    name = f"cs_template_{uuid.uuid4().hex[:10]}"

    async def build() -> None:
        await _execute(pg_server, f'CREATE DATABASE "{name}"')
        engine = create_engine(pg_server.set(database=name))
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(build())
    yield name
    asyncio.run(_execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_url(
    pg_server: URL, template_db: str, request: pytest.FixtureRequest
) -> AsyncIterator[URL]:
    """A fresh database cloned from the migrated template; dropped after the test.

    Before it is dropped, its tables must keep every promise of
    ``worker.storage.integrity`` (history, versions, events, runs), whoever wrote
    them: the test itself, a worker subprocess or a daemon. A test that breaks
    them on purpose is marked ``breaks_integrity``.
    """
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    await _execute(pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = pg_server.set(database=name)
    try:
        yield url
        if request.node.get_closest_marker("breaks_integrity") is None:
            checker = create_engine(url, pool_size=1)
            try:
                assert await integrity_violations(checker) == []
            finally:
                await checker.dispose()
    finally:
        await _execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_db_url(pg_server: URL) -> AsyncIterator[URL]:
    """A fresh database with no schema at all, for migration tests."""
    name = f"cs_empty_{uuid.uuid4().hex[:12]}"
    await _execute(pg_server, f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.set(database=name)
    finally:
        await _execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def engine(db_url: URL) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's database; its pool must be idle at teardown."""
    eng = create_engine(db_url)
    try:
        yield eng
        assert eng.pool.checkedout() == 0, "a connection was left checked out"  # type: ignore[attr-defined]
    finally:
        await eng.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at T0 (Monday 2026-03-02 00:00 UTC)."""
    return ManualClock(T0)
