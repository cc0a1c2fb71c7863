"""A webhook URL that carries its token, given by reference: the receiver gets the token,
and nothing else does (``webhook_sinks.url``, DEBUG logs with httpx's own lines,
``config show``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from tests.delivery.receiver import SECRET, Receiver
from tests.delivery.test_webhooks import drain, write_events
from tests.helpers import row
from worker.clock import ManualClock
from worker.config import load_settings, show_settings
from worker.observability.logs import configure_logging
from worker.observability.redaction import SecretValues
from worker.runtime.app import open_runtime
from worker.runtime.http_server import serve

TOKEN = "hook-Token-6Vb3-Upsilon"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging takes over the root logger: give it back to pytest afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:], root.level = handlers, level
    for name, was in noisy.items():
        logging.getLogger(name).setLevel(was)


async def test_a_by_reference_webhook_url_keeps_its_token_to_the_receiver(
    engine: AsyncEngine,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    restored_logging: None,
) -> None:
    await write_events(engine, n_per_campaign=1)
    receiver = Receiver()
    queries: list[bytes] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        queries.append(scope["query_string"])
        await receiver(scope, receive, send)

    async with serve(endpoint) as base:
        monkeypatch.setenv("HOOK_URL", f"{base}/in?v=1&token={TOKEN}")
        monkeypatch.setenv("HOOK_SECRET", SECRET)
        config = tmp_path / "config.yaml"
        config.write_text(
            "log_level: DEBUG\n"
            "webhooks:\n  - {name: billing, url: {env: HOOK_URL}, secret: {env: HOOK_SECRET}}\n"
        )
        settings = load_settings(config)
        secrets = SecretValues(settings.secrets())
        configure_logging("DEBUG", "json", secrets)
        async with open_runtime(settings, clock=clock, engine=engine, secrets=secrets) as rt:
            (sink,) = rt.sinks
            await sink.register()
            await sink.enqueue()
            await drain(sink, clock)
        shown = show_settings(settings)
    logged = capfd.readouterr().err
    assert len(receiver.ids()) == 2  # delivered, to the URL with its token
    assert queries and all(q == f"v=1&token={TOKEN}".encode() for q in queries)
    assert "HTTP Request: POST" in logged  # httpx's own DEBUG lines were written
    stored = await row(engine, "SELECT url FROM webhook_sinks WHERE name = 'billing'")
    assert stored == {"url": f"{base}/***"}  # the reader role sees where, never the token
    for where in (logged, shown, stored["url"]):
        assert TOKEN not in where
