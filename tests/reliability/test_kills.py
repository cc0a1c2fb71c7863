"""SIGKILL at random points, during a sync of 2 000 campaigns with a webhook backlog. What
was committed is always whole pages, and a rerun finishes the work with nothing lost and
nothing twice.

Eight kills in the README's test command (about 80 s); ``.ci/run`` runs it once more
with the twenty issue 12 asks for (``RELIABILITY_KILLS=20``, about 5 minutes: the last
worker then has a backlog of some 8 000 deliveries to drain).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon import daemon, run_command
from tests.delivery.receiver import SECRET, Receiver
from tests.helpers import stored_event_ids
from tests.kits.vox_v3 import KEY, KIT
from tests.reliability.invariants import check_invariants, first_arrivals
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.faults import Faults
from worker.storage.integrity import integrity_violations

pytestmark = [pytest.mark.slow, pytest.mark.storage]

KILLS = int(os.environ.get("RELIABILITY_KILLS", "8"))
PROGRESS_SECONDS = 60  # the longest wait between two deliveries (a dead sender's claim hold)
CAMPAIGNS = 2000


@dataclass
class Counting(Receiver):
    """Signals every accepted delivery, so a wait ends on a delivery, not on time."""

    arrived: anyio.Event = field(default_factory=anyio.Event)

    async def _answer(self, body: bytes, headers: dict[str, str]) -> int:
        status = await super()._answer(body, headers)
        self.arrived.set()
        self.arrived = anyio.Event()
        return status


@pytest.mark.timeout(600)
async def test_kills_at_random_points_lose_nothing_and_duplicate_nothing(
    db_url: URL, engine: AsyncEngine, clock: ManualClock, tmp_path: Path
) -> None:
    rng = random.Random(20)
    app, sim = KIT.build(clock, Faults(), 8)
    KIT.populate(sim, CAMPAIGNS)
    receiver = Counting()
    async with serve(app) as url, serve(receiver) as hook:
        config = tmp_path / "config.yaml"
        config.write_text(
            "lease_ttl: 2\nlog_level: DEBUG\n"
            f"targets:\n  - {{provider: vox_v3, account: fleet, base_url: '{url}', "
            "api_key: {env: KEY}, poll_interval: 1, page_size: 100}\n"
            # A killed sender's claims wait out their hold, (timeout + 5) × rounds: keep it short.
            f"webhooks:\n  - {{name: hook, url: '{hook}/in', secret: {{env: HOOK}}, timeout: 1}}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": db_url.set(drivername="postgresql").render_as_string(
                hide_password=False
            ),
            "KEY": KEY,
            "HOOK": SECRET,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = run_command(config)
        for _ in range(KILLS):
            lines_before_kill = rng.randint(3, 400)  # a random point of the run, by its log
            async with daemon(command, env) as worker:
                await worker.logged(lines_before_kill)
                worker.process.kill()
                await worker.process.wait()
            # Whole pages only: every stored version has its history and its event.
            assert await integrity_violations(engine, workers_stopped=False) == []
            clock.advance(timedelta(minutes=7))  # the fleet moves between two workers

        # A last worker runs until the receiver holds every stored event.
        async with daemon(command, env) as worker:
            try:
                await _until_delivered(engine, receiver)
            except TimeoutError:
                missing = await stored_event_ids(engine) - set(receiver.ids())
                raise AssertionError(
                    f"{len(missing)} events never reached the receiver "
                    f"({receiver.attempts} attempts, none for {PROGRESS_SECONDS} s)"
                ) from None
            assert await worker.stop() == 0
    await check_invariants(
        engine,
        subscribers={
            "webhook (first arrival of each id)": first_arrivals(receiver.accepted, "vox_v3/fleet")
        },
    )
    async with engine.connect() as conn:
        runs = (await conn.execute(text("SELECT count(*) FROM sync_runs"))).scalar_one()
    assert runs >= KILLS  # each worker got as far as starting a run


async def _until_delivered(engine: AsyncEngine, receiver: Counting) -> None:
    """Until the receiver holds every stored event, as long as deliveries keep coming.

    Bounded by progress, not by a total: a backlog of thousands drains at the
    sender's pace (about 40 a second on two busy cores).
    """
    while not (stored := await stored_event_ids(engine)) <= set(receiver.ids()):
        while len(set(receiver.ids())) < len(stored):
            with anyio.fail_after(PROGRESS_SECONDS):
                await receiver.arrived.wait()
