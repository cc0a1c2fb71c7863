"""The secret sweep: distinctive secrets everywhere, every error that could carry one
provoked, and then a search for any of them in everything the worker leaves behind."""

from __future__ import annotations

import base64
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from tests.acceptance.test_cli import cli
from tests.daemon import daemon, run_command
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = [pytest.mark.slow, pytest.mark.storage]

VOX_KEY = "vxk-Secret-7Hq2-Zeta"
VOXO_PASSWORD = "vxo-Pass-9Lm4-Kappa"
VOXO_TOKEN = "vxo-Token-3Rt8-Sigma"
HOOK_KEY = b"hook-Secret-5Wd1-Omega-32bytes!!"
HOOK_SECRET = "whsec_" + base64.b64encode(HOOK_KEY).decode()
DB_PASSWORD = "db-Pw@:/%-4Xy"
HOOK_TOKEN = "hook-Token-2Qp7-Theta"  # in the webhook URL's query, given by reference
SECRETS = (
    VOX_KEY, VOXO_PASSWORD, VOXO_TOKEN, HOOK_SECRET, base64.b64encode(HOOK_KEY).decode(),
    DB_PASSWORD, "db-Pw%40%3A%2F%25-4Xy", "Pw@:/%", HOOK_TOKEN,
)  # fmt: skip
TABLES = (
    "campaigns", "campaign_history", "campaign_events", "sync_runs", "sync_targets",
    "sync_errors", "event_consumers", "webhook_sinks", "webhook_deliveries",
)  # fmt: skip


async def _body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _answer(send: Send, status: int, payload: object) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def echoes_its_key(scope: Scope, receive: Receive, send: Send) -> None:
    """A vox API that refuses the key and echoes every header it was sent."""
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    await _answer(send, 401, {"detail": f"refused: {headers}", "input": headers})


async def echoes_the_login(scope: Scope, receive: Receive, send: Send) -> None:
    """A VOXO login that refuses and echoes the request body (the password)."""
    body = (await _body(receive)).decode()
    await _answer(send, 401, {"name": "NotAuthenticated", "message": f"bad login {body}"})


async def echoes_the_token(scope: Scope, receive: Receive, send: Send) -> None:
    """A VOXO that logs in, then fails every list with the token in its error."""
    if scope["path"] == "/authentication":
        await _body(receive)
        await _answer(send, 201, {"accessToken": VOXO_TOKEN})
        return
    auth = dict(scope["headers"]).get(b"authorization", b"").decode()
    await _answer(send, 500, {"name": "GeneralError", "message": f"{auth} expired"})


async def test_no_secret_reaches_logs_tables_events_metrics_or_config(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    delivered: list[str] = []
    queries: list[str] = []
    got_one = anyio.Event()

    async def receiver(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        delivered.append(json.dumps(headers) + (await _body(receive)).decode())
        queries.append(scope["query_string"].decode())
        got_one.set()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=6)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    database = db_url.set(drivername="postgresql")
    rendered = database.set(password=None).render_as_string(hide_password=False)
    raw_url = f"postgresql://postgres:{DB_PASSWORD}@{rendered.split('@', 1)[1]}"
    assert DB_PASSWORD in raw_url  # as pasted: not percent-encoded
    async with (
        serve(app) as demo,
        serve(echoes_its_key) as key_echo,
        serve(echoes_the_login) as login_echo,
        serve(echoes_the_token) as token_echo,
        serve(receiver) as hook,
    ):
        config = tmp_path / "config.yaml"
        voxo = "provider: voxo, email: ops@example.com, password: {env: VOXO_PW}, tenant_id: 1"
        config.write_text(
            "log_level: DEBUG\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: demo, base_url: '{demo}', api_key: {{env: DEMO}},"
            " poll_interval: 3600}\n"
            f"  - {{provider: vox_v3, account: echo, base_url: '{key_echo}', api_key: {{env: KEY}},"
            " poll_interval: 3600}\n"
            f"  - {{{voxo}, account: login, base_url: '{login_echo}', poll_interval: 3600}}\n"
            f"  - {{{voxo}, account: token, base_url: '{token_echo}', poll_interval: 3600,"
            " http: {attempts: 1}}\n"
            "webhooks:\n  - {name: hook, url: {env: HOOK_URL}, secret: {env: HOOK}}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": raw_url,
            "DEMO": DEMO_API_KEY,
            "KEY": VOX_KEY,
            "VOXO_PW": VOXO_PASSWORD,
            "HOOK": HOOK_SECRET,
            "HOOK_URL": f"{hook}/in?token={HOOK_TOKEN}",
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = run_command(config, health_port=port)
        async with daemon(command, env) as worker:
            finished: set[str] = set()
            while len(finished) < 4:  # every target's first cycle
                line = await worker.until(
                    lambda line: (
                        line.get("event") == "sync.finished" and line["target"] not in finished
                    ),
                    90,
                )
                finished.add(line["target"])
            with anyio.fail_after(90):  # and one delivery
                await got_one.wait()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
                metrics = (await probe.get("/metrics")).text
            code = await worker.stop()
        logged = worker.text + worker.stdout.decode(errors="replace")
        shown = await cli("--config", str(config), "config", "show", env=env)
    assert code == 0, logged[-2000:]
    stored: list[str] = []
    async with engine.connect() as conn:
        for table in TABLES:
            stored += [r for (r,) in await conn.execute(text(f"SELECT t::text FROM {table} t"))]  # noqa: S608 - our table names
    assert any("refused" in s for s in stored)  # the echoed errors were stored, redacted
    assert f"token={HOOK_TOKEN}" in queries  # the receiver alone gets the URL's token
    everything = {
        "logs": logged,
        "tables": "\n".join(stored),
        "webhook payloads": "\n".join(delivered),
        "/metrics": metrics,
        "config show": shown.stdout + shown.stderr,
    }
    for where, haystack in everything.items():
        for secret in SECRETS:
            assert secret not in haystack, f"{secret!r} found in {where}"
