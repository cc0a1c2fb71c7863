"""Roles for the database's other users: readers (reporting) and subscribers (the Python API).

:func:`grant_reader` makes a role that reads every campaign-sync table and view
and writes none; :func:`grant_subscriber` one that runs ``worker.subscribe``:
it reads the events and keeps its consumers' cursors in ``event_consumers``,
and writes nothing else. Both are ``NOLOGIN``: an operator grants them to a
login role (``GRANT campaign_sync_reader TO grafana``), so no password is ever
made here.

A role that could write more than it is granted, by any path, is refused, since
revoking its own privileges would not stop it:

* a superuser; a role with ``CREATEROLE`` (it may grant itself other roles: any
  role before PostgreSQL 16, those it administers since);
* the owner of a campaign-sync table, view or sequence, or of the schema (which
  may drop them), or a member of that owner by any path. Membership counts with
  or without ``INHERIT``: ``SET ROLE`` needs only membership;
* a member (by any path) of a role that may write one of them, or any role when
  ``PUBLIC`` may: ``INSERT``, ``UPDATE``, ``DELETE``, ``TRUNCATE`` or ``TRIGGER``
  (a trigger runs as whoever writes: the worker) on a table or view, ``USAGE``
  or ``UPDATE`` on a sequence; beyond what the command itself grants.

``BYPASSRLS`` is not refused: it lifts row-level security policies, which
campaign-sync does not define, and grants no write. The check runs after the
grants, in the same transaction, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worker.errors import ConfigError, StorageError
from worker.storage.engine import storage_errors
from worker.storage.reporting import READER_ROLE, VIEWS
from worker.storage.tables import campaign_events, event_consumers, metadata

__all__ = ["SUBSCRIBER_ROLE", "grant_reader", "grant_subscriber"]

SUBSCRIBER_ROLE = "campaign_sync_subscriber"
# What worker.subscribe reads: the schema's revision (it checks it), the events, the cursors.
_SUBSCRIBER_READS = ("alembic_version", campaign_events.name, event_consumers.name)
# worker.storage.consumers inserts a consumer by name and updates the rest of its row.
_CONSUMER_KEY = ("name", "created_at")
# Lowercase only: the role then reads the same quoted or not (GRANT x TO grafana).
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = frozenset({"public", "none", "current_role", "current_user", "session_user"})


def _role(role: str) -> str:
    if not _ROLE_NAME.fullmatch(role) or role.startswith("pg_") or role in _RESERVED:
        raise ConfigError(
            f"role name {role[:80]!r} is not allowed: use lowercase letters, digits and _ "
            "(at most 63, not starting with a digit or pg_)"
        )
    return role


async def grant_reader(engine: AsyncEngine, role: str = READER_ROLE) -> None:
    """Create ``role`` if missing (NOLOGIN) and let it read, never write, the schema.

    Grants CONNECT on the database, USAGE on the schema and only SELECT on every
    table and view of campaign-sync (after revoking anything else the role held
    on them), plus SELECT on tables and views that the connected user creates in
    the schema later (default privileges: later migrations run as that user).
    Idempotent; safe when another session creates the same role at once.

    Raises:
        ConfigError: ``role`` is not a plain lowercase identifier (or is reserved),
            or it could write (see the module docstring); nothing is granted then.
        StorageError: the schema is not migrated, or the user may not create roles
            or grant on these objects.
    """
    await _grant(engine, _role(role), reads=None, cursors=False)


async def grant_subscriber(engine: AsyncEngine, role: str = SUBSCRIBER_ROLE) -> None:
    """Create ``role`` if missing (NOLOGIN) and let it run ``worker.subscribe``, nothing more.

    Grants CONNECT, USAGE on the schema, SELECT on ``alembic_version``,
    ``campaign_events`` and ``event_consumers``, INSERT of a consumer's name and
    UPDATE of its cursor and lease columns in ``event_consumers`` (after revoking
    anything else the role held on campaign-sync's objects). Privileges are per
    table, not per row: such a role may move any consumer's cursor, the worker's
    own (``webhook:<sink>``, ``nats:<stream>``) included. Idempotent; run it again
    after an upgrade.

    Raises:
        ConfigError: as :func:`grant_reader`.
        StorageError: as :func:`grant_reader`.
    """
    await _grant(engine, _role(role), reads=_SUBSCRIBER_READS, cursors=True)


async def _grant(
    engine: AsyncEngine, role: str, *, reads: Sequence[str] | None, cursors: bool
) -> None:
    """SELECT on ``reads`` (None: every object, and later tables by default privileges);
    with ``cursors``, the consumer writes of ``worker.storage.consumers``."""
    quote = engine.dialect.identifier_preparer.quote  # only where needed (a keyword, say)
    name = quote(role)
    with storage_errors(f"granting access to role {role}"):
        async with engine.begin() as conn:
            schema, database = (
                await conn.execute(text("SELECT current_schema(), current_database()"))
            ).one()

            def qualified(names: Sequence[str]) -> list[str]:
                return [f"{quote(schema)}.{quote(n)}" for n in names]

            objects = qualified(
                [*(t.name for t in metadata.sorted_tables), "alembic_version", *VIEWS]
            )
            await _require_views(conn, qualified(VIEWS))
            sequences = list((await conn.execute(_SEQUENCES, {"names": objects})).scalars())
            # Roles are cluster-wide: another session may create this one concurrently.
            await conn.execute(
                text(
                    "DO $$ BEGIN "
                    f"IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') "
                    f"THEN CREATE ROLE {name} NOLOGIN; END IF; "
                    "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                )
            )
            readable = objects if reads is None else qualified(reads)
            statements = [
                f"GRANT CONNECT ON DATABASE {quote(database)} TO {name}",
                f"GRANT USAGE ON SCHEMA {quote(schema)} TO {name}",
                f"REVOKE ALL ON TABLE {', '.join(objects)} FROM {name}",
            ]
            if sequences:
                statements.append(f"REVOKE ALL ON SEQUENCE {', '.join(sequences)} FROM {name}")
            statements.append(f"GRANT SELECT ON TABLE {', '.join(readable)} TO {name}")
            if reads is None:
                statements.append(
                    f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quote(schema)} GRANT SELECT ON TABLES "
                    f"TO {name}"
                )
            if cursors:
                (table,) = qualified([event_consumers.name])
                key = ", ".join(map(quote, _CONSUMER_KEY))
                rest = ", ".join(
                    quote(c.name) for c in event_consumers.c if c.name not in _CONSUMER_KEY
                )
                statements += [
                    f"GRANT INSERT ({key}) ON TABLE {table} TO {name}",
                    f"GRANT UPDATE ({rest}) ON TABLE {table} TO {name}",
                ]
            for statement in statements:
                await conn.execute(text(statement))
            writes = [event_consumers.name] if cursors else []
            why = await _write_path(conn, role, [*objects, *sequences], writes)
            if why is not None:
                raise ConfigError(
                    f"role {role} can write campaign-sync's tables: {why}; name a role that cannot"
                )


_MISSING = text("SELECT v FROM unnest(CAST(:names AS text[])) AS v WHERE to_regclass(v) IS NULL")
# The sequences behind the objects' serial and identity columns.
_SEQUENCES = text(
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(s.relname) "
    "FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace "
    "WHERE s.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::regclass "
    "AND d.deptype IN ('a', 'i') "
    "AND d.refobjid IN (SELECT to_regclass(v) FROM unnest(CAST(:names AS text[])) AS v) "
    "ORDER BY 1"
)
_ATTRIBUTES = text("SELECT rolsuper, rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = :role")
# The objects (:names, schema-qualified) and the schema, each with its kind and owner.
_OBJECTS = (
    "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence' ELSE 'table' END "
    "AS kind, c.relname AS name, c.relowner AS owner, c.oid FROM pg_catalog.pg_class c "
    "WHERE c.oid IN (SELECT to_regclass(v) FROM unnest(CAST(:names AS text[])) AS v) "
    "UNION ALL SELECT 'schema', n.nspname, n.nspowner, n.oid FROM pg_catalog.pg_namespace n "
    "WHERE n.nspname = current_schema()"
)
# An owner the role can become (a role is a member of itself); objects before the schema.
_OWNED = text(
    "SELECT o.kind, o.name, r.rolname FROM (" + _OBJECTS + ") AS o "  # noqa: S608 - constants
    "JOIN pg_catalog.pg_roles r ON r.oid = o.owner "
    "WHERE pg_has_role(:role, o.owner, 'MEMBER') ORDER BY o.kind = 'schema', o.name LIMIT 1"
)
# A role it can become, or PUBLIC, that may write an object beyond :writes; PUBLIC first.
_WRITER = text(
    "SELECT o.kind, o.name, m.rolname FROM (" + _OBJECTS + ") AS o CROSS JOIN ("  # noqa: S608
    "SELECT rolname FROM pg_catalog.pg_roles WHERE pg_has_role(:role, oid, 'MEMBER') "
    "UNION ALL SELECT 'public') AS m "
    "WHERE CASE o.kind WHEN 'schema' THEN false "
    "WHEN 'sequence' THEN has_sequence_privilege(m.rolname, o.oid, 'USAGE, UPDATE') "
    "ELSE has_table_privilege(m.rolname, o.oid, 'DELETE, TRUNCATE, TRIGGER') "
    "OR (o.name <> ALL(CAST(:writes AS text[])) "
    "AND has_any_column_privilege(m.rolname, o.oid, 'INSERT, UPDATE')) END "
    "ORDER BY m.rolname <> 'public', m.rolname = :role, o.name LIMIT 1"
)


async def _require_views(conn: AsyncConnection, names: list[str]) -> None:
    """Raise StorageError unless every view (schema-qualified, quoted) exists."""
    missing = (await conn.execute(_MISSING, {"names": names})).scalars().all()
    if missing:
        raise StorageError(
            f"the views are missing ({', '.join(missing)}): run campaign-sync migrate"
        )


async def _write_path(
    conn: AsyncConnection, role: str, objects: list[str], writes: Sequence[str]
) -> str | None:
    """Why ``role`` could write beyond ``writes`` (see the module docstring), or None."""
    superuser, createrole = (await conn.execute(_ATTRIBUTES, {"role": role})).one()
    if superuser:
        return "it is a superuser"
    if createrole:
        return "it has CREATEROLE, so it may grant itself other roles"
    owned = (await conn.execute(_OWNED, {"role": role, "names": objects})).first()
    if owned is not None:
        kind, obj, owner = owned
        drop = " (and may drop its tables)" if kind == "schema" else ""
        if owner == role:
            return f"it owns {kind} {obj}{drop}"
        return (
            f"it is a member of {owner}, which owns {kind} {obj}{drop} "
            f"(SET ROLE {owner} needs no INHERIT)"
        )
    found = (
        await conn.execute(_WRITER, {"role": role, "names": objects, "writes": list(writes)})
    ).first()
    if found is None:
        return None
    kind, obj, writer = found
    if writer == "public":
        return f"PUBLIC may write {kind} {obj} (revoke that grant)"
    if writer == role:
        return f"it may write {kind} {obj}"
    return f"it is a member of {writer}, which may write {kind} {obj}"
