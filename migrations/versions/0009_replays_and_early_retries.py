"""A replay reaches a running consumer; a sink that answers again gets its waiting deliveries.

* ``event_consumers.epoch``: how many times ``events replay`` moved the cursor.
  A running consumer remembers the epoch it read; when it differs, it reads
  again from the stored cursor instead of overwriting it, and an
  acknowledgement of what it read before is not stored.
* ``webhook_deliveries.early_after``: a delivery whose last attempt failed at
  this time is tried again at once when the sink answers a later attempt with
  a success, instead of waiting for its retry slot. NULL: no success brings it
  forward (it never failed, or the receiver asked for a wait with Retry-After).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "event_consumers",
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "webhook_deliveries",
        sa.Column("early_after", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "early_after")
    op.drop_column("event_consumers", "epoch")
