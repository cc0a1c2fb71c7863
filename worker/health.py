"""Operational endpoints of the daemon: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` (liveness) answers 503 when the event loop has stopped ticking or
a cycle has run past its deadline: both mean the process is stuck, and a
restart is the cure. ``/readyz`` answers 200 only when the database answers,
its schema is the one this worker needs, and the scheduler runs, so
Kubernetes sends no traffic and restarts nothing on a false "ready".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = ["health_app"]

Problems = Callable[[], list[str]]
Checks = Callable[[], Awaitable[Mapping[str, bool]]]


def health_app(problems: Problems, readiness: Checks) -> ASGIApp:
    """The probe and metrics app; both checks are injected by the composition root."""

    async def healthz(request: Request) -> Response:
        found = problems()
        if found:
            return JSONResponse({"status": "stuck", "problems": found}, status_code=503)
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        checks = dict(await readiness())
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
