"""Every adapter's normalize, fed random JSON shaped like its records (wrong types, missing
fields, huge and odd strings, out-of-range numbers, absurd timestamps): each input either
normalizes to a campaign the real store takes and gives back, or raises the project's
normalization error; nothing else. Unstorable records are set aside before normalize, as
the page step does."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import claim
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.config import LimitSettings
from worker.domain.campaign import TargetKey
from worker.domain.diff import diff
from worker.domain.poison import find_poison
from worker.errors import NormalizationError
from worker.ports import RunSummary
from worker.runtime.targets import provider_for
from worker.storage.postgres import PostgresStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITS = LimitSettings()
SAMPLES = {
    "vox_v3": json.loads((FIXTURES / "vox_v3" / "campaign_seed.json").read_text()),
    "vox_v2": json.loads((FIXTURES / "vox_v2" / "list_response.json").read_text())["campaigns"][0],
    "voxo": json.loads((FIXTURES / "voxo" / "detail.json").read_text()),
    "sarvam": json.loads((FIXTURES / "sarvam" / "detail_q1_payment_reminders.json").read_text()),
}
ID_FIELDS = {"vox_v3": "id", "vox_v2": "id", "voxo": "id", "sarvam": "campaign_id"}
_ids = itertools.count(1)

ODD_STRINGS = [
    "", " ", "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "24:00", "25:61", "Mars/Olympus", "UTC", "2026-03-02", "\ud800", "a\x00b", "x" * 5000,
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 10**13, -(10**13), 253_402_300_800_000])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(ODD_STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def records(draw: st.DrawFn, sample: dict[str, Any]) -> dict[str, Any]:
    record = dict(sample)
    for key in draw(st.lists(st.sampled_from(sorted(sample)), max_size=4, unique=True)):
        del record[key]
    changed = draw(st.dictionaries(st.sampled_from(sorted(sample)), json_values, max_size=5))
    record.update(changed)
    record.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return record


@pytest.mark.parametrize("name", sorted(SAMPLES))
async def test_normalize_either_yields_a_storable_campaign_or_a_normalization_error(
    engine: AsyncEngine, name: str
) -> None:
    kit = all_kits()[name]
    clock = ManualClock(NOW)
    store = PostgresStore(engine)
    lease = await claim(store, TargetKey(provider=name, account=kit.target.account), NOW)
    stored = 0
    async with httpx.AsyncClient() as client:
        provider = provider_for(kit.target, client, clock)

        async def round_trip(raw: dict[str, Any]) -> None:
            nonlocal stored
            if find_poison(
                raw, max_string_chars=LIMITS.max_string_chars, max_depth=LIMITS.max_depth
            ):
                return  # the page step quarantines it before normalize
            try:
                campaign = provider.dialect.normalize(raw, observed_at=NOW)
            except NormalizationError:
                return
            change = diff(None, campaign, NOW)
            assert change is not None
            async with store.page(lease, NOW) as writer:
                written = await writer.write([change], [], records=1)
            assert written.changed == 1
            back = (await store.load(lease.target, [campaign.campaign_id]))[campaign.campaign_id]
            assert back.campaign.snapshot() == campaign.snapshot()
            stored += 1

        def run() -> None:
            @settings(
                max_examples=150,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(records(SAMPLES[name]))
            def check(raw: dict[str, Any]) -> None:
                raw = {**raw, ID_FIELDS[name]: _unique_id(name, raw.get(ID_FIELDS[name]))}
                anyio.from_thread.run(round_trip, raw)

            check()

        try:
            await anyio.to_thread.run_sync(run)
        finally:
            await store.finish(lease, NOW, RunSummary(status="succeeded"))
    assert stored > 0  # the strategy reaches the store, not only the error path


def _unique_id(name: str, drawn: Any) -> Any:
    """Each example its own campaign: a drawn id of a usable type becomes a fresh one of
    that type; anything else stays (normalize must refuse it)."""
    serial = next(_ids)
    if isinstance(drawn, int) and not isinstance(drawn, bool):
        return serial
    return f"fuzz-{serial}" if isinstance(drawn, str) else drawn
