"""``campaign-sync demo`` as a newcomer runs it: a system pause and its resume within the
first minute, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from tests.helpers import postgres_processes

pytestmark = pytest.mark.slow


async def test_demo_shows_a_system_pause_and_resume_within_a_minute_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "demo-pgdata"
    command = [sys.executable, "-m", "worker", "demo", "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_SYNC_")}
    started = time.monotonic()
    lines: list[str] = []
    paused: set[str] = set()
    resumed_after_system_pause: str | None = None
    async with await anyio.open_process(command, env=env) as process:
        assert process.stdout is not None
        buffer = ""
        with anyio.fail_after(60):  # the promise: within the first minute
            async for chunk in TextReceiveStream(process.stdout):
                buffer += chunk
                *complete, buffer = buffer.split("\n")
                lines.extend(complete)
                for line in complete:
                    fields = line.split()
                    if (
                        len(fields) >= 5
                        and fields[1] == "campaign.paused"
                        and "paused_by=system" in line
                    ):
                        paused.add(fields[3])
                    if len(fields) >= 5 and fields[1] == "campaign.resumed" and fields[3] in paused:
                        resumed_after_system_pause = fields[3]
                if resumed_after_system_pause:
                    break
        elapsed = time.monotonic() - started
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            rest = b"".join([chunk async for chunk in process.stdout]).decode()
            code = await process.wait()
    assert resumed_after_system_pause, "\n".join(lines)
    assert elapsed < 60
    assert code == 0, rest
    assert "demo stopped" in rest
    assert postgres_processes(data_dir) == []


async def test_demo_webhook_shows_signed_deliveries_verified_by_a_receiver(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "demo-pgdata"
    command = [sys.executable, "-m", "worker", "demo", "--webhook", "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_SYNC_")}
    verified: list[str] = []
    async with await anyio.open_process(command, env=env) as process:
        assert process.stdout is not None
        buffer = ""
        with anyio.fail_after(60):
            async for chunk in TextReceiveStream(process.stdout):
                buffer += chunk
                *complete, buffer = buffer.split("\n")
                verified.extend(line for line in complete if "webhook received" in line)
                if len(verified) >= 3:
                    break
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            rest = b"".join([chunk async for chunk in process.stdout]).decode()
            code = await process.wait()
    assert code == 0, rest
    assert all("signature verified" in line for line in verified), verified
    assert "BAD SIGNATURE" not in rest
    assert postgres_processes(data_dir) == []
