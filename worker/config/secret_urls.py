"""URL settings that may carry a credential: refused inline, kept secret by reference.

A URL setting (a target's ``base_url``, a webhook's ``url``, ``nats.url``) is
either *inline*, and then public: printed whole by ``config show``, stored whole
in ``webhook_sinks.url``, logged by httpx; so it is refused when it carries a
credential (a user or password before the host, or a query parameter named like
one: ``token``, ``access_token``, ``api_key``, ``sig``, ``X-Amz-Signature``...),
with an error that names the key and the parameter, never the value. Or it is
given *by reference*, ``{env: NAME}`` or ``{file: PATH}``, like any secret, and
it becomes a :class:`SecretUrl`: the sender uses it whole, but ``config show``,
the database and error messages see its origin only (``https://host:port/***``),
and its user part, path, query and credential values are secrets the log filter
blanks. :func:`redact_url_credentials` is the net under that, for URLs met at
run time: any user part and any credential-named query value in a log line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from worker.config.urls import check_http_url
from worker.domain.records import REDACTED

__all__ = [
    "SecretUrl",
    "printable_url",
    "redact_url_credentials",
    "url_credential",
    "url_secrets",
    "url_setting",
]

# Query parameter names that carry a credential: "token", "access_token", "X-Amz-Signature"...
_CREDENTIAL_NAME = re.compile(
    r"secret|token|passw|pwd|api[_-]?key|access[_-]?key|private[_-]?key|auth|signature"
    r"|credential|session|jwt|hmac|^(key|sig|pass|pw)$",
    re.I,
)
_PRINTABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_BY_REFERENCE = "give the whole URL by reference, {env: NAME} or {file: PATH}, to keep it secret"
# In any text: the user part of a URL, and a credential-named query parameter's value.
_USERINFO = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^\s/?#@:]*)(?::(?P<password>[^\s/?#@]*))?@",
    re.I,
)
HIDDEN = "***"  # how display forms hide a password: nothing left to blank
_QUERY_VALUE = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.%-]+)=)(?P<value>[^\s&#;\"'<>]+)")


class SecretUrl(str):
    """A URL given by reference: the real URL to its users, its origin to everyone else."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"SecretUrl({self.display()!r})"

    def display(self) -> str:
        """Scheme, host and port: the rest (user part, path, query) may be the secret."""
        parts = urlsplit(self)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:  # not checked (not from the config): show less, never more
            return f"{parts.scheme}://{host}/***"
        return f"{parts.scheme}://{host}{port}/***"

    def secrets(self) -> frozenset[str]:
        """The URL and each part of it that may be the secret, as written and decoded."""
        parts = urlsplit(self)
        found = {str(self), parts.query}
        found.add(parts.password or parts.username or "")  # a user part alone is a token
        if parts.path.strip("/"):
            found.add(parts.path)  # a Slack-style URL: the path is the key
        for item in parts.query.split("&"):
            name, _, text = item.partition("=")
            if _CREDENTIAL_NAME.search(unquote(name)):
                found.add(text)  # others ("v=2") are blanked with the query as a whole
        return frozenset(s for text in found if text for s in (text, unquote(text)))


def url_credential(value: str) -> str | None:
    """What credential ``value`` carries, named but not shown, or ``None``."""
    parts = urlsplit(value)
    if "@" in parts.netloc:
        return "a user or password before the host"
    for text in (parts.query, parts.fragment):
        for item in filter(None, text.split("&")):
            name, equals, _ = item.partition("=")
            if _CREDENTIAL_NAME.search(unquote(name)):
                if equals and _PRINTABLE_NAME.fullmatch(name):
                    return f"a credential in query parameter {name!r}"
                return "a credential in its query"
    return None


def url_setting(value: Any, schemes: tuple[str, ...], resolve: Callable[[Any], SecretStr]) -> str:
    """A URL setting's value: an inline URL without credentials, or a :class:`SecretUrl`
    resolved by ``resolve`` from ``{env: NAME}`` or ``{file: PATH}``.

    Raises:
        ValueError: a bad URL, or a credential inline (named, never shown).
    """
    if isinstance(value, SecretUrl):
        return value
    if isinstance(value, str):
        check_http_url(value, schemes)
        if (credential := url_credential(value)) is not None:
            hint = "; or set nats.user and nats.password" if "nats" in schemes else ""
            raise ValueError(f"carries {credential}: {_BY_REFERENCE}{hint}")
        return value
    if not isinstance(value, dict):
        raise ValueError("must be a URL, or a reference {env: NAME} or {file: PATH}")
    return SecretUrl(check_http_url(resolve(value).get_secret_value(), schemes))


def printable_url(value: str) -> str:
    """``value`` as logs, tables and ``config show`` may print it."""
    if isinstance(value, SecretUrl):
        return value.display()
    if url_credential(value) is not None:  # not from the config: check it all the same
        return SecretUrl(value).display()
    return value


def url_secrets(*models: object) -> frozenset[str]:
    """The secret parts of every :class:`SecretUrl` among the attributes of ``models``."""
    return frozenset(
        s
        for model in models
        for value in vars(model).values()
        if isinstance(value, SecretUrl)
        for s in value.secrets()
    )


def redact_url_credentials(text: str) -> str:
    """``text`` with the user part of every URL and credential-named query values blanked:
    the net under the known secrets, for URLs the worker was handed at run time."""
    if "@" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(_blank_userinfo, text)
    return _QUERY_VALUE.sub(
        lambda m: f"{m['head']}{REDACTED}" if _CREDENTIAL_NAME.search(unquote(m["name"])) else m[0],
        text,
    )


def _blank_userinfo(match: re.Match[str]) -> str:
    password = match["password"]
    if password is None:  # a user part alone is a token ("https://TOKEN@host")
        return f"{match['scheme']}{REDACTED}@"
    if password == HIDDEN:  # already hidden: a database URL's display form
        return match[0]
    return f"{match['scheme']}{match['user']}:{REDACTED}@"
