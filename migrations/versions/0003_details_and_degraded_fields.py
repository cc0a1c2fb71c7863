"""List-item fingerprints, degraded fields and deferred campaigns.

* ``campaigns.list_hash``: the fingerprint of a campaign's list item; while it
  is unchanged, its detail is not fetched again (NULL until the next change).
* ``degraded`` on ``campaigns`` and ``campaign_history``: notes on provider
  values stored as null instead of rejecting the record.
* ``sync_runs.deferred``: campaigns whose detail failed, kept as stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("list_hash", sa.Text(), nullable=True))
    for table in ("campaigns", "campaign_history"):
        op.add_column(
            table,
            sa.Column(
                "degraded",
                postgresql.JSONB(astext_type=sa.Text()),
                server_default=sa.text("'[]'::jsonb"),
                nullable=False,
            ),
        )
    op.add_column(
        "sync_runs",
        sa.Column("deferred", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sync_runs", "deferred")
    for table in ("campaign_history", "campaigns"):
        op.drop_column(table, "degraded")
    op.drop_column("campaigns", "list_hash")
