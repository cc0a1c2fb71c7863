"""Reading a provider's HTTP response: status classes, ``Retry-After`` and error summaries.

Shared by :class:`~worker.providers.base.ProviderHttp` and login flows that see
responses before it does (VOXO). Messages are built from the method, the path
and the status, plus a summary of the error body that never copies the body
itself, so a credential echoed by a server cannot reach a message.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from worker.domain.poison import OversizedInteger, safe_text
from worker.domain.retry_after import parse_retry_after
from worker.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from worker.observability.redaction import redact

__all__ = [
    "RETRYABLE_STATUS",
    "JsonTooDeep",
    "decode_response",
    "error_detail",
    "may_hold_long_integer",
    "parse_json",
    "parse_retry_after",
    "read_integer",
]

RETRYABLE_STATUS = frozenset({408, 425, 429})
_DETAIL_LIMIT = 200


# 19 digits or more may be an integer past 64 bits (below -2**63, above 2**64 - 1),
# which orjson reads as a float. Found as 19 zeros in the body with every digit made
# "0" and every other byte " ": two C passes, a tenth of a regex search's time.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def may_hold_long_integer(body: bytes) -> bool:
    """Whether ``body`` has a run of 19 digits or more: an integer orjson may read as a
    float (past 64 bits), so the standard library must read it."""
    return _LONG_NUMBER in body.translate(_DIGITS_AS_ZEROS)


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than the parsers go (about 1000 levels)."""


def read_integer(literal: str) -> int | OversizedInteger:
    """A JSON integer literal as an exact ``int``, or, when it is longer than Python
    reads in decimal (``sys.get_int_max_str_digits``, 4 300 by default), as an
    :class:`OversizedInteger` that quarantines its record instead of failing the page."""
    limit = sys.get_int_max_str_digits()
    if limit and len(literal) > limit and len(literal.lstrip("-")) > limit:
        return OversizedInteger.of(literal)
    return int(literal)


def parse_json(body: bytes) -> Any:
    """Decode a provider's JSON body, keeping everything a record-level check must see.

    orjson reads the common case fast. What it refuses but the standard library
    reads (``NaN``, ``Infinity``, ``1e400``, lone surrogates) or would read more
    exactly (integers past 64 bits) goes to the standard library, so one bad
    value costs one record (see ``worker.domain.poison``), not the whole page.

    Raises:
        JsonTooDeep: nested deeper than either parser goes.
        ValueError: not JSON at all.
    """
    if not may_hold_long_integer(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if "depth" in str(exc) or "recursion" in str(exc):
                raise JsonTooDeep(str(exc)) from None
    try:
        return json.loads(body, parse_int=read_integer)
    except RecursionError:
        raise JsonTooDeep("nested deeper than Python's recursion limit") from None


def decode_response(
    where: str,
    response: httpx.Response,
    *,
    target: str,
    now: datetime,
    refused: str = "credentials refused; check this target's key",
    body: bytes | None = None,
    secrets: Collection[str] = (),
) -> Any:
    """Classify a response by status and decode its JSON body.

    Args:
        where: ``METHOD /path`` for messages (never a query string).
        now: the fallback for HTTP-date ``Retry-After`` when the response has no ``Date``.
        refused: what a 401/403 means for this request, for its message.
        body: the body, when it was read separately (streamed, size-capped).
        secrets: blanked from the error summary before it is cut (an echoed key
            straddling the cut would otherwise keep its head).

    Raises:
        ProviderAuthError: 401 or 403.
        ProviderUnavailable: 408/425/429/5xx (with ``retry_after``), or a body that
            is not JSON (truncated?): both are worth a retry.
        ProviderRejected: any other status of 400 and above, or a body nested
            deeper than JSON parsers go.
    """
    content = response.content if body is None else body
    status = response.status_code
    if status in (401, 403):
        raise ProviderAuthError(
            f"{where} returned {status}: {refused} ({error_detail(content, secrets)})",
            target=target,
            status_code=status,
        )
    if status in RETRYABLE_STATUS or status >= 500:
        retry_after = parse_retry_after(
            response.headers.get("Retry-After"), _response_date(response) or now
        )
        asked = "" if retry_after is None else f"; Retry-After {retry_after:g} s"
        raise ProviderUnavailable(
            f"{where} returned {status} ({error_detail(content, secrets)}{asked})",
            target=target,
            status_code=status,
            retry_after=retry_after,
        )
    if status >= 400:
        raise ProviderRejected(
            f"{where} returned {status} ({error_detail(content, secrets)})",
            target=target,
            status_code=status,
        )
    try:
        return parse_json(content)
    except JsonTooDeep:
        raise ProviderRejected(
            f"{where} returned {status} with a JSON body nested deeper than about 1000 levels",
            target=target,
            status_code=status,
        ) from None
    except ValueError:
        # Truncated or garbled: often a connection cut mid-body, so worth a retry.
        raise ProviderUnavailable(
            f"{where} returned {status} with a body that is not valid JSON "
            f"({len(content)} bytes; truncated?)",
            target=target,
            status_code=status,
        ) from None


def _response_date(response: httpx.Response) -> datetime | None:
    dates = response.headers.get_list("Date")  # a proxy may add a second one
    try:
        value = parsedate_to_datetime(dates[0] if dates else "")
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo is not None else None


def error_detail(content: bytes, secrets: Collection[str] = ()) -> str:
    """A short summary of a provider's error body: codes, messages and locations only.

    Never the body itself: servers echo request input in errors (FastAPI's
    ``input``, gateways' dumps), and a request may carry a credential.
    """
    try:
        body = parse_json(content)
    except ValueError:
        return "no JSON body"
    if not isinstance(body, dict):
        return "no error detail"
    error, detail = body.get("error"), body.get("detail")
    if isinstance(error, dict):  # vox and Sarvam's general API: {"error": {code, message}}
        text = _joined(error.get("code"), error.get("message"))
    elif isinstance(detail, str):  # FastAPI HTTPException
        text = detail
    elif isinstance(detail, list):  # FastAPI validation: [{"loc": [...], "msg": ...}, ...]
        text = "; ".join(
            _joined(".".join(str(p) for p in item.get("loc", [])), item.get("msg"))
            for item in detail
            if isinstance(item, dict)
        )
    else:  # FeathersJS (VOXO): {"name", "message", ...}
        text = _joined(body.get("name"), body.get("message"))
    return safe_text(redact(text, secrets), _DETAIL_LIMIT) or "no error detail"


def _joined(first: Any, second: Any) -> str:
    parts = [str(p) for p in (first, second) if isinstance(p, str | int) and str(p)]
    return ": ".join(parts)
