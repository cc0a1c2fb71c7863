"""Contract-test kit for VOXO."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from starlette.types import ASGIApp

from tests.kits import ProviderKit
from worker.clock import ManualClock
from worker.config import VoxoTarget
from worker.simulators.faults import Faults
from worker.simulators.voxo import create_app
from worker.simulators.voxo_engine import VoxoEngine
from worker.simulators.voxo_requests import VoxoCampaign

EMAIL = "kit@voxo.test"
PASSWORD = "voxo-contract-password"
TENANT = 1234
ZONE = "America/Chicago"
# The list is one unpaged array; page_size=2 makes the adapter's own pages small
# enough for the contract's "at most 2 per page" check.
TARGET = VoxoTarget(
    account="kit",
    base_url="http://voxo.test",
    email=EMAIL,
    password=SecretStr(PASSWORD),
    tenant_id=TENANT,
    page_size=2,
)
BAD_TARGET = TARGET.model_copy(update={"password": SecretStr("wrong")})


def local(at: datetime, zone: str = ZONE) -> tuple[str, str]:
    """``(YYYY-MM-DD, HH:MM)`` of an instant in ``zone``, as VOXO's date and time fields."""
    wall = at.astimezone(ZoneInfo(zone))
    return wall.strftime("%Y-%m-%d"), wall.strftime("%H:%M")


def campaign(
    engine: VoxoEngine,
    *,
    start: datetime,
    end: datetime,
    state: str = "READY",
    numbers: int = 20,
    zone: str = ZONE,
    created_at: datetime | None = None,
    **extra: Any,
) -> VoxoCampaign:
    """A campaign of the kit's tenant from ``start`` to ``end`` (whole minutes) in ``zone``."""
    date_start, time_start = local(start, zone)
    date_end, time_end = local(end, zone)
    return VoxoCampaign(
        id=engine.next_id(),
        tenant_id=TENANT,
        name=f"campaign {engine.next_id()}",
        date_start=date_start,
        time_start=time_start,
        date_end=date_end,
        time_end=time_end,
        timezone=zone,
        created_at=created_at or engine.clock.now(),
        state=state,
        numbers=[
            {"number": f"601315{i:04d}", "description": f"lead {i}", "disposition": ""}
            for i in range(numbers)
        ],
        **extra,
    )


def build(clock: ManualClock, faults: Faults, seed: int) -> tuple[ASGIApp, Any]:
    engine = VoxoEngine(clock, seed=seed)
    engine.add_user(EMAIL, PASSWORD, TENANT)
    return create_app(engine, faults=faults), engine


def populate(engine: VoxoEngine, n: int) -> list[str]:
    now = engine.clock.now()
    ids = []
    for _ in range(n):
        added = engine.add(
            campaign(engine, start=now - timedelta(hours=1), end=now + timedelta(days=30))
        )
        ids.append(str(added.id))
    engine.advance()
    return ids


KIT = ProviderKit(
    name="voxo",
    target=TARGET,
    bad_target=BAD_TARGET,
    build=build,
    populate=populate,
    auth_status=401,
    malformations=("bad_time", "unknown_status", "missing_id", "wrong_type"),
    paged_target=TARGET,
    second_page=(lambda method, path: path.startswith("/v2/call-campaigns/"), 2),
    key=int,
)
