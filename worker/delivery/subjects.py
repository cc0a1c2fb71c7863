"""NATS subjects of change events: ``{prefix}.{provider}.{account}.{scope}.{kind}``.

A token keeps ``A-Z a-z 0-9 _ -``; every other byte of its UTF-8 form (``.``,
``*``, ``>``, whitespace, ``~`` itself, anything else) becomes ``~XX``, its
uppercase hex, so no value can add a token or a wildcard, and
:func:`unescape_token` gives the value back.
"""

from __future__ import annotations

__all__ = ["escape_token", "subject_for", "unescape_token"]

_KEPT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def escape_token(text: str) -> str:
    """``text`` as one subject token: bytes outside ``[A-Za-z0-9_-]`` become ``~XX``.

    Raises:
        ValueError: ``text`` is empty (NATS has no empty tokens).
    """
    if not text:
        raise ValueError("a subject token cannot be empty")
    return "".join(chr(b) if b in _KEPT else f"~{b:02X}" for b in text.encode())


def unescape_token(token: str) -> str:
    """The text :func:`escape_token` turns into ``token``; ValueError when there is none."""
    first, *escaped = token.split("~")
    try:
        raw = first.encode() + b"".join(bytes.fromhex(e[:2]) + e[2:].encode() for e in escaped)
        text: str | None = raw.decode()
    except ValueError:  # not hex, or not UTF-8
        text = None
    if not text or escape_token(text) != token:  # escape_token spells each text one way
        raise ValueError(f"not an escaped subject token: {token!r}")
    return text


def subject_for(prefix: str, provider: str, account: str, event_type: str) -> str:
    """The subject of an event: ``{prefix}.{provider}.{account}.{scope}.{kind}``.

    ``prefix`` is taken as it is (the settings allow one plain token only); the
    type is split at its first dot, so a subject always has five tokens.
    """
    scope, _, kind = event_type.partition(".")
    return ".".join([prefix, *(escape_token(t) for t in (provider, account, scope, kind))])
