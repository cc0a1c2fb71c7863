"""Database URLs and engines: the only place connection settings are turned into an engine."""

from __future__ import annotations

import contextlib
import json
import re
import ssl
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from worker.config.urls import parse_database_url
from worker.errors import ConfigError, StorageError

__all__ = [
    "Database",
    "async_url",
    "create_engine",
    "display_url",
    "fresh_database",
    "json_text",
    "json_value",
    "psql_display_url",
    "storage_errors",
]

#: What the runtime holds a database by; only storage knows it is an SQLAlchemy engine.
Database: TypeAlias = AsyncEngine

_DRIVER = "postgresql+asyncpg"
# libpq parameters carried in URL.query until the engine turns them into connect arguments.
_CARRIED = ("sslmode", "sslrootcert", "application_name", "connect_timeout")
_SOCKET = "host"  # a socket directory: in the authority it would read as the path


def async_url(url: str) -> URL:
    """Parse a PostgreSQL URL, libpq's way, and point it at the asyncpg driver.

    Accepts ``postgresql://`` and ``postgres://`` as users write them, a password
    with any characters, and the libpq parameters of
    :func:`~worker.config.urls.parse_database_url`.

    Raises:
        ConfigError: not a usable PostgreSQL URL (the message never repeats it).
    """
    try:
        parsed = parse_database_url(url)
    except ValueError as exc:
        raise ConfigError(f"database URL {exc}") from None
    carried = {
        name: str(value) for name in _CARRIED if (value := getattr(parsed, name)) is not None
    }
    socket_dir = parsed.host is not None and parsed.host.startswith("/")
    if socket_dir:
        carried[_SOCKET] = str(parsed.host)
    return URL.create(
        _DRIVER,
        username=parsed.user,
        password=parsed.password,
        host=None if socket_dir else parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=carried,
    )


def display_url(url: str | URL) -> str:
    """The URL with its password and parameters hidden, for logs and errors."""
    parsed = url if isinstance(url, URL) else async_url(url)
    socket_dir = {_SOCKET: parsed.query[_SOCKET]} if _SOCKET in parsed.query else {}
    shown = parsed.set(drivername="postgresql", query=socket_dir)
    return shown.render_as_string(hide_password=True)


def create_engine(
    url: str | URL, *, pool_size: int = 5, max_overflow: int | None = None
) -> AsyncEngine:
    """An asyncpg engine with a small pool that checks connections before use.

    It keeps up to ``pool_size`` connections open and opens up to ``max_overflow``
    more (default: ``pool_size``) while busy, closing those when they come back:
    at most ``pool_size + max_overflow`` per engine, which is what a server's
    ``max_connections`` must leave room for, per process.
    """
    parsed = url if isinstance(url, URL) else async_url(url)
    return create_async_engine(
        parsed.set(query={}),
        connect_args=_connect_args(parsed.query),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=True,
        json_serializer=json_text,
        json_deserializer=json_value,
    )


def _connect_args(query: Mapping[str, Any]) -> dict[str, Any]:
    """asyncpg's names for the libpq parameters a URL carried."""
    args: dict[str, Any] = {}
    mode, rootcert = query.get("sslmode"), query.get("sslrootcert")
    if rootcert is not None and mode not in ("disable", "allow", "prefer"):
        try:
            context = ssl.create_default_context(cafile=str(rootcert))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"database URL sslrootcert cannot be read ({exc})") from None
        context.check_hostname = mode == "verify-full"
        args["ssl"] = context
    elif mode is not None:
        args["ssl"] = str(mode)
    # Plan every execution for its own parameters: a statement the driver prepared
    # while a table was nearly empty (a first sync) could keep a cached generic plan
    # that scans the table for each id of a probe as the table grows (measured: a VOXO
    # first sync of 100 000 campaigns, 214 s of server CPU). Planning costs ~0.1 ms.
    settings = {"plan_cache_mode": "force_custom_plan"}
    if (name := query.get("application_name")) is not None:
        settings["application_name"] = str(name)
    args["server_settings"] = settings
    if (timeout := query.get("connect_timeout")) is not None:
        args["timeout"] = float(str(timeout))
    if (socket_dir := query.get(_SOCKET)) is not None:
        args["host"] = str(socket_dir)
    return args


# 20 digits or more may be an integer past 64 bits, which orjson reads as a float.
_LONG_NUMBER = re.compile(r"\d{20,}")


def json_value(text: str) -> Any:
    """Read a jsonb value: orjson, or the standard library where orjson would round."""
    return orjson.loads(text) if _LONG_NUMBER.search(text) is None else json.loads(text)


def json_text(value: Any) -> str:
    """JSON for jsonb columns: orjson (fast), or the standard library for what it refuses
    (integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Translate driver and connection errors into StorageError at the boundary."""
    try:
        yield
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise StorageError(
            f"{action} failed: {type(cause).__name__}: {_first_line(cause)}"
        ) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # Hot paths talk to the driver directly (see worker.storage.sql).
        raise StorageError(f"{action} failed: {type(exc).__name__}: {_first_line(exc)}") from exc
    except OSError as exc:
        raise StorageError(
            f"{action} failed: database unreachable ({exc.strerror or exc})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


async def fresh_database(server_url: str, name: str) -> str:
    """Drop and create the database ``name`` on the server; its URL (the demo starts empty)."""
    admin = create_engine(server_url)
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return async_url(server_url).set(database=name).render_as_string(hide_password=False)


def psql_display_url(url: str) -> str:
    """``url`` as psql takes it, password hidden."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=True)
