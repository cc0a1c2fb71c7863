"""Fault knobs shared by every simulator, as one ASGI middleware.

Knobs come from config (a :class:`Faults` given to the simulator, changeable at
run time through ``PUT /_sim/faults``) or from the request itself:

* ``latency`` seconds added before answering every provider request (default 0;
  header ``X-Sim-Latency`` adds more to one request). Requests wait side by side,
  so a client with N requests in flight waits one ``latency`` for all N, as it
  would against a slow provider. The wait is ``Faults.sleep`` (``anyio.sleep``;
  tests inject their own and never wait);
* ``rate_limited``: the next N provider requests get 429 with ``Retry-After``,
  as seconds or, with ``retry_after_http_date``, as an HTTP-date;
* ``server_errors``: the next N provider requests get ``server_error_status`` (5xx);
* ``truncated``: the next N JSON bodies are cut in half;
* ``malformed``: campaign id -> how that record is served broken: ``bad_time``
  (a time in the wrong format), ``unknown_status``, ``missing_id`` or
  ``wrong_type`` (a counter or id of the wrong JSON type); each simulator
  applies these to its own payload shape;
* ``page_size``: the most records one page serves, whatever ``limit`` asked.

A request can force one fault with ``X-Sim-Fault: 429|500|503|truncate``.
``/_sim/*`` admin routes are never faulted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.simulators.clock import Clock

__all__ = ["Faults", "FaultsMiddleware"]


@dataclass
class Faults:
    """Mutable fault settings of one simulator (thread-safe counters)."""

    latency: float = 0.0
    rate_limited: int = 0
    retry_after: float = 1.0
    retry_after_http_date: bool = False
    server_errors: int = 0
    server_error_status: int = 503
    truncated: int = 0
    malformed: dict[str, str] = field(default_factory=dict)
    page_size: int | None = None
    # How a delay is waited: not a knob (never in ``to_json`` or ``update``).
    sleep: Callable[[float], Awaitable[None]] = field(
        default=anyio.sleep, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take(self, name: str) -> bool:
        """Consume one unit of a burst counter; True if the fault applies now."""
        with self._lock:
            left: int = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            return True

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON patch of knob values; unknown names are rejected."""
        known = _knobs(self)
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(sorted(unknown))}")
        with self._lock:
            for name, value in changes.items():
                setattr(
                    self,
                    name,
                    {str(k): str(v) for k, v in value.items()} if name == "malformed" else value,
                )

    def to_json(self) -> dict[str, Any]:
        """Current knob values."""
        with self._lock:
            return {
                f.name: dict(self.malformed) if f.name == "malformed" else getattr(self, f.name)
                for f in fields(self)
                if f.name in _knobs(self)
            }

    def corrupt(
        self, campaign_id: str, record: dict[str, Any], breakers: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply this campaign's malformation, if any, using the simulator's ``breakers``.

        ``breakers`` maps a kind to a function that breaks a copy of the record.
        """
        kind = self.malformed.get(campaign_id)
        if kind is None:
            return record
        if kind not in breakers:
            raise ValueError(f"unknown malformation {kind!r}; known: {', '.join(sorted(breakers))}")
        broken: dict[str, Any] = breakers[kind](dict(record))
        return broken

    def cap(self, limit: int) -> int:
        """The page size actually served for a requested ``limit``."""
        return limit if self.page_size is None else max(1, min(limit, self.page_size))


def _knobs(faults: Faults) -> set[str]:
    return {f.name for f in fields(faults) if not f.name.startswith("_") and f.name != "sleep"}


class FaultsMiddleware:
    """Applies :class:`Faults` to every request outside ``/_sim/``."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        clock: Clock,
        error_body: Callable[[int], Any] = lambda status: {"error": {"code": str(status)}},
    ) -> None:
        self.app = app
        self.faults = faults
        self.clock = clock
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        forced = headers.get("x-sim-fault", "")
        delay = float(headers.get("x-sim-latency", 0) or 0) + self.faults.latency
        if delay > 0:
            await self.faults.sleep(delay)
        if forced == "429" or self.faults.take("rate_limited"):
            await self._send_json(send, 429, self.error_body(429), self._retry_after())
            return
        if forced in ("500", "503") or self.faults.take("server_errors"):
            status = int(forced) if forced else self.faults.server_error_status
            await self._send_json(send, status, self.error_body(status))
            return
        if forced == "truncate" or self.faults.take("truncated"):
            await self.app(scope, receive, _truncating(send))
            return
        await self.app(scope, receive, send)

    def _retry_after(self) -> list[tuple[bytes, bytes]]:
        if not self.faults.retry_after_http_date:
            return [(b"retry-after", f"{self.faults.retry_after:g}".encode())]
        # An HTTP-date is read against the response's Date, which is wall time (the
        # server's clock), never the simulated one: build both from the same instant.
        now = datetime.now(UTC)
        when = now + timedelta(seconds=self.faults.retry_after)
        return [
            (b"date", format_datetime(now, usegmt=True).encode()),
            (b"retry-after", format_datetime(when, usegmt=True).encode()),
        ]

    @staticmethod
    async def _send_json(
        send: Send, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
        )
        await send({"type": "http.response.body", "body": payload})


def _truncating(send: Send) -> Send:
    """Wrap ``send`` so the response body is cut to half its length."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        cut = body[: len(body) // 2]
        assert start is not None
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": cut})

    return wrapped
