"""Plumbing every simulator shares: app assembly, admin routes, errors and parameters.

Each simulator is a Starlette app wrapped in :class:`FaultsMiddleware`, with
``/_sim/faults`` (GET, PUT) to read or change its fault knobs and
``/_sim/clock`` (GET; POST ``{"advance_seconds": n}`` when the clock is manual).

Request errors come in two styles: ``"plain"`` (400 ``VALIDATION_ERROR``, the
default) and ``"fastapi"`` (422 with FastAPI's ``[{"loc", "msg", "type"}]`` in
``SimError.details``, see :func:`unprocessable`) for providers built on FastAPI.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from worker.clock import ManualClock
from worker.simulators.clock import Clock
from worker.simulators.faults import Faults, FaultsMiddleware
from worker.simulators.wire.times import write_iso8601

__all__ = [
    "ErrorStyle",
    "Fleet",
    "SimError",
    "build_app",
    "call_succeeds",
    "int_param",
    "read_json",
    "seeded_hash",
    "unprocessable",
]

ErrorStyle = Literal["plain", "fastapi"]


class SimError(Exception):
    """An API error a simulator answers with, in its provider's envelope."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def unprocessable(message: str, *loc: str | int, kind: str = "value_error") -> SimError:
    """FastAPI's 422 for one problem: ``details`` is its ``detail`` list, ``code`` the type."""
    return SimError(422, kind, message, [{"loc": list(loc), "msg": message, "type": kind}])


def int_param(
    request: Request,
    name: str,
    *,
    default: int,
    low: int,
    high: int,
    style: ErrorStyle = "plain",
) -> int:
    """An integer query parameter within ``[low, high]``.

    Raises:
        SimError: 400 (``style="plain"``) or FastAPI's 422 (``"fastapi"``) otherwise.
    """
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        if style == "fastapi":
            message = "Input should be a valid integer"
            raise unprocessable(message, "query", name, kind="int_parsing") from None
        raise SimError(400, "VALIDATION_ERROR", f"{name} must be an integer") from None
    if not low <= value <= high:
        if style == "fastapi":
            raise unprocessable(f"Input should be between {low} and {high}", "query", name)
        raise SimError(400, "VALIDATION_ERROR", f"{name} must be between {low} and {high}")
    return value


async def read_json(request: Request, *, style: ErrorStyle = "plain") -> Any:
    """The request's JSON body (``None`` when empty).

    Raises:
        SimError: 400 (``style="plain"``) or FastAPI's 422 (``"fastapi"``) when it is not JSON.
    """
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        if style == "fastapi":
            raise unprocessable("JSON decode error", "body", 0, kind="json_invalid") from None
        raise SimError(400, "VALIDATION_ERROR", "body is not valid JSON") from None


def seeded_hash(seed: int, *parts: object) -> int:
    """A 64-bit number fixed by the seed and ``parts``: the first 8 bytes of the sha256 of
    ``"seed:part:…"``, so simulated fleets are the same on every run and host.
    """
    text = ":".join(str(part) for part in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def call_succeeds(seed: int, campaign_id: str, number: int, success_percent: int) -> bool:
    """Whether call ``number`` of a campaign succeeds; ``success_percent`` in 100 do on average."""
    first_byte = seeded_hash(seed, campaign_id, number) >> 56
    return first_byte * 100 < success_percent * 256


class _Playable(Protocol):
    created_at: datetime
    advanced_to: datetime | None


K = TypeVar("K", int, str)
C = TypeVar("C", bound=_Playable)


class Fleet(Generic[K, C]):
    """The campaigns of one simulated account, played forward lazily to the clock's now.

    A campaign is advanced to ``clock.now()`` when it is read, so a simulator
    needs no background task and its time is whatever the injected clock says.
    Serving a page costs its own campaigns only: :meth:`ordered` keeps the fleet
    sorted by an unchanging key (rebuilt only when campaigns come or go) and
    :meth:`settle` advances just the campaigns served. Subclasses name a
    campaign's key (:meth:`_key`), play one campaign forward (:meth:`_advance`)
    and may adjust a new campaign (:meth:`_admit`).
    """

    def __init__(self, clock: Clock, *, seed: int) -> None:
        self.clock = clock
        self.seed = seed
        self._campaigns: dict[K, C] = {}
        self._orders: dict[tuple[Callable[[C], Any], bool], tuple[list[C], dict[K, int]]] = {}
        self._lock = threading.RLock()

    def _key(self, campaign: C) -> K:
        raise NotImplementedError

    def _advance(self, campaign: C, now: datetime) -> None:
        raise NotImplementedError

    def _admit(self, campaign: C) -> None:
        """Adjust a campaign as it is added (defaults, first status)."""

    def add(self, campaign: C) -> C:
        """Register a campaign; its state machine is played from its ``created_at``."""
        with self._lock:
            key = self._key(campaign)
            if key in self._campaigns:
                raise ValueError(f"duplicate campaign id {key}")
            campaign.advanced_to = campaign.created_at
            self._admit(campaign)
            self._campaigns[key] = campaign
            self._orders.clear()
            return campaign

    def remove(self, key: K) -> None:
        """Forget a campaign outside the API (tests: one deleted between list and detail)."""
        with self._lock:
            self._campaigns.pop(key, None)
            self._orders.clear()

    def get(self, key: K) -> C | None:
        """One campaign advanced to now, or None."""
        with self._lock:
            campaign = self._campaigns.get(key)
            if campaign is not None:
                self.settle([campaign])
            return campaign

    def ordered(
        self, order: Callable[[C], Any], *, reverse: bool = False
    ) -> tuple[list[C], dict[K, int]]:
        """Every campaign sorted by ``order`` (a key that never changes), and each one's place.

        Cached until a campaign is added or removed; the campaigns are not advanced
        (:meth:`settle` the ones served).
        """
        with self._lock:
            cached = self._orders.get((order, reverse))
            if cached is None:
                items = sorted(self._campaigns.values(), key=order, reverse=reverse)
                cached = items, {self._key(c): i for i, c in enumerate(items)}
                self._orders[(order, reverse)] = cached
            return cached

    def settle(self, campaigns: Iterable[C]) -> list[C]:
        """Advance these campaigns (only) to the clock's now; returns them."""
        now = self.clock.now()
        with self._lock:
            self._before_settle(now)
            settled = list(campaigns)
            for campaign in settled:
                self._advance(campaign, now)
            return settled

    def _before_settle(self, now: datetime) -> None:
        """Apply what concerns the whole fleet up to ``now`` (VOXO's scripted edits)."""

    def advance(self) -> None:
        """Play every campaign's state machine forward to the clock's now."""
        now = self.clock.now()
        with self._lock:
            for campaign in self._campaigns.values():
                self._advance(campaign, now)


def _admin_routes(faults: Faults, clock: Clock) -> list[BaseRoute]:
    async def get_faults(request: Request) -> Response:
        return JSONResponse(faults.to_json())

    async def put_faults(request: Request) -> Response:
        body = await read_json(request)
        try:
            faults.update(body if isinstance(body, dict) else {})
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(faults.to_json())

    async def get_clock(request: Request) -> Response:
        return JSONResponse({"now": write_iso8601(clock.now())})

    async def advance_clock(request: Request) -> Response:
        if not isinstance(clock, ManualClock):
            return JSONResponse({"error": "this simulator's clock is not manual"}, status_code=409)
        body = await read_json(request)
        seconds = body.get("advance_seconds", 0) if isinstance(body, dict) else 0
        clock.advance(timedelta(seconds=float(seconds)))
        return JSONResponse({"now": write_iso8601(clock.now())})

    return [
        Route("/_sim/faults", get_faults, methods=["GET"]),
        Route("/_sim/faults", put_faults, methods=["PUT"]),
        Route("/_sim/clock", get_clock, methods=["GET"]),
        Route("/_sim/clock", advance_clock, methods=["POST"]),
    ]


def build_app(
    routes: Sequence[BaseRoute],
    *,
    faults: Faults,
    clock: Clock,
    render_error: Callable[[SimError], Response],
    error_body: Callable[[int], Any],
) -> ASGIApp:
    """Assemble a simulator: its routes, the admin routes and the fault middleware."""

    async def on_sim_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SimError)
        return render_error(exc)

    app = Starlette(
        routes=[*routes, *_admin_routes(faults, clock)],
        exception_handlers={SimError: on_sim_error},
    )
    return FaultsMiddleware(app, faults, clock, error_body)
