"""Known secret values blanked out of provider data before anything reads it.

A provider may echo what it was sent (an API key, a login token) inside a record:
in a name, a status, a field of its own. Whatever the worker stores or emits is
built from the record, so the record itself is scrubbed as it arrives: every
occurrence of a known secret, in any string or key at any depth, becomes
:data:`REDACTED`. ``campaigns``, history, events (``provider.schema_drift``
included) and ``sync_errors`` then never hold one.

A record without a secret (nearly every one) is returned as is, after one scan of
its JSON text; only a record that holds one is copied. Both walks are iterative,
so no nesting depth can exhaust the stack.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import orjson

__all__ = ["REDACTED", "blank", "redact", "scrub"]

REDACTED = "[REDACTED]"


def blank(text: str, secrets: Collection[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by :data:`REDACTED`.

    Give ``secrets`` longest first (``SecretValues`` iterates so): a secret that
    contains another is then blanked whole.
    """
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub(raw: Any, secrets: Collection[str]) -> Any:
    """``raw`` with every known secret blanked, or ``raw`` itself when it holds none."""
    if not secrets or not _mentions(raw, secrets):
        return raw
    return _blanked_copy(raw, secrets)


def _mentions(raw: Any, secrets: Collection[str]) -> bool:
    try:
        text = orjson.dumps(raw)
    except TypeError:  # past 64 bits, a lone surrogate, deeper than orjson goes: walk it
        return _walk_mentions(raw, secrets)
    # A secret appears in the JSON text as JSON writes it (quotes and backslashes escaped).
    return any(secret and orjson.dumps(secret)[1:-1] in text for secret in secrets)


def _walk_mentions(raw: Any, secrets: Collection[str]) -> bool:
    stack = [raw]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if blank(value, secrets) != value:
                return True
        elif isinstance(value, Mapping):
            stack.extend(value.values())
            stack.extend(k for k in value if isinstance(k, str))
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _blanked_copy(raw: Any, secrets: Collection[str]) -> Any:
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(raw, root, 0)]
    while stack:
        value, parent, slot = stack.pop()
        if isinstance(value, str):
            parent[slot] = blank(value, secrets)
        elif isinstance(value, Mapping):
            node: dict[Any, Any] = {}
            parent[slot] = node
            for key, item in value.items():
                name = blank(key, secrets) if isinstance(key, str) else key
                node[name] = None
                stack.append((item, node, name))
        elif isinstance(value, list):
            items: list[Any] = [None] * len(value)
            parent[slot] = items
            stack.extend((item, items, i) for i, item in enumerate(value))
        else:
            parent[slot] = value
    return root[0]


_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|authorization|signature)", re.I
)


def redact(value: Any, secrets: Collection[str] = frozenset()) -> Any:
    """Copy ``value`` with secret-looking keys and known secret strings blanked out.

    Keys whose name looks like a credential lose their value; any string that
    contains one of ``secrets`` has it replaced. Used before raw payloads reach
    ``sync_errors`` and before messages reach logs (``worker.observability.redaction``
    offers it to the adapters).
    """
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and _SECRET_KEY.search(k) and v
            else redact(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        value = blank(value, secrets)
    return value
