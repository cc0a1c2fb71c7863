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
import time
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from typing import Any, Protocol

import anyio
import httpx
import stamina
from aiolimiter import AsyncLimiter

from worker.clock import SystemClock
from worker.config import HttpSettings
from worker.domain.campaign import TargetKey
from worker.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from worker.observability import metrics
from worker.observability.redaction import redact
from worker.ports import Clock
from worker.providers.responses import decode_response

__all__ = ["ProviderHttp", "RateLimiter", "backoff_for"]

Params = Mapping[str, Any] | None


class RateLimiter(Protocol):
    """Paces requests: ``acquire`` returns when one more may be sent (aiolimiter's shape)."""

    async def acquire(self) -> None:
        """Wait for the right to send one request."""
        ...


def backoff_for(
    exc: BaseException, *, retry_after_max: float, remaining: float = float("inf")
) -> bool | float:
    """stamina backoff hook: retry only transient errors; obey a clamped Retry-After.

    A ``Retry-After`` longer than the ``remaining`` retry time ends the retries at
    once: waiting would outlast ``retry_timeout`` for nothing.
    """
    if not isinstance(exc, ProviderUnavailable):
        return False
    if exc.retry_after is None:
        return True
    if exc.retry_after > remaining:
        return False
    return min(exc.retry_after, retry_after_max)


class ProviderHttp:
    """HTTP for one target: deadline, retries, limits and error translation.

    Args:
        client: an ``httpx.AsyncClient`` with ``base_url`` set; tests pass one
            over ``httpx.ASGITransport`` to a simulator.
        auth: how to authenticate; applied per request so retries re-apply it.
        clock: reads "now" for HTTP-date ``Retry-After`` values.
        rate: paces every request; by default ``settings.rate_per_second`` per
            second, or none when that is unset. Tests pass one they control.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        target: TargetKey,
        settings: HttpSettings,
        auth: httpx.Auth | None = None,
        clock: Clock | None = None,
        secrets: Collection[str] = frozenset(),
        rate: RateLimiter | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.settings = settings
        # What each request passes to httpx: this target's auth, else the client's own.
        self._auth = auth if auth is not None else httpx.USE_CLIENT_DEFAULT
        self._clock = clock or SystemClock()
        self._secrets = secrets
        self._slots = anyio.CapacityLimiter(settings.max_concurrency)
        if rate is None and settings.rate_per_second:
            rate = AsyncLimiter(settings.rate_per_second, 1.0)
        self._rate = rate
        # httpx joins a path to base_url and merges the query into it on every request
        # (about 70 µs, a tenth of a request): _send builds the same URL in one parse.
        base = client.base_url
        plain = base.is_absolute_url and not base.query and not client.params
        self._prefix = str(base).rstrip("/") + "/" if plain else None
        self._metrics = metrics.ProviderRequestMetrics(target.provider, target.account)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json_body: Any = None,
    ) -> Any:
        """Send one request with retries and return its decoded JSON body.

        Raises:
            ProviderAuthError: 401 or 403; never retried.
            ProviderRejected: any other 4xx, or a 2xx that is not JSON after retries.
            ProviderUnavailable: transient failures that outlived the retries.
        """
        # Most requests succeed at once: the retry loop is only built for one that did not
        # (it costs about a tenth of a detail request), and its first attempt is that failure.
        try:
            return await self._once(method, path, params=params, json_body=json_body)
        except Exception as exc:  # noqa: BLE001 - handed to the retry loop, which decides
            failed: Exception | None = exc
        async for attempt in self.retrying():
            with attempt:
                if failed is not None:
                    first, failed = failed, None
                    raise first
                return await self._once(method, path, params=params, json_body=json_body)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def retrying(self) -> AsyncIterator[stamina.Attempt]:
        """The retry loop of one request (``async for attempt in …: with attempt: …``)."""
        s = self.settings
        gives_up = time.monotonic() + s.retry_timeout
        labels = (self.target.provider, self.target.account)

        def on(exc: BaseException) -> bool | float:
            wait = backoff_for(
                exc, retry_after_max=s.retry_after_max, remaining=gives_up - time.monotonic()
            )
            if wait is not False:
                metrics.RETRIES.labels(*labels).inc()
            if not isinstance(wait, bool):
                metrics.RETRY_AFTER_SECONDS.labels(*labels).inc(wait)
            return wait

        return stamina.retry_context(
            on=on,
            attempts=s.attempts,
            timeout=s.retry_timeout,
            wait_initial=s.wait_initial,
            wait_max=s.wait_max,
            wait_jitter=s.wait_initial,
        )

    async def open_stream(self, method: str, path: str, *, params: Params = None) -> httpx.Response:
        """Send one request and return its 2xx response with the body still unread.

        The caller reads the body (within :meth:`translate`) and closes the
        response. Any other status is read, classified and raised here, like
        :meth:`request_json` does; no retries (wrap the call in :meth:`retrying`).
        """
        where = f"{method} {path}"
        async with self._slots:
            if self._rate is not None:
                await self._rate.acquire()
            with (
                self.translate(where),
                self._observed(method) as seen,
                anyio.fail_after(self.settings.deadline),
            ):
                response = await self._send(method, path, params)
                seen.append(response.status_code)
                if response.is_success:
                    return response
                try:
                    body = await self._read(where, response)
                finally:
                    await response.aclose()
                decode_response(
                    where,
                    response,
                    target=str(self.target),
                    now=self._clock.now(),
                    body=body,
                    secrets=self._secrets,
                )
                raise ProviderRejected(  # a 1xx or 3xx that httpx did not follow
                    f"{where} returned {response.status_code}", target=str(self.target)
                )

    async def _once(self, method: str, path: str, *, params: Params, json_body: Any) -> Any:
        where = f"{method} {path}"
        async with self._slots:
            if self._rate is not None:
                await self._rate.acquire()
            with self.translate(where), self._observed(method) as seen:
                with anyio.fail_after(self.settings.deadline):
                    response = await self._send(method, path, params, json_body)
                    try:
                        seen.append(response.status_code)
                        body = await self._read(where, response)
                    finally:
                        await response.aclose()
                return decode_response(
                    where,
                    response,
                    target=str(self.target),
                    now=self._clock.now(),
                    body=body,
                    secrets=self._secrets,
                )

    async def _send(
        self, method: str, path: str, params: Params, json_body: Any = None
    ) -> httpx.Response:
        """Send one request, its body unread. The URL is ``path`` joined to ``base_url``
        with ``params`` as its query, in one parse (``__init__``), unless httpx must
        join them (a query in the path or the base URL, a client with params of its own)."""
        url: httpx.URL | str = path
        if self._prefix is not None and "?" not in path:
            url = self._prefix + path.lstrip("/")
            url, params = httpx.URL(f"{url}?{httpx.QueryParams(params)}" if params else url), None
        request = self.client.build_request(method, url, params=params, json=json_body)
        return await self.client.send(request, auth=self._auth, stream=True)

    @contextlib.contextmanager
    def _observed(self, method: str) -> Iterator[list[int]]:
        """Count one request by its status class (``error`` when no status came) and time it."""
        began = time.monotonic()
        status: list[int] = []
        try:
            yield status
        finally:
            seconds = time.monotonic() - began
            self._metrics.observe(method, status[0] if status else None, seconds)

    async def _read(self, where: str, response: httpx.Response) -> bytes:
        """The body, read as it streams in, refused past ``max_body_bytes``."""
        limit = self.settings.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(where, response, f"{int(declared)} bytes declared")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._too_large(where, response, "more")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, where: str, response: httpx.Response, seen: str) -> ProviderRejected:
        limit = self.settings.max_body_bytes
        return ProviderRejected(
            f"{where} returned {response.status_code} with a body over {limit} bytes ({seen}; "
            "http.max_body_bytes); it was not read further",
            target=str(self.target),
            status_code=response.status_code,
        )

    @contextlib.contextmanager
    def translate(self, where: str) -> Iterator[None]:
        """Turn httpx errors and timeouts inside into this target's ProviderErrors."""
        target = str(self.target)
        try:
            yield
        except ProviderError as exc:
            # A provider may echo what it was sent, or a token we hold, in its errors.
            exc.args = tuple(redact(str(a), self._secrets) for a in exc.args)
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
