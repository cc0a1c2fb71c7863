"""PostgreSQL's ``xid8`` column type, which SQLAlchemy does not know.

An event's ``xid`` is the id of the transaction that wrote it, what orders the
event feed (docs/architecture.md); consumers' cursors and webhook deliveries keep
it too. Reflection must know the type as well, or Alembic's drift check would
not read those columns.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql
from sqlalchemy.types import UserDefinedType

__all__ = ["XID8"]


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (``xid8``), read and written as an int."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


postgresql.base.ischema_names["xid8"] = XID8
