"""Periodic full detail refresh.

* ``sync_targets.last_full_refresh_at``: when the last cycle that read every
  campaign's detail (changed or not) succeeded; the next one is due
  ``detail_refresh_interval`` seconds later (NULL: due now).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sync_targets",
        sa.Column("last_full_refresh_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("sync_targets", "last_full_refresh_at")
