"""A target's failure stays its own: an internal error is recorded on its run while the
other targets run; no provider input ends in a traceback; and a huge body costs bounded
memory."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tests.acceptance.test_cli import plain
from tests.helpers import row, runtime_for
from tests.hostile.server import KEY, Answer, HostileVox
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.ports import RawRecord
from worker.providers.vox_v3 import VoxV3Source
from worker.runtime.http_server import serve
from worker.simulators.faults import Faults
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

KITS = all_kits()
# Peak memory a worker may reach reading a hostile provider with the default limits
# (docs/configuration.md, "Limits and hostile input"); the Kubernetes manifest allows more.
DOCUMENTED_PEAK_RSS_MIB = 256


class Buggy(VoxV3Source):
    """An adapter with a bug in its listing: what an internal error looks like, from the
    inside. (A bug in its reading of one record costs that record only: see
    ``test_reader_errors.py``.)"""

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        raise RuntimeError("a bug in the adapter")


async def test_an_internal_error_in_one_target_is_recorded_and_the_others_run(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    apps = {}
    for name in ("vox_v3", "vox_v2"):
        app, state = KITS[name].build(clock, Faults(), 1)
        KITS[name].populate(state, 2)
        apps[KITS[name].target] = app
    async with runtime_for(engine, clock, apps) as rt:
        kit = rt.providers["vox_v3/kit"]
        assert isinstance(kit.source, VoxV3Source)
        buggy = dataclasses.replace(kit, source=Buggy(kit.source.http, kit.source.settings))
        rt = dataclasses.replace(rt, providers={**rt.providers, "vox_v3/kit": buggy})
        results = await rt.sync_all()
    assert results["vox_v3/kit"].status == "failed"
    assert results["vox_v3/kit"].error == "internal error: RuntimeError"
    assert results["vox_v2/kit"].status == "succeeded"
    recorded = await row(engine, "SELECT status, error FROM sync_runs WHERE provider = 'vox_v3'")
    assert recorded == {
        "status": "failed",
        "error": "internal error: RuntimeError: a bug in the adapter",
    }


def too_deep(number: int, cursor: str | None) -> Answer:
    return Answer(body=("[" * 5000 + "]" * 5000).encode())


async def _worker(config: Path, db_url: URL, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
        "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        "VOX_KEY": KEY,
        "DEMO_KEY": DEMO_API_KEY,
    }
    # The worker's own peak memory, reported as it exits.
    code = (
        # VmHWM, not getrusage: the latter keeps the parent's high-water mark across exec.
        "import re, sys\n"
        "from worker.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print('peak_rss_kib', hwm, file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    result = await anyio.run_process(
        [sys.executable, "-c", code, "--config", str(config), *args], env=env, check=False
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.mark.slow
async def test_provider_input_never_ends_in_a_traceback(db_url: URL, tmp_path: Path) -> None:
    demo, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=5)
    async with serve(HostileVox(too_deep)) as hostile, serve(demo) as healthy:
        config = tmp_path / "config.yaml"
        config.write_text(
            "targets:\n"
            f"  - {{provider: vox_v3, account: hostile, base_url: '{hostile}', api_key: {{env: VOX_KEY}}}}\n"
            f"  - {{provider: vox_v3, account: demo, base_url: '{healthy}', api_key: {{env: DEMO_KEY}}}}\n"
        )
        code, out, err = await _worker(config, db_url, "sync-once")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        "vox_v3/hostile: failed, 0 records, 0 changed, 0 events, 0 rejected, 0 vanished "
        "(vox_v3/hostile: GET /v3/campaigns returned 200 with a JSON body nested deeper than "
        "about 1000 levels)"
    )
    assert lines[1].startswith("vox_v3/demo: succeeded, 5 records")
    assert "Traceback" not in err


class Huge:
    """Streams a body of ``megabytes`` MB: the start of a JSON page that never ends."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"items": ["'
            block = b"x" * (1024 * 1024)
            for _ in range(self.megabytes):
                yield block

        await StreamingResponse(chunks(), media_type="application/json")(scope, receive, send)


@pytest.mark.slow
async def test_a_300_mb_body_costs_bounded_memory(db_url: URL, tmp_path: Path) -> None:
    async with serve(Huge(300)) as url:
        config = tmp_path / "config.yaml"
        config.write_text(
            "targets:\n"
            f"  - {{provider: vox_v3, account: hostile, base_url: '{url}', api_key: {{env: VOX_KEY}}}}\n"
        )
        code, out, err = await _worker(config, db_url, "sync-once")
    assert code == 1
    assert "with a body over 33554432 bytes (more; http.max_body_bytes)" in out
    peak_kib = int(err.rsplit("peak_rss_kib", 1)[1].split()[0])
    print(f"peak RSS reading a 300 MB body: {peak_kib / 1024:.0f} MiB")
    assert peak_kib < DOCUMENTED_PEAK_RSS_MIB * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
