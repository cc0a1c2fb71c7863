"""Values PostgreSQL (or the worker) cannot store faithfully, found before they are stored.

A provider's JSON is input we do not control. These break a whole transaction if
they reach PostgreSQL, so a record holding one is quarantined instead:

* a NUL character in a string or a key (``text`` and ``jsonb`` refuse it);
* a lone UTF-16 surrogate (``"\\ud800"``, valid JSON, not encodable as UTF-8);
* a number that is not finite (``NaN``, ``Infinity``, ``1e400``; JSON has none);
* a string longer than ``max_string_chars``;
* nesting deeper than ``max_depth``.

* an integer longer than Python reads in decimal (4 300 digits by default,
  ``sys.get_int_max_str_digits``): the JSON reader hands it over as an
  :class:`OversizedInteger`, never as a number.

Integers up to that length are kept exactly: ``jsonb`` stores them exactly, and
the columns that cannot (64-bit counters) degrade to null with a note instead.

:func:`safe_payload` turns any such record into something storable for
``sync_errors``: NULs and surrogates escaped (``\\u0000``, ``\\ud800``),
non-finite numbers as their names, long strings cut with their length and
SHA-256, deep nesting cut, and the whole capped at ``max_chars`` of JSON.
Both walk iteratively, so no depth can exhaust the stack.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from worker.domain.scrub import blank

__all__ = [
    "MAX_STORED_PAYLOAD",
    "PREVIEW_CHARS",
    "OversizedInteger",
    "find_poison",
    "safe_payload",
    "safe_text",
]

PREVIEW_CHARS = 200  # of a long string kept in a quarantined payload
MAX_STORED_PAYLOAD = 65_536  # characters of JSON kept of one quarantined payload


@dataclass(frozen=True, slots=True)
class OversizedInteger:
    """An integer literal too long to read as a number, kept as its length and digest.

    Reading one costs time quadratic in its length (the reason Python limits it),
    and no column or counter could use it; the record holding one is quarantined.
    """

    digits: int
    sha256: str

    @classmethod
    def of(cls, literal: str) -> OversizedInteger:
        """The stand-in for the JSON integer literal ``literal`` (sign included)."""
        return cls(len(literal.lstrip("-")), hashlib.sha256(literal.encode()).hexdigest()[:16])

    def __str__(self) -> str:
        return f"<integer of {self.digits} digits, sha256 {self.sha256}>"


def _problem(text: str, max_chars: int) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    if len(text) > max_chars:
        return f"is {len(text)} characters long, over the limit of {max_chars}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate"
    return None


def find_poison(raw: Any, *, max_string_chars: int, max_depth: int) -> tuple[str, str] | None:
    """The first unstorable value of ``raw`` as ``(dotted path, reason)``, or ``None``."""
    if _plainly_storable(raw, max_string_chars, max_depth):
        return None
    return _walk(raw, max_string_chars, max_depth)


def _walk(raw: Any, max_string_chars: int, max_depth: int) -> tuple[str, str] | None:
    stack: list[tuple[str, Any, int]] = [("", raw, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > max_depth:
            return safe_text(path), f"nested deeper than {max_depth} levels"
        if isinstance(value, str):
            problem = _problem(value, max_string_chars)
            if problem:
                return safe_text(path), f"string {problem}"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return safe_text(path), f"number {value!r} is not finite"
        elif isinstance(value, OversizedInteger):
            return safe_text(path), f"integer of {value.digits} digits is too long to read"
        elif isinstance(value, Mapping):
            for key, item in value.items():
                name = str(key)
                problem = _problem(name, max_string_chars)
                child = f"{path}.{name}" if path else name
                if problem:
                    return safe_text(child), f"key {problem}"
                stack.append((child, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value))
    return None


def _plainly_storable(raw: Any, max_chars: int, max_depth: int) -> bool:
    """A sufficient test, one C call and a few byte counts, that ``raw`` holds nothing
    :func:`find_poison` looks for; ``False`` means "walk it". orjson refuses lone
    surrogates, integers past 64 bits and (so told) dataclasses such as
    :class:`OversizedInteger`; a text no longer than ``max_chars`` holds no
    longer string or key; no more brackets than ``max_depth`` nest no deeper; a NUL
    is written ``\\u0000``; a non-finite float is written ``null``, so only a text
    with a ``null`` needs its floats looked at."""
    try:
        # A dataclass (an OversizedInteger) is refused, not written as an object.
        text = orjson.dumps(raw, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:
        return False
    return (
        len(text) <= max_chars
        and text.count(b"{") + text.count(b"[") <= max_depth
        and b"\\u0000" not in text
        and (b"null" not in text or _finite_floats(raw))
    )


def _finite_floats(raw: Any) -> bool:
    stack = [raw]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        elif kind is float and not math.isfinite(value):
            return False
    return True


def safe_text(text: str, limit: int = PREVIEW_CHARS) -> str:
    """``text`` with NULs and surrogates escaped, cut to ``limit`` characters (noted)."""
    escaped = text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
    if len(escaped) <= limit:
        return escaped
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{escaped[:limit]}…[{len(text)} chars, sha256 {digest}]"


def safe_payload(
    raw: Any,
    *,
    max_depth: int = 32,
    max_chars: int = MAX_STORED_PAYLOAD,
    secrets: Collection[str] = (),
) -> Any:
    """A copy of ``raw`` that PostgreSQL stores as ``jsonb`` whatever ``raw`` held.

    ``secrets`` are blanked from every string and key before anything is cut, so a
    secret that straddles a cut keeps no part of itself.
    """
    copied = _copy(raw, max_depth, secrets)
    text = json.dumps(copied, ensure_ascii=False, sort_keys=True)
    if len(text) <= max_chars:
        return copied
    return {
        "truncated": True,
        "chars": len(text),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "preview": text[:PREVIEW_CHARS],
    }


def _copy(raw: Any, max_depth: int, secrets: Collection[str]) -> Any:
    root: list[Any] = [None]
    stack: list[tuple[Any, list[Any] | dict[str, Any], int | str, int]] = [(raw, root, 0, 0)]
    while stack:
        value, parent, slot, depth = stack.pop()
        if depth > max_depth:
            parent[slot] = f"<nested deeper than {max_depth} levels>"  # type: ignore[index]
        elif isinstance(value, str):
            parent[slot] = safe_text(blank(value, secrets))  # type: ignore[index]
        elif isinstance(value, float) and not math.isfinite(value):
            parent[slot] = repr(value)  # type: ignore[index]
        elif isinstance(value, OversizedInteger):
            parent[slot] = str(value)  # type: ignore[index]
        elif isinstance(value, Mapping):
            node: dict[str, Any] = {}
            parent[slot] = node  # type: ignore[index]
            for key, item in value.items():
                name = safe_text(blank(str(key), secrets))
                node[name] = None
                stack.append((item, node, name, depth + 1))
        elif isinstance(value, list):
            items: list[Any] = [None] * len(value)
            parent[slot] = items  # type: ignore[index]
            stack.extend((item, items, i, depth + 1) for i, item in enumerate(value))
        else:
            parent[slot] = value  # type: ignore[index]
    return root[0]
