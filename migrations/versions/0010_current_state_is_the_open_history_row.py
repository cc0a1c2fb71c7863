"""The current state is the open history row: ``campaigns`` becomes a view of it.

Each campaign's current version was stored twice, as its ``campaigns`` row and as
its open ``campaign_history`` row (``valid_to`` NULL), and every new version
wrote both. Issue 19 measured the schema's own ceiling (binary COPY of the rows
an initial sync needs): with the second copy it stayed under 1.5x dlt's merge,
without it it did not. So the open history row now carries what only the
current row had:

* ``first_seen_at``: when the campaign was first seen (every version carries it);
* ``missed_listings`` and ``list_hash``: kept up to date on the open row only;
* ``last_changed_at`` is the open row's ``valid_from``; ``vanished_at`` was there.

``campaigns`` is a view of the open rows with the table's columns, in the
table's order, so every query that read the table reads the same rows (it is
simple enough for PostgreSQL to update through, too). ``current_campaigns``
(0007) read the table, so it is dropped and made again over the view. The open
rows' status gets the index the table had.

A campaign whose ``campaigns`` row had no open history row (an integrity
violation the worker never leaves) gets one from that row, so no campaign is
lost. The downgrade makes the table again from the open rows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHARED = (
    "provider, account, campaign_id, version, name, status, status_raw, status_derived, "
    "paused_by, total_calls, completed_calls, failed_calls, active_calls, concurrency, "
    "created_at, scheduled_start_at, scheduled_end_at, paused_at, finished_at, "
    "provider_updated_at, last_run_at, call_window, time_flags, degraded, raw, content_hash"
)

# Built from constants only.
_CAMPAIGNS_VIEW = (
    f"CREATE VIEW campaigns AS SELECT {_SHARED}, "  # noqa: S608
    "first_seen_at, valid_from AS last_changed_at, vanished_at, missed_listings, list_hash "
    "FROM campaign_history WHERE valid_to IS NULL"
)

# As 0007 made it.
_CURRENT_CAMPAIGNS = """
CREATE VIEW current_campaigns AS
SELECT c.provider, c.account, c.campaign_id, c.name,
       c.status, c.status_raw, c.status_derived, c.paused_by, c.paused_at,
       c.vanished_at IS NOT NULL AS vanished, c.vanished_at, c.missed_listings,
       c.total_calls, c.completed_calls, c.failed_calls, c.active_calls, c.concurrency,
       c.created_at, c.scheduled_start_at, c.scheduled_end_at, c.finished_at,
       c.provider_updated_at, c.last_run_at,
       c.version, c.first_seen_at, c.last_changed_at,
       CASE WHEN c.vanished_at IS NULL AND c.missed_listings = 0
            THEN greatest(c.last_changed_at, t.last_success_at) END AS last_seen_at,
       c.call_window, c.time_flags, c.degraded
FROM campaigns c
LEFT JOIN sync_targets t ON t.provider = c.provider AND t.account = c.account
"""

_SAME_CAMPAIGN = (
    "h.provider = c.provider AND h.account = c.account AND h.campaign_id = c.campaign_id"
)


def upgrade() -> None:
    op.add_column("campaign_history", sa.Column("first_seen_at", sa.DateTime(timezone=True)))
    op.add_column(
        "campaign_history",
        sa.Column("missed_listings", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("campaign_history", sa.Column("list_hash", sa.Text()))
    op.execute(
        f"INSERT INTO campaign_history ({_SHARED}, valid_from, vanished_at) "  # noqa: S608
        f"SELECT {_SHARED}, c.last_changed_at, c.vanished_at FROM campaigns c "
        "WHERE NOT EXISTS (SELECT 1 FROM campaign_history h "
        f"WHERE {_SAME_CAMPAIGN} AND h.valid_to IS NULL) "
        "ON CONFLICT (provider, account, campaign_id, version) DO NOTHING"
    )
    op.execute(
        "UPDATE campaign_history h SET first_seen_at = c.first_seen_at, "  # noqa: S608
        "missed_listings = CASE WHEN h.valid_to IS NULL THEN c.missed_listings ELSE 0 END, "
        "list_hash = CASE WHEN h.valid_to IS NULL THEN c.list_hash END "
        f"FROM campaigns c WHERE {_SAME_CAMPAIGN}"
    )
    # History with no current row (none the worker leaves): first seen at its first version.
    op.execute(
        "UPDATE campaign_history h SET first_seen_at = f.at FROM ("
        "SELECT provider, account, campaign_id, min(valid_from) AS at FROM campaign_history "
        "GROUP BY provider, account, campaign_id) f "
        "WHERE h.first_seen_at IS NULL AND h.provider = f.provider "
        "AND h.account = f.account AND h.campaign_id = f.campaign_id"
    )
    op.alter_column("campaign_history", "first_seen_at", nullable=False)
    op.execute("DROP VIEW current_campaigns")
    op.drop_table("campaigns")
    op.execute(_CAMPAIGNS_VIEW)
    op.execute(_CURRENT_CAMPAIGNS)
    op.create_index(
        "ix_campaign_history_current_status",
        "campaign_history",
        ["status"],
        postgresql_where=sa.text("valid_to IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_history_current_status", table_name="campaign_history")
    op.execute("DROP VIEW current_campaigns")
    op.execute("ALTER VIEW campaigns RENAME TO campaigns_open")
    op.execute("CREATE TABLE campaigns AS SELECT * FROM campaigns_open")
    op.execute("DROP VIEW campaigns_open")
    for name in ("provider", "account", "campaign_id", "version", "status", "status_raw",
                 "status_derived", "time_flags", "degraded", "raw", "content_hash",
                 "first_seen_at", "last_changed_at", "missed_listings"):  # fmt: skip
        op.alter_column("campaigns", name, nullable=False)
    for name, default in (("status_derived", "false"), ("time_flags", "'[]'::jsonb"),
                          ("degraded", "'[]'::jsonb"), ("missed_listings", "0")):  # fmt: skip
        op.alter_column("campaigns", name, server_default=sa.text(default))
    op.create_primary_key("pk_campaigns", "campaigns", ["provider", "account", "campaign_id"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.execute(_CURRENT_CAMPAIGNS)
    for name in ("list_hash", "missed_listings", "first_seen_at"):
        op.drop_column("campaign_history", name)
