"""Peak memory of one ``campaign-sync sync-once`` against hostile bodies, printed.

Two cases, each a worker process of its own against a loopback server:

* a 300 MB body (the start of a page that never ends): refused once
  ``http.max_body_bytes`` (32 MiB) has streamed in;
* VOXO's one unpaged array with 100 000 and with 400 000 campaigns (about 50 and
  200 MB), read with ``fetch_detail: false`` and the default limits: the array
  is read as it streams, a page at a time, so the two peaks should match.

Usage: ``python bench/hostile_memory.py`` (embedded PostgreSQL, or
``CAMPAIGN_SYNC_BENCH_DATABASE_URL``). Prints one line per case; fails nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from worker.runtime.http_server import serve
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import create_engine

WORKER = (
    # VmHWM, not getrusage: the latter keeps the parent's high-water mark across exec.
    "import re, sys\n"
    "from worker.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "print('peak_rss_kib', hwm, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


async def huge(scope: Scope, receive: Receive, send: Send) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"items": ["'
        block = b"x" * (1024 * 1024)
        for _ in range(300):
            yield block

    await StreamingResponse(chunks(), media_type="application/json")(scope, receive, send)


def voxo_array(n: int) -> bytes:
    # fmt: off
    items = [
        {
            "id": 20_000_000_000 + i, "tenantId": 1234, "name": f"campaign {i}",
            "type": "SCHEDULED",
            "dateStart": "2026-03-01", "dateEnd": "2026-04-01", "callerId": "6013151002",
            "callDelay": 5000, "state": "READY", "lastrun": "2026-03-02 09:00:00", "dialtimeout": 0,
            "tech": "VOICE", "message": "hello", "timeStart": "09:00", "timeEnd": "17:00",
            "timezone": "America/Chicago", "callFrequency": 10, "callHoursStart": "09:00",
            "callHoursEnd": "17:00", "recording": "no",
        }
        for i in range(n)
    ]
    # fmt: on
    return json.dumps(items).encode()


class Voxo:
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].endswith("authentication"):
            token = json.dumps({"accessToken": "bench-token", "authentication": {}}).encode()
            answer = Response(token, status_code=201, media_type="application/json")
            await answer(scope, receive, send)
            return
        await Response(self.body, media_type="application/json")(scope, receive, send)


async def run_worker(config: Path, url: str) -> tuple[int, float, float, str]:
    env = {**os.environ, "CAMPAIGN_SYNC_DATABASE_URL": url, "KEY": "bench-key-0000"}
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, "--config", str(config), "sync-once",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    seconds = time.perf_counter() - started
    peak = int(err.decode().rsplit("peak_rss_kib", 1)[1].split()[0]) / 1024
    return process.returncode or 0, seconds, peak, out.decode().strip()


async def main() -> None:
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # the server's writes after a hang-up
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = os.environ.get("CAMPAIGN_SYNC_BENCH_DATABASE_URL")
        if url is None:
            url = (await stack.enter_async_context(EmbeddedPostgres(tmp / "pgdata"))).url
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        plain = url.replace("postgresql+asyncpg://", "postgresql://")
        huge_url = await stack.enter_async_context(serve(huge))
        voxo_urls = {
            n: await stack.enter_async_context(serve(Voxo(voxo_array(n))))
            for n in (100_000, 400_000)
        }
        cases = {
            "300 MB body": (
                f"  - {{provider: vox_v3, account: huge, base_url: '{huge_url}', "
                "api_key: {env: KEY}}\n"
            ),
        } | {
            f"VOXO array of {n:,}".replace(",", " "): (
                f"  - {{provider: voxo, account: big{n}, base_url: '{voxo_url}', "
                "email: b@x.io, password: {env: KEY}, tenant_id: 1234, fetch_detail: false}\n"
            )
            for n, voxo_url in voxo_urls.items()
        }
        only = os.environ.get("BENCH_ONLY")
        for label, target in cases.items():
            if only and only not in label:
                continue
            config = tmp / "config.yaml"
            config.write_text("targets:\n" + target)
            code, seconds, peak, out = await run_worker(config, plain)
            print(
                f"{label:<24} exit {code}  {seconds:6.1f} s  peak RSS {peak:6.0f} MiB  {out[:90]}"
            )


if __name__ == "__main__":
    asyncio.run(main())
