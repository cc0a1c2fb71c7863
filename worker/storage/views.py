"""The views the migrations make, described for the queries that read them.

``campaigns`` (migration 0010) is the open ``campaign_history`` rows with the
columns the table of that name had (``last_changed_at`` is the open row's
``valid_from``). Its own ``MetaData``: Alembic's drift check compares the tables
of :data:`worker.storage.tables.metadata`, and a view is none.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

from worker.storage.tables import campaign_columns, tz_column

__all__ = ["campaigns"]

campaigns = Table(
    "campaigns",
    MetaData(),
    *campaign_columns(),
    tz_column("first_seen_at", nullable=False),
    tz_column("last_changed_at", nullable=False),
    tz_column("vanished_at"),
    Column("missed_listings", Integer, nullable=False),
    Column("list_hash", Text),
)
