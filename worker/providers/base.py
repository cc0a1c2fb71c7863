"""The HTTP layer every provider adapter shares.

One :class:`ProviderHttp` per target (provider account). It owns:

* a total deadline per request, body included (httpx's read timeout restarts on
  every chunk, so a slow trickle would never time out on its own);
* bounded retries with jittered exponential backoff (stamina) on connect
  errors, timeouts, 408/425/429 and 5xx, honouring ``Retry-After`` (seconds or
  an HTTP-date), clamped to ``retry_after_max``;
* a concurrency limit and an optional request-rate limit (aiolimiter);
* translation of every httpx error into the WorkerError tree, with messages
  built from the method, the path and the status only: never a header, a
  query string or a body, so credentials cannot leak.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

import anyio
import httpx
import stamina
from aiolimiter import AsyncLimiter

from worker.clock import SystemClock
from worker.config import HttpSettings, TargetBase
from worker.domain.campaign import TargetKey
from worker.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from worker.ports import Clock

__all__ = [
    "RETRYABLE_STATUS",
    "ProviderHttp",
    "StaticHeaderAuth",
    "backoff_for",
    "decode_response",
    "error_detail",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429})
_DETAIL_LIMIT = 200


class StaticHeaderAuth(httpx.Auth):
    """Sends one fixed credential header (``Authorization: Bearer …``, ``X-API-Key: …``)."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request

    def __repr__(self) -> str:
        return f"StaticHeaderAuth({self._header!r}, '***')"


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


def backoff_for(exc: Exception, *, retry_after_max: float) -> bool | float:
    """stamina backoff hook: retry only transient errors; obey a clamped Retry-After."""
    if not isinstance(exc, ProviderUnavailable):
        return False
    if exc.retry_after is None:
        return True
    return min(exc.retry_after, retry_after_max)


class ProviderHttp:
    """HTTP for one target: deadline, retries, limits and error translation.

    Args:
        client: an ``httpx.AsyncClient`` with ``base_url`` set; tests pass one
            over ``httpx.ASGITransport`` to a simulator.
        auth: how to authenticate; applied per request so retries re-apply it.
        clock: reads "now" for HTTP-date ``Retry-After`` values.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        target: TargetKey,
        settings: HttpSettings,
        auth: httpx.Auth | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.settings = settings
        self._auth = auth
        self._clock = clock or SystemClock()
        self._slots = anyio.CapacityLimiter(settings.max_concurrency)
        self._rate = (
            AsyncLimiter(settings.rate_per_second, 1.0) if settings.rate_per_second else None
        )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send one request with retries and return its decoded JSON body.

        Raises:
            ProviderAuthError: 401 or 403; never retried.
            ProviderRejected: any other 4xx, or a 2xx that is not JSON after retries.
            ProviderUnavailable: transient failures that outlived the retries.
        """
        s = self.settings
        retrying = stamina.retry_context(
            on=lambda exc: backoff_for(exc, retry_after_max=s.retry_after_max),
            attempts=s.attempts,
            timeout=s.retry_timeout,
            wait_initial=s.wait_initial,
            wait_max=s.wait_max,
            wait_jitter=s.wait_initial,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, path, params=params, json_body=json_body)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _once(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, json_body: Any
    ) -> Any:
        where = f"{method} {path}"
        async with self._slots:
            if self._rate is not None:
                await self._rate.acquire()
            with self._translate(where):
                with anyio.fail_after(self.settings.deadline):
                    response = await self.client.request(
                        method,
                        path,
                        params=params,
                        json=json_body,
                        auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                    )
        return self._decode(where, response)

    @contextlib.contextmanager
    def _translate(self, where: str) -> Iterator[None]:
        target = str(self.target)
        try:
            yield
        except ProviderError:
            raise
        except TimeoutError:
            raise ProviderUnavailable(
                f"{where} timed out after {self.settings.deadline:g}s", target=target
            ) from None
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(
                f"{where} timed out ({type(exc).__name__})", target=target
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"{where} failed: {type(exc).__name__}", target=target
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderRejected(f"{where} failed: {type(exc).__name__}", target=target) from exc

    def _decode(self, where: str, response: httpx.Response) -> Any:
        return decode_response(where, response, target=str(self.target), now=self._clock.now())


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


S = TypeVar("S", bound=TargetBase)


class HttpProvider(Generic[S]):
    """What every HTTP adapter shares: its settings, its HTTP session and its target.

    A subclass names itself (``name``), says how it authenticates (:meth:`auth`)
    and implements ``pages`` and ``normalize`` of ``worker.ports.Provider``.
    """

    name: ClassVar[str]

    def __init__(self, http: ProviderHttp, settings: S) -> None:
        self.http = http
        self.settings = settings

    @classmethod
    def auth(cls, settings: S, target: TargetKey, clock: Clock) -> httpx.Auth:
        """The credentials flow for this provider; the only secret-touching hook."""
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: S, client: httpx.AsyncClient, clock: Clock) -> Self:
        """Wire the adapter to its HTTP session (composition root)."""
        target = TargetKey(provider=cls.name, account=settings.account)
        http = ProviderHttp(
            client,
            target=target,
            settings=settings.http,
            auth=cls.auth(settings, target, clock),
            clock=clock,
        )
        return cls(http, settings)

    @property
    def target(self) -> TargetKey:
        """The provider account this adapter reads."""
        return self.http.target
