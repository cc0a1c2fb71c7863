"""Set-based inserts of a page's rows, sent to the driver as one prepared statement each.

A page's new versions, history rows and events are each one ``INSERT … SELECT
FROM unnest(…)`` with one array parameter per column: the statement text is
fixed, so the driver prepares it once per connection, and a page of any size is
one round trip with no SQLAlchemy statement building or per-row parameter
processing. The SQL is built once, at import, from the table metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.errors import StorageError
from worker.storage.engine import json_text

__all__ = ["BulkInsert"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


class BulkInsert:
    """``INSERT INTO table (columns) SELECT … FROM unnest(arrays) [tail]`` for rows as dicts.

    ``tail`` is constant SQL (``ON CONFLICT …``, ``RETURNING …``) that sees the
    target table by its name and the new row as ``excluded``. Rows go in, and
    serial ids are taken, in the order given.
    """

    def __init__(self, table: Table, columns: Sequence[str], tail: str = "") -> None:
        self.columns = tuple(columns)
        self._json = tuple(isinstance(table.c[name].type, JSONB) for name in self.columns)
        arrays = ", ".join(
            f"${i}::{table.c[name].type.compile(dialect=_DIALECT)}[]"
            for i, name in enumerate(self.columns, 1)
        )
        names = ", ".join(self.columns)
        # Built from table metadata only, never from input.
        self.sql = (
            f"INSERT INTO {table.name} ({names}) "  # noqa: S608
            f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY "
            f"AS u({names}, ordinality) ORDER BY ordinality {tail}"
        ).strip()

    async def run(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Insert ``rows`` in ``conn``'s transaction, which must have begun (a statement
        has run in it); returns what ``tail`` returns."""
        arrays = [
            [json_text(row[name]) if is_json and row[name] is not None else row[name]
             for row in rows]
            for name, is_json in zip(self.columns, self._json, strict=True)
        ]  # fmt: skip
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy begins lazily: a first statement through the driver would autocommit.
            raise StorageError(f"{self.sql[:40]}…: run before the transaction began (a bug)")
        found: list[Any] = await driver.fetch(self.sql, *arrays)
        return found
