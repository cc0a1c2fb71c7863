"""Webhook sinks and their deliveries.

* ``webhook_sinks``: one row per configured sink: disabled or not (and why),
  last success, failing since.
* ``webhook_deliveries``: one row per (sink, event): the signed body, status
  (pending, delivered, dead), attempts, when the next is due, and a short claim
  (``locked_until``) so replicas never send the same attempt at once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class XID8(sa.types.UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, as this revision creates it (frozen here)."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


def _tz(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_sinks",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        _tz("disabled_at"),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        _tz("last_success_at"),
        _tz("failing_since"),
        _tz("created_at", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_webhook_sinks")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sink", sa.Text(), nullable=False),
        sa.Column("event_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("event_xid", XID8(), nullable=False),
        sa.Column("event_row", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _tz("next_attempt_at", nullable=False),
        _tz("locked_until"),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _tz("created_at", nullable=False),
        _tz("delivered_at"),
        _tz("dead_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("sink", "event_id", name=op.f("uq_webhook_deliveries_sink_event_id")),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["sink", "status", "event_xid", "event_row"],
    )
    op.create_index(
        "ix_webhook_deliveries_campaign",
        "webhook_deliveries",
        ["sink", "provider", "account", "campaign_id", "event_xid", "event_row"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_campaign", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_sinks")
