"""Reading a provider's HTTP response: status classes, ``Retry-After`` and error summaries.

Shared by :class:`~worker.providers.base.ProviderHttp` and login flows that see
responses before it does (VOXO). Messages are built from the method, the path
and the status, plus a summary of the error body that never copies the body
itself, so a credential echoed by a server cannot reach a message.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from worker.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable

__all__ = ["RETRYABLE_STATUS", "decode_response", "error_detail", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 425, 429})
_DETAIL_LIMIT = 200


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def decode_response(
    where: str,
    response: httpx.Response,
    *,
    target: str,
    now: datetime,
    refused: str = "credentials refused; check this target's key",
) -> Any:
    """Classify a response by status and decode its JSON body.

    Args:
        where: ``METHOD /path`` for messages (never a query string).
        now: the fallback for HTTP-date ``Retry-After`` when the response has no ``Date``.
        refused: what a 401/403 means for this request, for its message.

    Raises:
        ProviderAuthError: 401 or 403.
        ProviderUnavailable: 408/425/429/5xx (with ``retry_after``), or a body that
            is not JSON (truncated?): both are worth a retry.
        ProviderRejected: any other status of 400 and above.
    """
    status = response.status_code
    if status in (401, 403):
        raise ProviderAuthError(
            f"{where} returned {status}: {refused} ({error_detail(response)})",
            target=target,
            status_code=status,
        )
    if status in RETRYABLE_STATUS or status >= 500:
        raise ProviderUnavailable(
            f"{where} returned {status} ({error_detail(response)})",
            target=target,
            status_code=status,
            retry_after=parse_retry_after(
                response.headers.get("Retry-After"), _response_date(response) or now
            ),
        )
    if status >= 400:
        raise ProviderRejected(
            f"{where} returned {status} ({error_detail(response)})",
            target=target,
            status_code=status,
        )
    try:
        return json.loads(response.content)
    except ValueError:
        # Truncated or garbled: often a connection cut mid-body, so worth a retry.
        raise ProviderUnavailable(
            f"{where} returned {status} with a body that is not valid JSON "
            f"({len(response.content)} bytes; truncated?)",
            target=target,
            status_code=status,
        ) from None


def _response_date(response: httpx.Response) -> datetime | None:
    try:
        value = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo is not None else None


def error_detail(response: httpx.Response) -> str:
    """A short summary of a provider's error body: codes, messages and locations only.

    Never the body itself: servers echo request input in errors (FastAPI's
    ``input``, gateways' dumps), and a request may carry a credential.
    """
    try:
        body = json.loads(response.content)
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
    return text[:_DETAIL_LIMIT] or "no error detail"


def _joined(first: Any, second: Any) -> str:
    parts = [str(p) for p in (first, second) if isinstance(p, str | int) and str(p)]
    return ": ".join(parts)
