"""Reporting views, the read-only role and ``status``, over a lifecycle driven through the
real sync path: the vox v3 simulator on a manual clock, one cycle per scripted poll."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import T0
from tests.helpers import VOX_KEY, FailAfter, claim, runtime_for, secret, select_all
from worker.cli.status import render_status_table, status_json
from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.domain.campaign import TargetKey
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.errors import ConfigError, StorageError
from worker.ports import ConsumerLease, Position, RunSummary
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app
from worker.storage import migrate
from worker.storage.consumers import PostgresConsumers
from worker.storage.engine import create_engine
from worker.storage.lapsed import ABANDONED
from worker.storage.outbox import read_after
from worker.storage.postgres import PostgresStore
from worker.storage.reporting import VIEWS, TargetStatus, target_status
from worker.storage.roles import grant_reader
from worker.storage.tables import metadata
from worker.storage.webhooks import PostgresWebhooks

TARGET = VoxV3Target(account="acme", base_url="http://vox.test", api_key=secret(VOX_KEY))
KEY = TargetKey(provider="vox_v3", account="acme")
MON, TUE = (Weekday.MONDAY,), (Weekday.TUESDAY,)


def at(hours: float, day: int = 0) -> datetime:
    """T0 (Monday 2026-03-02 00:00 UTC) plus ``day`` days and ``hours`` hours."""
    return T0 + timedelta(days=day, hours=hours)


def window(*ranges: tuple[tuple[Weekday, ...], float, float]) -> CallWindow:
    return CallWindow(
        timezone="UTC",
        ranges=tuple(
            WindowRange(days=d, start_min=int(a * 60), end_min=int(b * 60)) for d, a, b in ranges
        ),
        auto_resume=True,
    )


def fleet(clock: ManualClock) -> VoxEngine:
    """201: paused by its window 12:00-14:30, done at 16:00 (675 calls at 2.5 a minute);
    202: paused 23:00 Monday to 01:00 Tuesday; 203: no window, deleted at the provider later."""
    vox = VoxEngine(clock, seed=7, dispatch_delay=timedelta(0))
    for cid, calls, win in (
        ("201", 675, window((MON, 9, 12), (MON, 14.5, 23))),
        ("202", 100_000, window((MON, 9, 23), (TUE, 1, 23))),
        ("203", 100_000, None),
    ):
        vox.add(
            VoxCampaign(
                id=cid,
                name=f"campaign {cid}",
                created_at=T0,
                scheduled_at=at(9),
                total_calls=calls,
                call_window=win,
            )
        )
    return vox


@pytest.fixture
async def lifecycle(engine: AsyncEngine, clock: ManualClock) -> AsyncEngine:
    """The scripted day and night, one cycle per poll; the one at 01:30 Tuesday fails."""
    vox = fleet(clock)
    app = FailAfter(create_app(vox, api_key=VOX_KEY), lambda _method, _path: True, after=0)
    async with runtime_for(engine, clock, {TARGET: app}) as rt:

        async def poll(instant: datetime, outcome: str = "succeeded") -> None:
            clock.set(instant)
            assert (await rt.sync_target(TARGET.name)).status == outcome

        for instant in (at(9), at(10), at(12), at(13), at(14.5), at(15), at(16)):
            await poll(instant)
        vox.remove("203")  # deleted at the provider
        for instant in (at(17), at(23), at(1, day=1)):
            await poll(instant)
        app.armed = True  # every request answers 503
        await poll(at(1.5, day=1), "failed")
        app.armed = False
        await poll(at(2, day=1))
    return engine


async def test_status_intervals_merge_versions_and_close_at_a_vanish(
    lifecycle: AsyncEngine,
) -> None:
    rows = await select_all(
        lifecycle,
        "SELECT campaign_id, status, paused_by, started_at, ended_at, "
        "CASE WHEN ended_at IS NOT NULL THEN duration END AS duration, ended_by_vanish, "
        "last_version - first_version + 1 AS versions "
        "FROM campaign_status_intervals ORDER BY campaign_id, started_at",
    )
    h = timedelta(hours=1)
    assert [tuple(r.values()) for r in rows] == [
        ("201", "scheduled", None, at(9), at(10), h, False, 1),
        ("201", "running", None, at(10), at(12), 2 * h, False, 1),
        ("201", "paused", "system", at(12), at(14.5), 2.5 * h, False, 1),
        ("201", "running", None, at(14.5), at(16), 1.5 * h, False, 2),  # 14:30 and 15:00
        ("201", "completed", None, at(16), None, None, False, 1),
        ("202", "scheduled", None, at(9), at(10), h, False, 1),
        ("202", "running", None, at(10), at(23), 13 * h, False, 7),  # progress at each of 7 polls
        ("202", "paused", "system", at(23), at(1, day=1), 2 * h, False, 1),
        ("202", "running", None, at(1, day=1), None, None, False, 2),
        ("203", "scheduled", None, at(9), at(10), h, False, 1),
        ("203", "running", None, at(10), at(17), 7 * h, True, 6),  # closed by the vanish
    ]
    # An open interval counts up to now().
    (open_,) = await select_all(
        lifecycle,
        "SELECT duration = now() - started_at AS up_to_now, "
        "duration_seconds = extract(epoch FROM now() - started_at) AS in_seconds "
        "FROM campaign_status_intervals WHERE campaign_id = '202' AND ended_at IS NULL",
    )
    assert open_ == {"up_to_now": True, "in_seconds": True}


async def test_system_pauses_daily_counts_each_pause_once_and_splits_at_midnight(
    lifecycle: AsyncEngine,
) -> None:
    rows = await select_all(
        lifecycle,
        "SELECT campaign_id, day, pauses, paused, paused_seconds, ongoing "
        "FROM system_pauses_daily ORDER BY campaign_id, day",
    )
    monday, tuesday = T0.date(), (T0 + timedelta(days=1)).date()
    assert rows == [
        {
            "campaign_id": "201",
            "day": monday,
            "pauses": 1,
            "paused": timedelta(hours=2, minutes=30),
            "paused_seconds": 9000.0,
            "ongoing": False,
        },
        {
            "campaign_id": "202",
            "day": monday,
            "pauses": 1,
            "paused": timedelta(hours=1),
            "paused_seconds": 3600.0,
            "ongoing": False,
        },
        {
            "campaign_id": "202",
            "day": tuesday,
            "pauses": 0,  # the pause started on Monday
            "paused": timedelta(hours=1),
            "paused_seconds": 3600.0,
            "ongoing": False,
        },
    ]


async def test_system_pauses_daily_keeps_utc_days_in_any_session_time_zone(
    lifecycle: AsyncEngine,
) -> None:
    async with lifecycle.connect() as conn:
        await conn.execute(text("SET TIME ZONE 'Asia/Seoul'"))
        rows = (
            await conn.execute(
                text("SELECT campaign_id, day, paused FROM system_pauses_daily ORDER BY 1, 2")
            )
        ).all()
        await conn.execute(text("RESET TIME ZONE"))
    assert [tuple(r) for r in rows] == [
        ("201", T0.date(), timedelta(hours=2, minutes=30)),
        ("202", T0.date(), timedelta(hours=1)),
        ("202", (T0 + timedelta(days=1)).date(), timedelta(hours=1)),
    ]


async def test_current_campaigns_and_target_freshness(lifecycle: AsyncEngine) -> None:
    current = await select_all(
        lifecycle,
        "SELECT campaign_id, status, paused_by, vanished, vanished_at, version, last_seen_at "
        "FROM current_campaigns ORDER BY campaign_id",
    )
    assert [(r["campaign_id"], r["status"], r["vanished"]) for r in current] == [
        ("201", "completed", False),
        ("202", "running", False),
        ("203", "running", True),
    ]
    assert current[2]["vanished_at"] == at(17)
    assert [r["last_seen_at"] for r in current] == [at(2, day=1), at(2, day=1), None]
    columns = await select_all(
        lifecycle,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'current_campaigns' AND column_name IN ('raw', 'content_hash')",
    )
    assert columns == []

    (fresh,) = await select_all(lifecycle, "SELECT *, now() AS read_at FROM target_freshness")
    assert (fresh["provider"], fresh["account"]) == ("vox_v3", "acme")
    assert fresh["last_success_at"] == at(2, day=1)
    assert fresh["success_age"] == fresh["read_at"] - at(2, day=1)
    assert fresh["last_status"] == "succeeded"
    assert fresh["last_error_at"] == at(1.5, day=1)
    assert fresh["last_error_status"] == "failed"
    assert "503" in fresh["last_error"]
    assert (fresh["lease_owner"], fresh["lease_held"]) == (None, False)


@pytest.fixture
async def reader_role(engine: AsyncEngine) -> AsyncIterator[str]:
    """A role of this test's own (roles are cluster-wide); dropped with what it was granted."""
    role = f"cs_reader_{uuid.uuid4().hex[:10]}"
    yield role
    async with engine.begin() as conn:
        exists = (
            await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        ).first()
        if exists:  # its grants live in this test's database only
            await conn.execute(text(f'DROP OWNED BY "{role}"'))
            await conn.execute(text(f'DROP ROLE "{role}"'))


# A view that joins or aggregates is not updatable whoever asks; a table refuses the reader.
WRITES = {
    "UPDATE campaigns SET name = 'x'": "permission denied for view campaigns",
    "DELETE FROM campaign_history": "permission denied for table campaign_history",
    "TRUNCATE campaign_events": "permission denied for table campaign_events",
    "INSERT INTO sync_targets (provider, account) VALUES ('p', 'a')": "permission denied",
    "UPDATE current_campaigns SET name = 'x'": "cannot update view|permission denied",
    "DELETE FROM target_freshness": "cannot delete from view|permission denied",
}


async def test_the_reader_role_reads_every_view_and_table_and_writes_nothing(
    lifecycle: AsyncEngine, reader_role: str
) -> None:
    await grant_reader(lifecycle, reader_role)
    await grant_reader(lifecycle, reader_role)  # again: idempotent
    readable = [*VIEWS, *(t.name for t in metadata.sorted_tables), "alembic_version"]
    async with lifecycle.connect() as conn:
        (login,) = (
            await conn.execute(
                text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": reader_role}
            )
        ).one()
        assert login is False
        await conn.execute(text(f'SET LOCAL ROLE "{reader_role}"'))
        for name in readable:
            await conn.execute(text(f"SELECT count(*) FROM {name}"))  # noqa: S608 (constants)
        for write, refusal in WRITES.items():
            with pytest.raises(DBAPIError, match=refusal):
                async with conn.begin_nested():
                    await conn.execute(text(write))
        await conn.rollback()


async def test_the_default_reader_role_may_already_exist(engine: AsyncEngine) -> None:
    # Left in the cluster afterwards: another run may be granting it at the same moment.
    await grant_reader(engine)
    await grant_reader(engine)
    privileges = await select_all(
        engine,
        "SELECT has_table_privilege('campaign_sync_reader', 'current_campaigns', 'SELECT') AS r, "
        "has_table_privilege('campaign_sync_reader', 'campaigns', 'INSERT, UPDATE, DELETE') AS w",
    )
    assert privileges == [{"r": True, "w": False}]


async def test_a_role_that_can_write_is_refused(engine: AsyncEngine) -> None:
    ((me,),) = [tuple(r.values()) for r in await select_all(engine, "SELECT current_user")]
    with pytest.raises(ConfigError, match=f"role {me} can write campaign-sync's tables"):
        await grant_reader(engine, me)  # the owner (a superuser here) would stay a writer


@pytest.mark.parametrize(
    "role",
    [
        'reader"; DROP TABLE campaigns; --',
        "reader\nx",
        "Reader",
        "pg_monitor",
        "public",
        "",
        "1st",
        "x" * 64,
    ],
)
async def test_a_bad_role_name_is_a_config_error(role: str) -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:9/never")  # never connected to
    try:
        with pytest.raises(ConfigError, match="is not allowed") as raised:
            await grant_reader(engine, role)
        assert "\n" not in str(raised.value)
    finally:
        await engine.dispose()


async def test_views_come_with_0007_and_go_with_its_downgrade(empty_db_url: URL) -> None:
    engine = create_engine(empty_db_url)
    views = "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"
    try:
        await migrate.upgrade(engine)
        assert {r["table_name"] for r in await select_all(engine, views)} == set(VIEWS)
        await migrate.downgrade(engine, "0006")
        assert await select_all(engine, views) == []
        with pytest.raises(StorageError, match="run campaign-sync migrate"):
            await grant_reader(engine, "cs_never_created")
    finally:
        await engine.dispose()


async def small_fleet(engine: AsyncEngine, clock: ManualClock) -> None:
    """301 running, 302 paused by its window at 12:00, 303 vanished at 12:00."""
    vox = VoxEngine(clock, seed=7, dispatch_delay=timedelta(0))
    for cid, win in (("301", None), ("302", window((MON, 9, 12))), ("303", None)):
        vox.add(
            VoxCampaign(
                id=cid,
                name=cid,
                created_at=T0,
                scheduled_at=at(9),
                total_calls=10**5,
                call_window=win,
            )
        )
    async with runtime_for(engine, clock, {TARGET: create_app(vox, api_key=VOX_KEY)}) as rt:
        clock.set(at(10))
        assert (await rt.sync_target(TARGET.name)).status == "succeeded"
        vox.remove("303")
        clock.set(at(12))
        assert (await rt.sync_target(TARGET.name)).status == "succeeded"


async def test_target_status_counts_campaigns_lease_and_backlog(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await small_fleet(engine, clock)
    async with engine.connect() as conn:
        stored, _ = await read_after(conn, Position(), limit=1000)
    consumers, hooks = PostgresConsumers(engine), PostgresWebhooks(engine)
    billing = await consumers.claim("billing", owner="svc", now=at(12), ttl=30)
    audit = await consumers.claim("audit", owner="svc", now=at(12), ttl=30)
    assert isinstance(billing, ConsumerLease) and isinstance(audit, ConsumerLease)
    await consumers.ack(billing, stored[1].position, at(12))  # two events acknowledged
    await consumers.ack(audit, stored[-1].position, at(12))  # every event
    await hooks.register("hooks", "http://hooks.test/in", at(12))
    assert await hooks.enqueue("hooks", stored, now=at(12), dead=False) == len(stored)
    first, second, *_ = await hooks.claim_due("hooks", now=at(12), limit=10, hold=30)
    await hooks.delivered("hooks", first, now=at(12), status=204)
    await hooks.failed("hooks", second, now=at(12), status=500, error="500", retry_at=None)
    lease = await claim(PostgresStore(engine), KEY, at(12.5), owner="replica-b", ttl=30)
    try:
        (status,) = await target_status(engine)
    finally:
        await PostgresStore(engine).finish(lease, at(12.5), RunSummary(status="canceled"))

    assert status == TargetStatus(
        provider="vox_v3",
        account="acme",
        as_of=status.as_of,
        last_success_at=at(12),
        age_seconds=status.age_seconds,
        # The database reads the lease taken at 12:30 for 30 s long after it expired: its
        # run, still recorded running, is the last one, abandoned.
        last_status="abandoned",
        last_error=ABANDONED,
        last_error_at=at(12.5) + timedelta(seconds=30),
        campaigns={"paused": 1, "running": 1},
        vanished=1,
        lease_owner="replica-b",
        lease_expires_at=at(12.5) + timedelta(seconds=30),
        consumer_lag={"billing": len(stored) - 2},  # audit is caught up: not listed
        webhook_pending={"hooks": len(stored) - 2},
        webhook_dead={"hooks": 1},
    )
    assert status.age_seconds == pytest.approx((status.as_of - at(12)).total_seconds())

    now = at(12.5) + timedelta(seconds=40)
    n = len(stored)
    assert render_status_table([status], now).splitlines() == [
        "TARGET       LAST SUCCESS          AGE      LAST RUN   LAST ERROR"
        + " " * 60
        + "CAMPAIGNS"
        + " " * 24
        + "LEASE                BACKLOG",
        "vox_v3/acme  2026-03-02T12:00:00Z  30m 40s  abandoned  10s ago: abandoned: the worker "
        "running it stopped renewing its lease  paused 1, running 1, vanished 1  replica-b "
        f"(expired)  billing {n - 2}, hooks {n - 2} queued, hooks 1 dead",
    ]
    (document,) = json.loads(status_json([status]))
    assert document["last_success_at"] == "2026-03-02T12:00:00+00:00"
    assert document["lease_expires_at"] == "2026-03-02T12:30:30+00:00"
    assert datetime.fromisoformat(document["as_of"]) == status.as_of
    assert document["campaigns"] == {"paused": 1, "running": 1}
    assert document["consumer_lag"] == {"billing": n - 2}
    assert (document["webhook_pending"], document["webhook_dead"]) == (
        {"hooks": n - 2},
        {"hooks": 1},
    )
    assert (document["last_error"], document["vanished"]) == (ABANDONED, 1)


def test_renderings_of_a_target_that_never_succeeded() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    row = TargetStatus(
        provider="sarvam",
        account="eu",
        as_of=now,
        last_success_at=None,
        age_seconds=None,
        last_status="failed",
        last_error="sarvam/eu: GET /campaigns returned 503\n" + "x" * 100,
        last_error_at=now - timedelta(hours=3, minutes=20),
        campaigns={},
        vanished=0,
        lease_owner="replica-a",
        lease_expires_at=now - timedelta(seconds=1),
        consumer_lag={},
        webhook_pending={},
        webhook_dead={},
    )
    header, line = render_status_table([row], now).splitlines()
    cells = line.split("  ")
    assert [c.strip() for c in cells if c.strip()][:4] == ["sarvam/eu", "never", "-", "failed"]
    assert "3h 20m ago: sarvam/eu: GET /campaigns returned 503 xxx" in line
    assert "x…" in line and "x" * 40 not in line  # cut to one line of 60 characters
    assert line.endswith("…  -          replica-a (expired)  -")  # no campaigns, no backlog
    assert header.startswith("TARGET ")
    assert render_status_table([], now) == "no target has been synced yet"
    (document,) = json.loads(status_json([row]))
    assert document["last_error"] == row.last_error  # whole, newline and all
    assert document["last_error_at"] == "2026-03-02T08:40:00+00:00"
    assert (document["last_success_at"], document["age_seconds"]) == (None, None)
    assert status_json([]) == "[]"
