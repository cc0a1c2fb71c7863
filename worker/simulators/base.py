"""Plumbing every simulator shares: app assembly, admin routes, errors and parameters.

Each simulator is a Starlette app wrapped in :class:`FaultsMiddleware`, with
``/_sim/faults`` (GET, PUT) to read or change its fault knobs and
``/_sim/clock`` (GET; POST ``{"advance_seconds": n}`` when the clock is manual).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from worker.clock import ManualClock
from worker.domain.timestamps import to_iso8601
from worker.ports import Clock
from worker.simulators.faults import Faults, FaultsMiddleware

__all__ = ["SimError", "build_app", "int_param", "read_json"]


class SimError(Exception):
    """An API error a simulator answers with, in its provider's envelope."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``; raises SimError 400/422 otherwise."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SimError(400, "VALIDATION_ERROR", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise SimError(400, "VALIDATION_ERROR", f"{name} must be between {low} and {high}")
    return value


async def read_json(request: Request) -> Any:
    """The request's JSON body; raises SimError 400 when it is not JSON."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise SimError(400, "VALIDATION_ERROR", "body is not valid JSON") from None


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
        return JSONResponse({"now": to_iso8601(clock.now())})

    async def advance_clock(request: Request) -> Response:
        if not isinstance(clock, ManualClock):
            return JSONResponse({"error": "this simulator's clock is not manual"}, status_code=409)
        body = await read_json(request)
        seconds = body.get("advance_seconds", 0) if isinstance(body, dict) else 0
        clock.advance(timedelta(seconds=float(seconds)))
        return JSONResponse({"now": to_iso8601(clock.now())})

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
