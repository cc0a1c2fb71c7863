"""Operational endpoints of the daemon: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` (liveness) answers 503 when the event loop has stopped ticking or
a cycle has run past its deadline: both mean the process is stuck, and a
restart is the cure. ``/readyz`` answers 200 only when the database answers,
its schema is the one this worker needs, the scheduler runs, and no target's
last claim or run record failed to reach the database (:class:`WriteHealth`):
a replica whose every claim fails (no connection slot left for it, say) is not
ready, though a probe's own query may still find a pooled connection. Each
failing check names its reason in the body; a restart is not the cure, so
``/healthz`` stays 200.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = ["WriteHealth", "health_app"]

Problems = Callable[[], list[str]]
# Per readiness check, None when it passes, else why it fails.
Checks = Callable[[], Awaitable[Mapping[str, str | None]]]


class WriteHealth:
    """Whether each target's last claim and run record reached the database.

    A target counts as failing from a claim or run record that raised
    StorageError (any kind: no connection, a refused login, a read-only server)
    until its next one that went through (a cycle run, or a claim that found the
    target busy or not due). Page writes are not counted here: a cycle whose page
    failed but whose run was recorded has reached the database.
    """

    def __init__(self) -> None:
        self._failing: dict[str, tuple[int, str]] = {}  # target -> (in a row, last error)

    def failed(self, target: str, error: str) -> None:
        """A claim or run record of ``target`` raised StorageError with ``error``."""
        count = self._failing.get(target, (0, ""))[0]
        self._failing[target] = (count + 1, error)

    def succeeded(self, target: str) -> None:
        """A claim and, if a cycle ran, its run record of ``target`` went through."""
        self._failing.pop(target, None)

    def problem(self) -> str | None:
        """Why this replica cannot claim or write, or None."""
        if not self._failing:
            return None
        return "; ".join(
            f"{target}: {count} failed in a row, the last: {error}"
            for target, (count, error) in sorted(self._failing.items())
        )


def health_app(problems: Problems, readiness: Checks) -> ASGIApp:
    """The probe and metrics app; both checks are injected by the composition root.

    ``/readyz`` answers ``{"status", "checks": {name: passes}, "reasons": {name: why}}``,
    ``reasons`` holding the failing checks only.
    """

    async def healthz(request: Request) -> Response:
        found = problems()
        if found:
            return JSONResponse({"status": "stuck", "problems": found}, status_code=503)
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        found = dict(await readiness())
        reasons = {name: why for name, why in found.items() if why is not None}
        return JSONResponse(
            {
                "status": "not ready" if reasons else "ready",
                "checks": {name: why is None for name, why in found.items()},
                "reasons": reasons,
            },
            status_code=503 if reasons else 200,
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
