"""URLs in the configuration, checked once at start-up so a bad one fails in one line.

Messages name what is wrong, never the URL: a URL may carry a password.

A database URL is read the way libpq reads it, not the way SQLAlchemy does:
the password runs to the *last* ``@`` before the host, so a pasted password
containing ``@``, ``:``, ``/`` or ``%`` still parses, and the libpq parameters
users paste (``sslmode``, ``sslrootcert``, ``application_name``,
``connect_timeout``, ``password``) are kept for the driver; any other parameter
is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = ["DatabaseUrl", "check_http_url", "parse_database_url"]

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
SSL_MODES: tuple[SslMode, ...] = (
    "disable", "allow", "prefer", "require", "verify-ca", "verify-full"
)  # fmt: skip
_SCHEMES = {"postgresql", "postgres", "postgresql+asyncpg"}
_PARAMETERS = (
    "sslmode", "sslrootcert", "application_name", "connect_timeout", "password", "host", "port",
)  # fmt: skip


def check_http_url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """``value`` if it is an absolute URL of one of ``schemes`` with a host and a valid port.

    Raises:
        ValueError: naming what is missing or wrong.
    """
    try:
        parts = urlsplit(value)
        port = parts.port  # reading it checks it
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({_reason(exc)})") from None
    if parts.scheme not in schemes:
        raise ValueError(f"must start with {' or '.join(s + '://' for s in schemes)}")
    if not parts.hostname:
        raise ValueError("has no host")
    if port == 0:
        raise ValueError("port 0 is not a port")
    return value


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A PostgreSQL URL taken apart; ``password`` and ``dsn`` are secrets."""

    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    sslmode: SslMode | None = None
    sslrootcert: str | None = None
    application_name: str | None = None
    connect_timeout: float | None = None

    def display(self) -> str:
        """The URL for logs: no password, no parameters."""
        user = f"{quote(self.user, safe='')}:***@" if self.user else ""
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{host}{port}/{quote(self.database or '', safe='')}"

    def secrets(self) -> frozenset[str]:
        """The password as given and as it may be printed: plain and percent-encoded."""
        if not self.password:
            return frozenset()
        return frozenset({self.password, quote(self.password, safe=""), quote(self.password)})


def parse_database_url(value: str) -> DatabaseUrl:
    """Take a PostgreSQL URL apart, libpq's way.

    Raises:
        ValueError: not a PostgreSQL URL, a bad port, or an unsupported parameter.
    """
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise ValueError("must start with postgresql:// (or postgres://)")
    authority, _, tail = _split_authority(rest)
    path, _, query = tail.partition("?")
    userinfo, at, hostport = authority.rpartition("@")
    user_text, colon, password_text = userinfo.partition(":")
    try:
        parts = urlsplit(f"postgresql://{hostport}")
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({_reason(exc)})") from None
    params: dict[str, str] = {}
    for key, item in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in _PARAMETERS:
            raise ValueError(
                f"parameter {key!r} is not supported (supported: {', '.join(_PARAMETERS)})"
            )
        params[key] = item
    sslmode = params.get("sslmode")
    if sslmode is not None and sslmode not in SSL_MODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
    timeout = params.get("connect_timeout")
    try:
        connect_timeout = None if timeout is None else float(timeout)
    except ValueError:
        raise ValueError("connect_timeout must be a number of seconds") from None
    password = unquote(password_text) if colon else None
    if "port" in params:
        if not params["port"].isdigit() or not 0 < int(params["port"]) < 65536:
            raise ValueError("not a valid URL (bad port)")
        port = int(params["port"])
    return DatabaseUrl(
        user=unquote(user_text) if at and user_text else None,
        password=params.get("password", password),
        host=params.get("host", parts.hostname),  # a host parameter may name a socket directory
        port=port,
        database=unquote(path.lstrip("/")) or None,
        sslmode=sslmode,
        sslrootcert=params.get("sslrootcert"),
        application_name=params.get("application_name"),
        connect_timeout=connect_timeout,
    )


def _split_authority(rest: str) -> tuple[str, str, str]:
    """Authority and the rest; the authority ends at the first "/" or "?" after its last "@"."""
    head, at, host_and_tail = rest.rpartition("@")
    cut = min(
        (i for i in (host_and_tail.find("/"), host_and_tail.find("?")) if i >= 0),
        default=len(host_and_tail),
    )
    authority = head + at + host_and_tail[:cut]
    return authority, "", host_and_tail[cut:]


def _reason(exc: ValueError) -> str:
    text = str(exc)
    if "out of range" in text or "invalid literal" in text or "Port" in text:
        return "bad port"
    if "IPv6" in text:
        return "unclosed IPv6 address"
    return "unreadable"
