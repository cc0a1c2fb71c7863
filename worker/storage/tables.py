"""Table metadata: the single source the migrations are checked against.

``campaign_history`` holds every version of each campaign (SCD2: ``valid_to`` is
NULL on the current one, which also carries the current-only bookkeeping; the
view of those open rows, ``campaigns``, is in :mod:`worker.storage.views`);
``campaign_events`` is the outbox and event log; ``sync_targets`` holds each
target's lease and schedule; ``sync_runs`` and ``sync_errors`` record cycles and
what they set aside.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from worker.storage.xid8 import XID8

__all__ = [
    "NOTIFY_CHANNEL",
    "campaign_columns",
    "campaign_events",
    "campaign_history",
    "event_consumers",
    "metadata",
    "sync_errors",
    "sync_runs",
    "sync_targets",
    "tz_column",
    "webhook_deliveries",
    "webhook_sinks",
]

NOTIFY_CHANNEL = "campaign_events"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


def tz_column(name: str, *, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def campaign_columns() -> list[Column[object]]:
    """Normalized columns shared by the current-state and history tables."""
    return [
        Column("provider", Text, nullable=False),
        Column("account", Text, nullable=False),
        Column("campaign_id", Text, nullable=False),
        Column("version", Integer, nullable=False),
        Column("name", Text),
        Column("status", Text, nullable=False),
        Column("status_raw", Text, nullable=False),
        Column("status_derived", Boolean, nullable=False, server_default=text("false")),
        Column("paused_by", Text),
        Column("total_calls", BigInteger),
        Column("completed_calls", BigInteger),
        Column("failed_calls", BigInteger),
        Column("active_calls", BigInteger),
        Column("concurrency", BigInteger),
        tz_column("created_at"),
        tz_column("scheduled_start_at"),
        tz_column("scheduled_end_at"),
        tz_column("paused_at"),
        tz_column("finished_at"),
        tz_column("provider_updated_at"),
        tz_column("last_run_at"),
        Column("call_window", JSONB),
        Column("time_flags", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("degraded", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("raw", JSONB, nullable=False),
        Column("content_hash", Text, nullable=False),
    ]


campaign_history = Table(
    "campaign_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    *campaign_columns(),
    tz_column("valid_from", nullable=False),
    tz_column("valid_to"),
    # Set on the version that records a vanish: it carries the last known values.
    tz_column("vanished_at"),
    tz_column("first_seen_at", nullable=False),
    # Kept on the open row only: complete listings without it, its list item's fingerprint
    # (unchanged means no detail GET).
    Column("missed_listings", Integer, nullable=False, server_default=text("0")),
    Column("list_hash", Text),
    UniqueConstraint("provider", "account", "campaign_id", "version"),
    Index(None, "valid_from"),
    Index(
        "ix_campaign_history_current_status", "status", postgresql_where=text("valid_to IS NULL")
    ),
    # At most one open (current) version per campaign.
    Index(
        "ux_campaign_history_current",
        "provider",
        "account",
        "campaign_id",
        unique=True,
        postgresql_where=text("valid_to IS NULL"),
    ),
)

campaign_events = Table(
    "campaign_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    tz_column("occurred_at", nullable=False),
    tz_column("detected_at", nullable=False),
    Column("data", JSONB, nullable=False),
    # The writing transaction's id: readers pass an event only once every transaction
    # that could still commit before it has ended (see ``worker.storage.outbox``).
    Column("xid", XID8(), nullable=False, server_default=text("pg_current_xact_id()")),
    Index(None, "provider", "account", "campaign_id", "id"),
    Index(None, "type", "occurred_at"),
    Index("ix_campaign_events_position", "xid", "id"),
)

event_consumers = Table(
    "event_consumers",
    metadata,
    Column("name", Text, primary_key=True),
    # The position of the last event acknowledged (the outbox order is (xid, id)).
    Column("cursor_xid", XID8(), nullable=False, server_default=text("'0'::xid8")),
    Column("cursor_id", BigInteger, nullable=False, server_default=text("0")),
    Column("types", ARRAY(Text)),
    Column("providers", ARRAY(Text)),
    # One process at a time receives a consumer's events.
    Column("owner", Text),
    Column("lease_token", BigInteger, nullable=False, server_default=text("0")),
    tz_column("lease_expires_at"),
    tz_column("created_at", nullable=False),
    tz_column("acked_at"),
    # Bumped by every replay: a running consumer that read another epoch reads again.
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
)

webhook_sinks = Table(
    "webhook_sinks",
    metadata,
    Column("name", Text, primary_key=True),
    Column("url", Text, nullable=False),
    tz_column("disabled_at"),
    Column("disabled_reason", Text),
    tz_column("last_success_at"),
    # The first failure since the last success: failing too long disables the sink.
    tz_column("failing_since"),
    tz_column("created_at", nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("sink", Text, nullable=False),
    Column("event_id", UUID(as_uuid=False), nullable=False),
    # The event's outbox position: deliveries of one campaign go in this order.
    Column("event_xid", XID8(), nullable=False),
    Column("event_row", BigInteger, nullable=False),
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("body", Text, nullable=False),  # the CloudEvents JSON, byte for byte as signed
    Column("status", Text, nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    tz_column("next_attempt_at", nullable=False),
    # A sender claims a delivery until then: replicas never send one attempt twice.
    tz_column("locked_until"),
    Column("last_status", Integer),
    Column("last_error", Text),
    tz_column("created_at", nullable=False),
    tz_column("delivered_at"),
    tz_column("dead_at"),
    # The last failure, if a later success of the sink may bring the next attempt forward.
    tz_column("early_after"),
    UniqueConstraint("sink", "event_id"),
    # Pending deliveries in outbox order: a claim reads them from the front.
    Index("ix_webhook_deliveries_due", "sink", "status", "event_xid", "event_row"),
    Index(
        "ix_webhook_deliveries_campaign",
        "sink",
        "provider",
        "account",
        "campaign_id",
        "event_xid",
        "event_row",
    ),
)

sync_targets = Table(
    "sync_targets",
    metadata,
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    # The lease: who may write this target, until when, under which fencing token.
    Column("lease_owner", Text),
    Column("lease_token", BigInteger, nullable=False, server_default=text("0")),
    tz_column("lease_expires_at"),
    # When the newest committed page of this target was fetched: an older page is stale.
    tz_column("last_observed_at"),
    # When the last cycle that read every campaign's detail succeeded.
    tz_column("last_full_refresh_at"),
    # The schedule: one cycle per interval slot, whichever replica runs it.
    Column("interval_seconds", Float),
    tz_column("next_due_at"),
    tz_column("last_started_at"),
    tz_column("last_finished_at"),
    tz_column("last_success_at"),
    Column("last_status", Text),
    Column("last_error", Text),
    Column("last_run_id", BigInteger),
    Column("takeovers", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("provider", "account"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    tz_column("started_at", nullable=False),
    tz_column("finished_at"),
    Column("status", Text, nullable=False),
    Column("pages", Integer, nullable=False, server_default=text("0")),
    Column("records", Integer, nullable=False, server_default=text("0")),
    Column("changed", Integer, nullable=False, server_default=text("0")),
    Column("events", Integer, nullable=False, server_default=text("0")),
    Column("rejected", Integer, nullable=False, server_default=text("0")),
    Column("vanished", Integer, nullable=False, server_default=text("0")),
    # Campaigns whose detail failed: their stored state was kept this cycle.
    Column("deferred", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("owner", Text),
    Column("lease_token", BigInteger),
    Index(None, "provider", "account", "started_at"),
    # Finding a target's unfinished runs (to close them as abandoned) stays cheap.
    Index(
        "ix_sync_runs_running",
        "provider",
        "account",
        postgresql_where=text("status = 'running'"),
    ),
)

sync_errors = Table(
    "sync_errors",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("fingerprint", Text, nullable=False, unique=True),
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("campaign_id", Text),
    Column("field", Text, nullable=False, server_default=text("''")),
    Column("reason", Text, nullable=False),
    Column("raw", JSONB),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    tz_column("first_seen_at", nullable=False),
    tz_column("last_seen_at", nullable=False),
    Column("occurrences", Integer, nullable=False, server_default=text("1")),
    Column(
        "last_run_id",
        BigInteger,
        ForeignKey("sync_runs.id", ondelete="SET NULL"),
    ),
    Index(None, "provider", "account", "last_seen_at"),
)
