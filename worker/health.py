"""Operational endpoints of the daemon: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` answers while the process runs. ``/readyz`` answers 200 only when
the database answers and the scheduler has started, so Kubernetes sends no
traffic and restarts nothing on a false "ready".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = ["health_app"]


def health_app(
    database_ok: Callable[[], Awaitable[bool]], scheduler_started: Callable[[], bool]
) -> ASGIApp:
    """The probe and metrics app; both checks are injected by the composition root."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        checks = {"database": await database_ok(), "scheduler": scheduler_started()}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
