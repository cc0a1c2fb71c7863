"""A gap-free outbox order and durable consumers.

* ``campaign_events.xid``: the writing transaction's ``xid8``; readers follow
  the order (xid, id) and pass only events below ``pg_snapshot_xmin`` of their
  snapshot, so an event committed late is never skipped. Existing rows get the
  migration's own xid (they are all committed; their id order is kept).
* ``event_consumers``: one durable cursor per named consumer, with a lease so
  one process at a time receives its events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class XID8(sa.types.UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, as this revision creates it (frozen here)."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


def upgrade() -> None:
    op.add_column(
        "campaign_events",
        sa.Column("xid", XID8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
    )
    op.create_index("ix_campaign_events_position", "campaign_events", ["xid", "id"])
    op.create_table(
        "event_consumers",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cursor_xid", XID8(), server_default=sa.text("'0'::xid8"), nullable=False),
        sa.Column("cursor_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("types", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("providers", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("lease_token", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_consumers")),
    )


def downgrade() -> None:
    op.drop_table("event_consumers")
    op.drop_index("ix_campaign_events_position", table_name="campaign_events")
    op.drop_column("campaign_events", "xid")
