"""Reporting: each target's status for ``campaign-sync status``, and the outbox backlog.

The views themselves are made by migration 0007 (``current_campaigns``,
``campaign_status_intervals``, ``system_pauses_daily``, ``target_freshness``)
and 0008 (``sync_run_outcomes``; ``target_freshness`` reads a run whose lease
lapsed as abandoned); docs/reporting.md documents their columns.

:mod:`worker.storage.roles` makes the read-only role (every table and view of
the schema, nothing written) and the subscriber's. :func:`target_status` reads
what ``status`` shows; :mod:`worker.cli.status` renders it.

Backlog, per target: ``consumer_lag`` counts the target's events after each
durable consumer's cursor (those its type and provider filters pass), which
includes the enqueuer of each webhook sink (``webhook:<sink>``) and the NATS
relay (``nats:<stream>``); ``webhook_pending`` counts each sink's deliveries
queued and not yet delivered, retries included, and ``webhook_dead`` its dead
letters. A sink's events not yet delivered are its enqueuer's lag plus its
pending deliveries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.storage.engine import storage_errors

__all__ = [
    "READER_ROLE",
    "VIEWS",
    "Backlog",
    "TargetStatus",
    "outbox_backlog",
    "target_status",
]

READER_ROLE = "campaign_sync_reader"
# Every view the migrations make: ``campaigns`` (the current state, 0010) and the
# reporting views (0007, 0008).
VIEWS = (
    "campaigns",
    "current_campaigns",
    "campaign_status_intervals",
    "system_pauses_daily",
    "target_freshness",
    "sync_run_outcomes",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetStatus:
    """One target as ``campaign-sync status`` shows it; times are aware UTC.

    ``age_seconds`` is the age of ``last_success_at`` at ``as_of`` (the database's
    clock when it was read); ``last_error`` is the newest failed or abandoned
    run's. ``last_status`` is the last finished run's, or ``abandoned`` while the
    newest run is still recorded ``running`` but its lease has expired (its worker
    died; the next worker to claim the target or to start closes it so).
    ``campaigns`` counts campaigns that are not vanished by status;
    ``lease_owner`` is whoever last took the lease and has not released it
    (expired when ``lease_expires_at`` has passed). Backlog: see the module docstring.
    """

    provider: str
    account: str
    as_of: datetime
    last_success_at: datetime | None
    age_seconds: float | None
    last_status: str | None
    last_error: str | None
    last_error_at: datetime | None
    campaigns: Mapping[str, int]
    vanished: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    consumer_lag: Mapping[str, int]
    webhook_pending: Mapping[str, int]
    webhook_dead: Mapping[str, int]

    @property
    def target(self) -> str:
        """``provider/account``."""
        return f"{self.provider}/{self.account}"


_FRESHNESS = text(
    "SELECT provider, account, now() AS as_of, last_success_at, success_age_seconds, "
    "last_status, last_error, last_error_at, lease_owner, lease_expires_at "
    "FROM target_freshness ORDER BY provider, account"
)
_CAMPAIGNS = text(
    "SELECT provider, account, vanished, status, count(*) FROM current_campaigns "
    "GROUP BY 1, 2, 3, 4"
)
# Per consumer, the events after its cursor that its filters pass, by target.
_LAG = text(
    "SELECT e.provider, e.account, c.name, count(*) FROM event_consumers c "
    "JOIN campaign_events e ON (e.xid, e.id) > (c.cursor_xid, c.cursor_id) "
    "AND (c.types IS NULL OR e.type = ANY(c.types)) "
    "AND (c.providers IS NULL OR e.provider = ANY(c.providers)) "
    "GROUP BY 1, 2, 3"
)
_DELIVERIES = text(
    "SELECT provider, account, sink, count(*) FILTER (WHERE status = 'pending'), "
    "count(*) FILTER (WHERE status = 'dead') FROM webhook_deliveries "
    "WHERE status IN ('pending', 'dead') GROUP BY 1, 2, 3"
)


def _counts() -> defaultdict[tuple[str, str], dict[str, int]]:
    return defaultdict(dict)


async def target_status(engine: AsyncEngine) -> list[TargetStatus]:
    """Every target the worker has synced (a row in ``sync_targets``), by provider, account.

    Read in one read-only snapshot; a consumer or sink with nothing pending for a
    target is left out of its backlog. Raises StorageError.
    """
    by_status, lag, pending, dead = _counts(), _counts(), _counts(), _counts()
    vanished: defaultdict[tuple[str, str], int] = defaultdict(int)
    with storage_errors("reading the targets' status"):
        async with engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            targets = (await conn.execute(_FRESHNESS)).all()
            for provider, account, gone, status, n in await conn.execute(_CAMPAIGNS):
                if gone:
                    vanished[provider, account] += int(n)
                else:
                    by_status[provider, account][status] = int(n)
            for provider, account, consumer, n in await conn.execute(_LAG):
                lag[provider, account][consumer] = int(n)
            for provider, account, sink, queued, gave_up in await conn.execute(_DELIVERIES):
                if queued:
                    pending[provider, account][sink] = int(queued)
                if gave_up:
                    dead[provider, account][sink] = int(gave_up)
    return [
        TargetStatus(
            provider=t.provider,
            account=t.account,
            as_of=t.as_of,
            last_success_at=t.last_success_at,
            age_seconds=t.success_age_seconds,
            last_status=t.last_status,
            last_error=t.last_error,
            last_error_at=t.last_error_at,
            campaigns=dict(sorted(by_status[t.provider, t.account].items())),
            vanished=vanished[t.provider, t.account],
            lease_owner=t.lease_owner,
            lease_expires_at=t.lease_expires_at,
            consumer_lag=dict(sorted(lag[t.provider, t.account].items())),
            webhook_pending=dict(sorted(pending[t.provider, t.account].items())),
            webhook_dead=dict(sorted(dead[t.provider, t.account].items())),
        )
        for t in targets
    ]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events not yet delivered per consumer (a webhook sink's queued deliveries added to
    its enqueuer ``webhook:<sink>``), and each configured sink's disabled flag."""

    by_consumer: Mapping[str, int]
    sinks_disabled: Mapping[str, bool]


async def outbox_backlog(engine: AsyncEngine) -> Backlog:
    """The backlog figures for ``/metrics``: the lag and pending queries of
    :func:`target_status` alone (no campaign counts: this runs every few seconds).
    Every consumer and sink is there, 0 when it has caught up. Raises StorageError."""
    backlog: defaultdict[str, int] = defaultdict(int)
    with storage_errors("reading the outbox backlog"):
        async with engine.connect() as conn:
            for _, _, consumer, n in await conn.execute(_LAG):
                backlog[consumer] += int(n)
            for _, _, sink, queued, _ in await conn.execute(_DELIVERIES):
                backlog[f"webhook:{sink}"] += int(queued or 0)
            sinks = (await conn.execute(_SINKS)).all()
            consumers = (await conn.execute(_CONSUMERS)).scalars().all()
    for name in (*consumers, *(f"webhook:{name}" for name, _ in sinks)):
        backlog.setdefault(name, 0)  # _LAG joins events: a caught-up consumer has no row
    return Backlog(dict(backlog), {name: disabled for name, disabled in sinks})


_SINKS = text("SELECT name, disabled_at IS NOT NULL FROM webhook_sinks ORDER BY name")
_CONSUMERS = text("SELECT name FROM event_consumers")
