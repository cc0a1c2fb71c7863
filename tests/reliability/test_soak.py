"""The soak: one simulated day of the whole product, and its footprint not growing.

``campaign-sync demo`` runs every provider's simulator on an accelerated clock, the
real scheduler, the pipeline, the outbox and a webhook sink, on its embedded
PostgreSQL. A day passes in ``DAY_SECONDS``; the test samples the process's resident
memory, open file descriptors and database connections every few seconds and prints
the first and last samples. Behind the ``soak`` marker: ``pytest -m soak`` runs it
(``.ci/run`` does, once); the README's test command skips it."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio
import asyncpg
import pytest

from tests.daemon import daemon

pytestmark = [pytest.mark.soak, pytest.mark.slow, pytest.mark.timeout(600)]

DAY_SECONDS = 120.0  # real seconds per simulated day
POLL_SECONDS = 1.0
SAMPLE_SECONDS = 5.0  # a sampling period: the figures are read, not waited for
WARM_UP_SAMPLES = 3  # pools fill, caches and imports settle in the first seconds
MAX_RSS_GROWTH_MIB = 32.0
MAX_FD_GROWTH = 4
BANNER = re.compile(rb"query it while it runs:\s+\S+ '([^']+)'")


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mib: float
    fds: int
    connections: int

    def __str__(self) -> str:
        return (
            f"t={self.seconds:5.0f} s  rss={self.rss_mib:6.1f} MiB  fds={self.fds:3d}"
            f"  db connections={self.connections}"
        )


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match.group(1)) / 1024


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def connections(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


async def test_a_simulated_day_of_the_demo_keeps_its_footprint(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "worker", "demo", "--webhook",
               "--day-seconds", str(DAY_SECONDS), "--poll-seconds", str(POLL_SECONDS),
               "--duration", str(DAY_SECONDS + 5), "--data-dir", str(tmp_path / "pgdata")]  # fmt: skip
    samples: list[Sample] = []
    out = bytearray()
    async with daemon(command, os.environ) as demo, anyio.create_task_group() as readers:
        process = demo.process

        banner = anyio.Event()  # it names the database to count connections on

        async def read_stdout() -> None:  # the demo prints every event: keep the pipe moving
            assert process.stdout is not None
            async for chunk in process.stdout:
                out.extend(chunk)
                if not banner.is_set() and BANNER.search(out):
                    banner.set()

        readers.start_soon(read_stdout)
        with anyio.fail_after(60):
            await banner.wait()
        found = BANNER.search(out)
        assert found is not None
        dsn = found.group(1).decode()  # the embedded server trusts local users: no password
        began = anyio.current_time()
        while process.returncode is None and anyio.current_time() - began < DAY_SECONDS:
            samples.append(
                Sample(
                    anyio.current_time() - began,
                    rss_mib(process.pid),
                    open_fds(process.pid),
                    await connections(dsn),
                )
            )
            await anyio.sleep(SAMPLE_SECONDS)
        with anyio.fail_after(60):
            code = await process.wait()
    text = out.decode(errors="replace")
    settled, last = samples[WARM_UP_SAMPLES], samples[-1]
    print(
        f"\nsoak: a simulated day in {DAY_SECONDS:g} s, sampled every {SAMPLE_SECONDS:g} s"
        f"\n  at the start  {samples[0]}\n  after warm-up {settled}\n  at the end    {last}"
    )
    assert code == 0, demo.text
    assert "demo stopped" in text
    assert "webhook received" in text and "BAD SIGNATURE" not in text
    assert "Traceback" not in demo.text
    assert last.rss_mib - settled.rss_mib <= MAX_RSS_GROWTH_MIB, samples
    assert last.fds - settled.fds <= MAX_FD_GROWTH, samples
    assert max(s.connections for s in samples) <= 2 * 5 + 2, samples  # the pool: 5 + overflow 5
    assert last.connections <= settled.connections + 2, samples
