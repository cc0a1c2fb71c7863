"""Leases and schedule per target, vanished versions, fingerprints of the provider's record.

* ``sync_targets``: one row per target with its lease (owner, fencing token,
  expiry) and its schedule (interval, next due slot, last outcome).
* ``sync_runs`` gains ``owner``, ``lease_token`` and ``vanished``.
* ``campaigns.missed_listings`` counts complete listings in a row without the
  campaign; ``campaign_history.vanished_at`` marks the version that records a vanish.
* ``content_hash`` becomes the fingerprint of the provider's record alone
  (frozen below as ``_fingerprint``): every stored value is
  recomputed from the stored raw payload, so the first cycle after this upgrade
  writes nothing for campaigns whose provider data did not change. A downgrade
  keeps the new values (the old code would see each campaign change once).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:40:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def _fingerprint(raw: Any) -> str:
    """The record fingerprint as this revision defined it, frozen here so that later changes
    to the worker never change what this migration writes: SHA-256 of the record as
    sorted-key compact JSON (orjson's; the standard library's for what orjson refuses, such
    as integers past 64 bits). Stored records are at most 32 levels deep, so no depth
    fallback is needed.
    """
    try:
        body = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        body = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(body).hexdigest()


def upgrade() -> None:
    op.create_table(
        "sync_targets",
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_token", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_run_id", sa.BigInteger(), nullable=True),
        sa.Column("takeovers", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("provider", "account", name=op.f("pk_sync_targets")),
    )
    op.add_column("sync_runs", sa.Column("owner", sa.Text(), nullable=True))
    op.add_column("sync_runs", sa.Column("lease_token", sa.BigInteger(), nullable=True))
    op.add_column(
        "sync_runs",
        sa.Column("vanished", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        "ix_sync_runs_running",
        "sync_runs",
        ["provider", "account"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.add_column(
        "campaigns",
        sa.Column("missed_listings", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "campaign_history", sa.Column("vanished_at", sa.DateTime(timezone=True), nullable=True)
    )
    _refingerprint("campaigns", ("provider", "account", "campaign_id"))
    _refingerprint("campaign_history", ("id",))


def _refingerprint(name: str, key: tuple[str, ...]) -> None:
    """Recompute ``content_hash`` from ``raw`` for every row, in keyset batches."""
    table = sa.table(
        name,
        *(sa.column(column) for column in key),
        sa.column("raw", postgresql.JSONB()),
        sa.column("content_hash", sa.Text()),
    )
    key_columns = [table.c[column] for column in key]
    bind = op.get_bind()
    after: tuple[object, ...] | None = None
    while True:
        query = sa.select(*key_columns, table.c.raw).order_by(*key_columns).limit(_BATCH)
        if after is not None:
            query = query.where(sa.tuple_(*key_columns) > sa.tuple_(*after))
        rows = bind.execute(query).all()
        if not rows:
            return
        bind.execute(
            sa.update(table)
            .where(*(column == sa.bindparam(f"k_{column.name}") for column in key_columns))
            .values(content_hash=sa.bindparam("fingerprint")),
            [
                {
                    **{f"k_{column}": row[i] for i, column in enumerate(key)},
                    "fingerprint": _fingerprint(row.raw),
                }
                for row in rows
            ],
        )
        after = tuple(rows[-1][: len(key)])


def downgrade() -> None:
    op.drop_column("campaign_history", "vanished_at")
    op.drop_column("campaigns", "missed_listings")
    op.drop_index("ix_sync_runs_running", table_name="sync_runs")
    op.drop_column("sync_runs", "vanished")
    op.drop_column("sync_runs", "lease_token")
    op.drop_column("sync_runs", "owner")
    op.drop_table("sync_targets")
