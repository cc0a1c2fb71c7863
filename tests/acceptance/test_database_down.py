"""A cycle that cannot even record its start (the database is down) still counts as a
failed cycle in the metrics, and says why."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import REGISTRY

from tests.kits import all_kits
from worker.clock import ManualClock
from worker.errors import StorageError
from worker.runtime.targets import provider_for
from worker.simulators.faults import Faults
from worker.storage.engine import create_engine
from worker.storage.postgres import PostgresStore
from worker.sync.pipeline import CyclePolicy, SyncPipeline


def closed_port() -> int:
    with socket.socket() as sock:  # bound and closed again: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_cycle_that_cannot_start_is_counted_as_failed(clock: ManualClock) -> None:
    kit = all_kits()["vox_v3"]
    app, state = kit.build(clock, Faults(), 1)
    kit.populate(state, 1)
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/down")
    labels = {"provider": "vox_v3", "account": kit.target.account, "status": "failed"}
    before = REGISTRY.get_sample_value("campaign_sync_cycles_total", labels) or 0.0
    try:
        async with httpx.AsyncClient(
            base_url=kit.target.base_url, transport=httpx.ASGITransport(app=app)
        ) as client:
            provider = provider_for(kit.target, client, clock)
            pipeline = SyncPipeline(PostgresStore(engine), clock, owner="test")
            with pytest.raises(StorageError, match="claiming the lease of vox_v3/kit failed"):
                await pipeline.sync_once(provider, CyclePolicy(interval=60))
    finally:
        await engine.dispose()
    assert REGISTRY.get_sample_value("campaign_sync_cycles_total", labels) == before + 1
