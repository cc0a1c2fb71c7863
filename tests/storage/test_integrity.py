"""The integrity checks run after every storage test: each one catches the breakage it
names (and a clean sync breaks none)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from tests.helpers import runtime_for
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.simulators.faults import Faults
from worker.storage.engine import create_engine
from worker.storage.integrity import integrity_violations

BREAKAGES = {
    "one open history row per campaign, at its newest version": (
        "UPDATE campaign_history SET valid_to = valid_from + interval '1 hour' "
        "WHERE valid_to IS NULL AND campaign_id = :cid"
    ),
    "versions contiguous from 1": (
        "DELETE FROM campaign_history WHERE version = 1 AND campaign_id = :cid"
    ),
    "no history row ends before it starts": (
        "UPDATE campaign_history SET valid_to = valid_from - interval '1 second' "
        "WHERE version = 1 AND campaign_id = :cid"
    ),
    "no gap or overlap between consecutive versions": (
        "UPDATE campaign_history SET valid_to = valid_to - interval '1 second' "
        "WHERE version = 1 AND campaign_id = :cid"
    ),
    "every history version has an event": (
        "DELETE FROM campaign_events WHERE version = 2 AND campaign_id = :cid"
    ),
    "no event for a version that was never stored": (
        "UPDATE campaign_events SET version = 9 WHERE version = 2 AND campaign_id = :cid"
    ),
    "no run left running once the workers stopped": (
        "INSERT INTO sync_runs (provider, account, started_at, status) "
        "VALUES ('vox_v3', 'kit', now(), 'running')"
    ),
}


@pytest.mark.breaks_integrity
@pytest.mark.parametrize("check", BREAKAGES)
async def test_each_check_catches_its_breakage(db_url: URL, clock: ManualClock, check: str) -> None:
    kit = all_kits()["vox_v3"]
    app, state = kit.build(clock, Faults(), 2)
    (cid,) = kit.populate(state, 1)
    engine = create_engine(db_url)
    try:
        async with runtime_for(engine, clock, {kit.target: app}) as rt:
            await rt.sync_target(kit.target.name)
            clock.advance(timedelta(minutes=10))  # calls progress: version 2
            assert (await rt.sync_target(kit.target.name)).changed == 1
        assert await integrity_violations(engine) == []
        async with engine.begin() as conn:
            await conn.execute(
                text(BREAKAGES[check]), {"cid": cid} if ":cid" in BREAKAGES[check] else {}
            )
        found = await integrity_violations(engine)
    finally:
        await engine.dispose()
    assert any(line.startswith(f"{check}: ") for line in found), found
