"""A real NATS server with JetStream for the relay tests: found, or started, or skipped.

``CAMPAIGN_SYNC_TEST_NATS_URL`` names one to use; else the one on
``127.0.0.1:4222`` is used if it answers with JetStream; else a ``nats-server``
on PATH or in ``/usr/sbin`` (Debian: ``apt install nats-server``) is started on a free port with a
temporary store. With none of them, the tests that need one skip and say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

NATS_URL_ENV = "CAMPAIGN_SYNC_TEST_NATS_URL"
LOCAL = "nats://127.0.0.1:4222"
READY = "Server is ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _has_jetstream(url: str) -> str | None:
    """None when ``url`` is a server with JetStream; else why not."""
    try:
        nc = await nats.connect(
            url, connect_timeout=1, allow_reconnect=False, max_reconnect_attempts=1
        )
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        return f"{url} does not answer ({type(exc).__name__})"
    try:
        await nc.jetstream().account_info()
    except Exception as exc:  # noqa: BLE001
        return f"{url} has no JetStream ({type(exc).__name__})"
    finally:
        await nc.close()
    return None


class NatsServer:
    """A ``nats-server -js`` child process on one port and store dir; stop and start again."""

    def __init__(
        self, binary: str, store: Path, port: int | None = None, args: Sequence[str] = ()
    ) -> None:
        self.binary = binary
        self.args = tuple(args)
        self.store = store
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None
        self._drain: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Start it and return once it logs that it is ready."""
        args = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        process = subprocess.Popen([*args, *self.args], stderr=subprocess.PIPE, text=True)
        self._process = process
        ready = threading.Event()
        log: list[str] = []

        def drain() -> None:
            # Read its log to the end: a full pipe would block it, a closed one kill it.
            assert process.stderr is not None
            for line in process.stderr:
                log.append(line)
                if READY in line:
                    ready.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"nats-server did not start: {''.join(log)[-2000:]}")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) and wait until it has exited."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._drain is not None:
            self._drain.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def nats_binary() -> str | None:
    return shutil.which("nats-server") or next(
        (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if os.access(p, os.X_OK)),
        None,
    )


@pytest.fixture(name="nats_url", scope="session")
def nats_url_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a NATS server with JetStream: configured, the local one, or one started here."""
    configured = os.environ.get(NATS_URL_ENV)
    if configured:
        if why := asyncio.run(_has_jetstream(configured)):
            pytest.fail(f"{NATS_URL_ENV}: {why}")
        yield configured
        return
    why_not_local = asyncio.run(_has_jetstream(LOCAL))
    if why_not_local is None:
        yield LOCAL
        return
    binary = nats_binary()
    if binary is None:
        pytest.skip(f"no NATS server: {why_not_local}, and no nats-server binary on PATH")
    server = NatsServer(binary, tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(name="own_nats")
def own_nats_fixture(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of this test's own, which the test may stop and start again."""
    binary = nats_binary()
    if binary is None:
        pytest.skip("no nats-server binary on PATH to start a server this test can stop")
    server = NatsServer(binary, tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Names:
    """A stream and subject prefix of one test's own, so tests never see each other's messages."""

    stream: str
    prefix: str


@pytest.fixture(name="names")
def names_fixture() -> Names:
    tag = uuid.uuid4().hex[:12]
    return Names(stream=f"CS_TEST_{tag}", prefix=f"cs-test-{tag}")


async def connect(url: str) -> Client:
    return await nats.connect(url, connect_timeout=2, allow_reconnect=False)


@pytest.fixture(name="js")
async def js_fixture(nats_url: str, names: Names) -> AsyncIterator[JetStreamContext]:
    """A JetStream client on the test server; the test's stream is deleted afterwards."""
    nc = await connect(nats_url)
    context = nc.jetstream(timeout=5)
    try:
        yield context
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await context.delete_stream(names.stream)
        await nc.close()
