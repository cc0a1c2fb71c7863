"""Contract-test kit for the Sarvam scheduling API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp

from tests.kits import ProviderKit
from worker.clock import ManualClock
from worker.config import SarvamTarget
from worker.simulators.faults import Faults
from worker.simulators.sarvam import create_app
from worker.simulators.sarvam_engine import SarvamCampaign, SarvamEngine, all_day

KEY = "sarvam-contract-key"
ORG, WORKSPACE = "org-kit", "ws-kit"
# The production base URL carries the /api/scheduling prefix; the simulator serves it too.
BASE_URL = "http://sarvam.test/api/scheduling"
TARGET = SarvamTarget(
    account="kit",
    base_url=BASE_URL,
    api_key=SecretStr(KEY),
    org_id=ORG,
    workspace_id=WORKSPACE,
)
BAD_TARGET = TARGET.model_copy(update={"api_key": SecretStr("wrong")})


def build(clock: ManualClock, faults: Faults, seed: int) -> tuple[ASGIApp, Any]:
    engine = SarvamEngine(clock, seed=seed)
    app = create_app(engine, api_key=KEY, org_id=ORG, workspace_id=WORKSPACE, faults=faults)
    return app, engine


def populate(engine: SarvamEngine, n: int) -> list[str]:
    now = engine.clock.now()
    ids = []
    for _ in range(n):
        campaign = SarvamCampaign(
            campaign_id=engine.next_id(),
            name="contract",
            created_at=now - timedelta(hours=1),
            start_timestamp=now - timedelta(minutes=30),
            end_timestamp=now + timedelta(days=30),
            allowed_schedule=all_day(),
            app_config={"app_id": "agent-contract", "app_version": 1, "app_type": "agent"},
            contacts=100_000,
            contacts_per_hour=60,
        )
        engine.add(campaign)
        ids.append(campaign.campaign_id)
    engine.advance()
    return ids


KIT = ProviderKit(
    name="sarvam",
    target=TARGET,
    bad_target=BAD_TARGET,
    build=build,
    populate=populate,
    auth_status=403,
    malformations=("bad_time", "unknown_status", "missing_id", "wrong_type"),
    paged_target=TARGET.model_copy(update={"page_size": 2}),
    second_page=(lambda method, path: path.endswith("/campaigns"), 1),
)
