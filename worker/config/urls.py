"""URLs in the configuration, checked once at start-up so a bad one fails in one line.

Messages name what is wrong, never the URL: a URL may carry a password. (What
a URL setting may carry, and how one given by reference is kept secret, is
:mod:`worker.config.secret_urls`.)

A database URL is read the way libpq reads it, not the way SQLAlchemy does: a
``?`` always starts the parameters, whatever follows (``@`` and ``/`` are legal
in a query, so ``?password=pa@ss/w0rd`` is a password); before it, the password
runs to the *last* ``@``, so a pasted password containing ``@``, ``:``, ``/``
or ``%`` still parses (a ``?``, ``&`` or ``#`` in it must be written ``%3F``,
``%26``, ``%23``). The libpq parameters users paste are kept for the driver and
checked; any other is refused, by name only if it is a libpq name (an unknown
one may be a piece of a password).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

__all__ = ["DatabaseUrl", "check_http_url", "parse_database_url"]

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
SSL_MODES: tuple[SslMode, ...] = (
    "disable", "allow", "prefer", "require", "verify-ca", "verify-full"
)  # fmt: skip
_SCHEMES = {"postgresql", "postgres", "postgresql+asyncpg"}
_PARAMETERS = (
    "sslmode", "sslrootcert", "application_name", "connect_timeout", "password", "host", "port",
    "user", "dbname",
)  # fmt: skip
# Every connection parameter libpq 16 knows: only these names are ever echoed in an error.
_LIBPQ = frozenset(_PARAMETERS) | {
    "hostaddr", "passfile", "require_auth", "channel_binding", "client_encoding", "options",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "requiressl",
    "sslcompression", "sslcert", "sslkey", "sslpassword", "sslcertmode", "sslcrl", "sslcrldir",
    "sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version",
    "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs",
    "load_balance_hosts", "sslnegotiation",
}  # fmt: skip
_UNKNOWN_PARAMETER = (
    "has a parameter libpq does not know (its name is not shown: it may be part of a "
    "password; write ?, & and # in a password as %3F, %26 and %23)"
)


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
    """A PostgreSQL URL taken apart; ``password`` is a secret, in every spelling."""

    user: str | None
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    database: str | None
    sslmode: SslMode | None = None
    sslrootcert: str | None = None
    application_name: str | None = None
    connect_timeout: float | None = None
    # Every password the URL holds (before the host, as ?password=), as written and decoded.
    spellings: tuple[str, ...] = field(default=(), repr=False)

    def display(self) -> str:
        """The URL for logs: no password, no parameters."""
        user = f"{quote(self.user, safe='')}:***@" if self.user else ""
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{host}{port}/{quote(self.database or '', safe='')}"

    def secrets(self) -> frozenset[str]:
        """The password as given, as written in the URL and as it may be printed."""
        if not self.password:
            return frozenset()
        printed = {self.password, quote(self.password, safe=""), quote(self.password)}
        return frozenset(printed | {s for s in self.spellings if s})


def parse_database_url(value: str) -> DatabaseUrl:
    """Take a PostgreSQL URL apart, libpq's way.

    Raises:
        ValueError: not a PostgreSQL URL, a bad port, or a parameter that is
            unknown, unsupported, repeated or invalid (named if it is libpq's).
    """
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise ValueError("must start with postgresql:// (or postgres://)")
    head, _, query = rest.partition("?")
    params, written = _parameters(query)
    userinfo, at, hostpath = head.rpartition("@")
    hostport, _, path = hostpath.partition("/")
    user_text, colon, password_text = userinfo.partition(":")
    try:
        parts = urlsplit(f"postgresql://{hostport}")
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({_reason(exc)})") from None
    if "port" in params:
        if not params["port"].isdigit() or not 0 < int(params["port"]) < 65536:
            raise ValueError("not a valid URL (bad port)")
        port = int(params["port"])
    return DatabaseUrl(
        user=params.get("user", unquote(user_text) if at and user_text else None),
        # As in libpq, ?password= wins over a password before the host.
        password=params.get("password", unquote(password_text) if colon else None),
        host=params.get("host", parts.hostname),  # a host parameter may name a socket directory
        port=port,
        database=params.get("dbname", unquote(path) or None),
        sslmode=_sslmode(params.get("sslmode")),
        sslrootcert=params.get("sslrootcert"),
        application_name=params.get("application_name"),
        connect_timeout=_seconds(params.get("connect_timeout")),
        spellings=(password_text, unquote(password_text), written.get("password", "")),
    )


def _parameters(query: str) -> tuple[dict[str, str], dict[str, str]]:
    """The parameters decoded, and as written; values hold any character but ``&``.

    libpq decodes ``%XX`` only: a ``+`` stays a plus, unlike in a form.
    """
    params: dict[str, str] = {}
    written: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        raw_name, equals, raw = item.partition("=")
        name = unquote(raw_name)
        if name not in _LIBPQ or not equals:
            raise ValueError(_UNKNOWN_PARAMETER)
        if name not in _PARAMETERS:
            raise ValueError(
                f"parameter {name!r} is not supported (supported: {', '.join(_PARAMETERS)})"
            )
        if name in params:
            raise ValueError(f"parameter {name!r} is given twice")
        params[name], written[name] = unquote(raw), raw
    return params, written


def _sslmode(value: str | None) -> SslMode | None:
    for mode in SSL_MODES:
        if value == mode:
            return mode
    if value is not None:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
    return None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("connect_timeout must be a number of seconds above 0")
    return seconds


def _reason(exc: ValueError) -> str:
    text = str(exc)
    if "out of range" in text or "invalid literal" in text or "Port" in text:
        return "bad port"
    if "IPv6" in text:
        return "unclosed IPv6 address"
    return "unreadable"
