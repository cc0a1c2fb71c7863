"""Contract-test kit for vox.ai v2, and the vox v2 test material its tests share."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp

from tests.kits import ProviderKit, vox_v3
from worker.clock import ManualClock
from worker.config import VoxV2Target
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxEngine
from worker.simulators.vox_v2 import create_app

KEY = "vox-v2-contract-key"
TARGET = VoxV2Target(account="kit", base_url="http://vox-v2.test", api_key=SecretStr(KEY))
BAD_TARGET = VoxV2Target(account="kit", base_url="http://vox-v2.test", api_key=SecretStr("wrong"))
# Monday 09:00-12:00 and 13:00-18:00 in Seoul; T0 is Monday 09:00 KST (00:00Z).
SEOUL_DAY = {
    "timezone": "Asia/Seoul",
    "auto_resume": True,
    "windows": [
        {"days": ["Monday"], "start_min": 540, "end_min": 720},
        {"days": ["Monday"], "start_min": 780, "end_min": 1080},
    ],
}


def build(clock: ManualClock, faults: Faults, seed: int) -> tuple[ASGIApp, Any]:
    engine = VoxEngine(clock, seed=seed)
    return create_app(engine, api_key=KEY, faults=faults), engine


def populate(engine: VoxEngine, n: int) -> list[str]:
    """v3's running fleet (one engine serves both versions), with both agent_version types."""
    ids = vox_v3.populate(engine, n)
    for index, cid in enumerate(ids):
        campaign = engine.get(cid)
        assert campaign is not None
        # The docs disagree on the type (sample "production", schema integer): serve both.
        campaign.agent_version = "production" if index % 2 else index + 1
    return ids


KIT = ProviderKit(
    name="vox_v2",
    target=TARGET,
    bad_target=BAD_TARGET,
    build=build,
    populate=populate,
    auth_status=401,
    malformations=("bad_time", "unknown_status", "missing_id", "wrong_type"),
    paged_target=TARGET.model_copy(update={"page_size": 2}),
    second_page=(lambda method, path: path == "/v2/campaigns/list", 1),
)
