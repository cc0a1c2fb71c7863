"""Probes around one run: CPU of the fleets and of PostgreSQL, statements, rows written.

CPU comes from ``/proc`` (Linux): a fleet's own ticks; PostgreSQL's are the
postmaster's and every live backend's, plus what exited backends left in the
postmaster's children counters. Rows written are ``pg_stat_user_tables``
deltas (inserted + updated + deleted), read once the run's backends have
reported them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def process_cpu(pid: int, *, children: bool = False) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


class PostgresCpu:
    """CPU seconds of one PostgreSQL server running on this machine."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster

    @classmethod
    async def find(cls, conn: asyncpg.Connection) -> PostgresCpu:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        fields = _stat(backend)
        return cls(int(fields[1]) if fields else None)  # the backend's parent

    def seconds(self) -> float | None:
        if self.postmaster is None:
            return None
        total = process_cpu(self.postmaster, children=True)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields is not None and int(fields[1]) == self.postmaster:
                    total += process_cpu(int(entry.name))
        return total


async def statements(conn: asyncpg.Connection, database: str) -> int | None:
    """Statements run in ``database`` since the last reset, or None where uncounted."""
    try:
        value = await conn.fetchval(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)",
            database,
        )
    except asyncpg.PostgresError:
        return None
    return int(value)


async def top_statements(
    conn: asyncpg.Connection, database: str, limit: int = 8
) -> list[dict[str, object]]:
    """The statements that took the server longest in ``database`` since the last reset."""
    try:
        rows = await conn.fetch(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query, calls, "
            "round(total_exec_time::numeric, 1) AS ms, rows FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) "
            "ORDER BY total_exec_time DESC LIMIT $2",
            database,
            limit,
        )
    except asyncpg.PostgresError:
        return []
    return [{**dict(r), "ms": float(r["ms"])} for r in rows]


async def reset_statements(conn: asyncpg.Connection) -> None:
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
    except asyncpg.PostgresError:
        return


async def table_writes(dsn: str) -> dict[str, int]:
    """Rows inserted, updated and deleted so far, per table of the database."""
    conn = await asyncpg.connect(dsn)
    try:
        previous: dict[str, int] | None = None
        for _ in range(20):  # backends report their counters as they exit
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            rows = await conn.fetch(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables"
            )
            current = {r["relname"]: int(r["n"]) for r in rows}
            if current == previous:
                return current
            previous = current
            await asyncio.sleep(0.25)
        return previous or {}
    finally:
        await conn.close()


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    changed = {name: after[name] - before.get(name, 0) for name in after}
    return {name: n for name, n in sorted(changed.items()) if n}
