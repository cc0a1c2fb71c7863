"""One record's failure never removes another record of the same page.

Each example adds three campaigns to a provider's simulator and serves the middle one
with fields drawn from that provider's wire formats (``tests/hostile/wire_formats.py``),
then runs a real cycle into PostgreSQL: the other two are stored, and the drawn one is
either stored or quarantined with a reason; the cycle never fails for it. The budget is
``FUZZ_PAGE_EXAMPLES`` cycles per provider (12 by default, about 5 s each provider).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import runtime_for
from tests.hostile.server import Overwrite
from tests.hostile.wire_formats import wire_fields
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.simulators.faults import Faults
from worker.storage.tables import sync_errors
from worker.storage.views import campaigns

EXAMPLES = int(os.environ.get("FUZZ_PAGE_EXAMPLES", "12"))
ID_FIELDS = {"vox_v3": "id", "vox_v2": "id", "voxo": "id", "sarvam": "campaign_id"}


async def _ids(engine: AsyncEngine, column: Any) -> set[str]:
    async with engine.connect() as conn:
        return {str(i) for (i,) in await conn.execute(select(column))}


@pytest.mark.parametrize("name", sorted(ID_FIELDS))
async def test_a_drawn_record_never_costs_the_records_beside_it(
    engine: AsyncEngine, clock: ManualClock, name: str
) -> None:
    kit = all_kits()[name]
    app, state = kit.build(clock, Faults(), 11)
    served = Overwrite(app, "", {}, id_field=ID_FIELDS[name])
    async with runtime_for(engine, clock, {kit.target: served}) as rt:

        async def one_cycle(fields: dict[str, Any]) -> None:
            first, drawn, last = kit.populate(state, 3)
            served.aim(drawn, fields)
            clock.advance(timedelta(minutes=1))
            run = await rt.sync_target(kit.target.name)
            assert run.status in ("succeeded", "partial"), run.error
            stored = await _ids(engine, campaigns.c.campaign_id)
            assert {first, last} <= stored
            if drawn not in stored:
                assert drawn in await _ids(engine, sync_errors.c.campaign_id)

        def search() -> None:
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(fields=wire_fields(name))
            def check(fields: dict[str, Any]) -> None:
                anyio.from_thread.run(one_cycle, fields)

            check()

        await anyio.to_thread.run_sync(search)
