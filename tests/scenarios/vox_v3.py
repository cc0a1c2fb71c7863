"""vox v3 lifecycles: a call window closes (a system pause at the provider's ``paused_at``) and
reopens (an automatic resume); bad records are quarantined and the rest stored."""

from __future__ import annotations

from pydantic import SecretStr

from tests.conformance.backends import Backend
from tests.scenarios.harness import HOUR, MINUTE, T0, harness
from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.domain.timestamps import to_iso8601
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app
from worker.simulators.wire.hours import Hours, Span

KEY = "vox-scenario-key-0123456789"
TARGET = VoxV3Target(
    account="acme", base_url="http://vox.test", api_key=SecretStr(KEY), page_size=2
)
# Monday 09:00-12:00 and 13:00-18:00 KST, resumed automatically; T0 is Monday 09:00 KST.
SEOUL_MORNING = Hours(
    timezone="Asia/Seoul",
    ranges=(
        Span(days=("Monday",), start_min=9 * 60, end_min=12 * 60),
        Span(days=("Monday",), start_min=13 * 60, end_min=18 * 60),
    ),
    auto_resume=True,
)


def fleet(clock: ManualClock) -> VoxEngine:
    """Three campaigns in the Seoul window, and 104 without a window (never paused by it)."""
    engine = VoxEngine(clock, seed=7)
    for cid in ("101", "102", "103", "104"):
        engine.add(
            VoxCampaign(
                id=cid,
                name=f"campaign {cid}",
                created_at=T0 - HOUR,
                scheduled_at=T0,
                total_calls=2000,
                call_window=None if cid == "104" else SEOUL_MORNING,
            )
        )
    return engine


async def window_closes_and_reopens(backend: Backend) -> None:
    clock = ManualClock(T0)
    app = create_app(fleet(clock), api_key=KEY)
    async with harness(backend, clock, TARGET, app) as h:
        clock.advance(30 * MINUTE)
        first = await h.sync()
        assert (first.status, first.records, first.changed, first.pages) == ("succeeded", 4, 4, 2)
        await h.assert_quiet_cycle()
        clock.advance(3 * HOUR)  # 12:30 KST: the morning window closed at 12:00
        assert (await h.sync()).status == "succeeded"
        await h.assert_quiet_cycle()
        paused_row = await h.inspect.campaign(h.target, "101")
        clock.advance(HOUR)  # 13:30 KST: resumed at 13:00
        assert (await h.sync()).status == "succeeded"

        window_end = T0 + 3 * HOUR
        assert paused_row is not None
        assert {k: paused_row[k] for k in ("status", "status_raw", "paused_by", "paused_at")} == {
            "status": "paused",
            "status_raw": "paused",
            "paused_by": "system",
            "paused_at": window_end,
        }
        paused = await h.inspect.events(type="campaign.paused")
        assert sorted(e["campaign_id"] for e in paused) == ["101", "102", "103"]
        for event in paused:
            assert (event["data"]["paused_by"], event["data"]["inferred"]) == ("system", False)
            assert event["occurred_at"] == window_end  # the provider's paused_at, not the poll
            assert event["data"]["paused_at"] == to_iso8601(window_end)
        assert await h.event_types("101") == [
            "campaign.discovered",
            "campaign.status_changed",
            "campaign.paused",
            "campaign.progress",
            "campaign.status_changed",
            "campaign.resumed",
            "campaign.progress",
        ]
        resumed = (await h.inspect.events(campaign_id="101", type="campaign.resumed"))[0]
        assert (resumed["data"]["paused_by"], resumed["data"]["status_raw"]) == (
            "system",
            "ongoing",
        )
        assert await h.event_types("104") == [
            "campaign.discovered",
            "campaign.progress",
            "campaign.progress",
        ]
        assert len(await h.inspect.history(h.target, "101")) == 3


async def bad_records_are_quarantined(backend: Backend) -> None:
    clock = ManualClock(T0 + 30 * MINUTE)
    faults = Faults(malformed={"101": "bad_time", "102": "unknown_status", "103": "missing_id"})
    app = create_app(fleet(clock), api_key=KEY, faults=faults)
    async with harness(backend, clock, TARGET, app) as h:
        summary = await h.sync()
        again = await h.sync()
        assert (summary.status, summary.rejected, again.rejected) == ("succeeded", 2, 2)
        stored = {
            cid: row["status"]
            for cid in ("101", "102", "103", "104")
            if (row := await h.inspect.campaign(h.target, cid)) is not None
        }
        assert stored == {"102": "unknown", "104": "running"}
        kept = {(e["kind"], e["campaign_id"]): e for e in await h.inspect.errors()}
        assert {key: e["occurrences"] for key, e in kept.items()} == {
            ("normalization", "101"): 2,
            ("normalization", None): 2,
            ("unknown_status", "102"): 1,
        }
        bad_time = kept[("normalization", "101")]
        assert bad_time["field"] == "created_at"
        assert bad_time["reason"].startswith(
            "created_at='2026-03-01T23:00:00Z': expected integer unix milliseconds"
        )
        assert kept[("normalization", None)]["reason"] == "id=<missing>: required"
        assert (
            "'archived' is not in the vox_v3 status table"
            in (kept[("unknown_status", "102")]["reason"])
        )
        (drift,) = await h.inspect.events(type="provider.schema_drift")
        assert drift["data"] == {
            "field": "status",
            "value": "archived",
            "example_campaign_id": "102",
        }
