"""Contract-test kit for vox.ai v3."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp

from tests.kits import ProviderKit
from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app

KEY = "vox-v3-contract-key"
TARGET = VoxV3Target(account="kit", base_url="http://vox-v3.test", api_key=SecretStr(KEY))
BAD_TARGET = VoxV3Target(account="kit", base_url="http://vox-v3.test", api_key=SecretStr("wrong"))


def build(clock: ManualClock, faults: Faults, seed: int) -> tuple[ASGIApp, Any]:
    engine = VoxEngine(clock, seed=seed)
    return create_app(engine, api_key=KEY, faults=faults), engine


def populate(engine: VoxEngine, n: int) -> list[str]:
    now = engine.clock.now()
    ids = []
    for _ in range(n):
        campaign = VoxCampaign(
            id=engine.next_id(),
            name="contract",
            created_at=now - timedelta(hours=1),
            scheduled_at=now - timedelta(minutes=30),
            total_calls=10_000,
            call_window=None,
        )
        engine.add(campaign)
        ids.append(campaign.id)
    engine.advance()
    return ids


KIT = ProviderKit(
    name="vox_v3",
    target=TARGET,
    bad_target=BAD_TARGET,
    build=build,
    populate=populate,
    auth_status=401,
    malformations=("bad_time", "unknown_status", "missing_id", "wrong_type"),
    paged_target=TARGET.model_copy(update={"page_size": 2}),
    second_page=(lambda method, path: path == "/v3/campaigns", 1),
)
