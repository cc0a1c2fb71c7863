"""Serve an ASGI app with uvicorn inside our own task group (demo, simulators, probes).

uvicorn normally installs its own signal handlers; here the caller owns
SIGINT/SIGTERM, so one Ctrl-C stops every server and the worker together.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Generator

import anyio
import uvicorn
from starlette.types import ASGIApp

from worker.errors import ConfigError

__all__ = ["serve"]

SHUTDOWN_SECONDS = 5  # for requests in flight to finish; then uvicorn cancels them


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Signals belong to the caller's task group, not to each server.
        yield


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` until the block exits; yields its base URL (``port=0`` picks a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another port"
        ) from None
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    server = _QuietServer(config)
    stopped = anyio.Event()

    async def run() -> None:
        try:
            await server.serve([sock])
        finally:
            stopped.set()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            while not server.started:  # uvicorn exposes readiness only as a flag
                if stopped.is_set():
                    raise RuntimeError(f"server on {bound_host}:{bound_port} failed to start")
                await anyio.sleep(0.01)
            try:
                yield f"http://{bound_host}:{bound_port}"
            finally:
                # Shut down before an error in the block cancels run(): a server cancelled
                # mid-loop skips uvicorn's shutdown and leaves its connections open.
                server.should_exit = True
                with anyio.move_on_after(SHUTDOWN_SECONDS + 1, shield=True):
                    await stopped.wait()
    finally:
        sock.close()
