"""Database URLs and engines: the only place connection settings are turned into an engine."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from worker.errors import ConfigError, StorageError

__all__ = ["async_url", "create_engine", "display_url", "json_text", "json_value", "storage_errors"]

_DRIVERLESS = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}


def async_url(url: str) -> URL:
    """Parse a PostgreSQL URL and point it at the asyncpg driver.

    Accepts ``postgresql://`` and ``postgres://`` as users write them.

    Raises:
        ConfigError: not a PostgreSQL URL (the message never repeats a password).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("database URL is not a valid URL") from None
    if parsed.drivername in _DRIVERLESS:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ConfigError(
            f"database URL must be postgresql://..., got driver {parsed.drivername!r}"
        )
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and errors."""
    return (url if isinstance(url, URL) else async_url(url)).render_as_string(hide_password=True)


def create_engine(url: str | URL, *, pool_size: int = 5) -> AsyncEngine:
    """An asyncpg engine with a small pool that checks connections before use."""
    return create_async_engine(
        url if isinstance(url, URL) else async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=json_text,
        json_deserializer=json_value,
    )


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
