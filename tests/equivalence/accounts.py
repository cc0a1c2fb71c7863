"""The equivalence fleet's four accounts: each provider's simulator, its campaigns, the
target that reads it, and what changes upstream before each epoch (``tests.equivalence.fleet``
says what each epoch is for).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.kits import voxo as voxo_kit
from tests.scenarios.harness import HOUR, MINUTE, T0
from worker.clock import ManualClock
from worker.config import SarvamTarget, Target, VoxV2Target, VoxV3Target
from worker.simulators import vox_v2, vox_v3
from worker.simulators.faults import Faults
from worker.simulators.sarvam import create_app as sarvam_app
from worker.simulators.sarvam_engine import SarvamCampaign, SarvamEngine, all_day
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.voxo import create_app as voxo_app
from worker.simulators.voxo_engine import VoxoEngine
from worker.simulators.voxo_requests import VoxoCampaign
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span

__all__ = ["FLEET", "Account"]

DAY = timedelta(days=1)
ACCOUNT = "eq"
VOX_KEY = "equivalence-vox-key-0123456789"
SARVAM_KEY, ORG, WORKSPACE = "equivalence-sarvam-key-0123", "org-eq", "ws-eq"
PAGE = 4  # campaigns a page: 5 or 6 pages a cycle
DRAFTS = 12  # campaigns that never move by themselves: most of a "10 %" cycle
# Monday 09:00-12:00 and 13:00-18:00 in Seoul, resumed automatically; T0 is 09:00 there.
SEOUL = Hours(
    timezone="Asia/Seoul",
    ranges=(
        Span(days=("Monday",), start_min=9 * 60, end_min=12 * 60),
        Span(days=("Monday",), start_min=13 * 60, end_min=18 * 60),
    ),
    auto_resume=True,
)
# 09:00-12:00 in Kolkata every day; T0 is 05:30 there, so it opens at T0+3h30m.
KOLKATA_MORNING = Hours(
    timezone="Asia/Kolkata", ranges=(Span(days=EVERY_DAY, start_min=9 * 60, end_min=12 * 60),)
)


class DetailOutage:
    """ASGI wrapper: a request for one of ``paths`` answers 500, as a broken upstream would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"error":"internal"}'})
            return
        await self.app(scope, receive, send)


@dataclass
class Account:
    """One provider's simulated account, its target, and its script's changes per epoch."""

    target: Target
    app: ASGIApp
    changes: dict[str, Callable[[], None]] = field(default_factory=dict)

    def before(self, epoch: str) -> None:
        """Make this provider's changes for ``epoch`` (on the simulator, at the epoch's instant)."""
        change = self.changes.get(epoch)
        if change is not None:
            change()


def vox(clock: ManualClock, version: str) -> Account:
    """vox v3 or v2 (one engine model): windowed, running, paused, finished, cancelled, drafts."""
    engine = VoxEngine(clock, seed=19 if version == "v3" else 23)

    def add(name: str, created: datetime, calls: int = 5000, **extra: Any) -> VoxCampaign:
        campaign = VoxCampaign(
            id=engine.next_id(), name=name, created_at=created, total_calls=calls, **extra
        )
        return engine.add(campaign)

    for n in range(2):  # dialing inside the Seoul window
        add(f"windowed {n}", T0 - 2 * HOUR, scheduled_at=T0 - HOUR, call_window=SEOUL)
    add("finishing", T0 - HOUR, 600, scheduled_at=T0)  # 2.5 calls a minute: done at T0+4h01m
    paused = add("paused by its user", T0 - 3 * HOUR, scheduled_at=T0 - 2 * HOUR)
    engine.pause(paused)
    for n, success in enumerate((80, 0)):  # long done: one success, one fail
        add(f"done {n}", T0 - 3 * DAY, 20, scheduled_at=T0 - 3 * DAY, success_percent=success)
    cancelled = add("cancelled", T0 - DAY, scheduled_at=T0 + DAY)
    engine.cancel(cancelled)
    drafts = [
        add(f"draft {n:02d}", T0 - DAY + n * MINUTE, scheduled_at=T0 + 7 * DAY)
        for n in range(DRAFTS)
    ]
    engine.advance()
    faults = Faults()
    gone = drafts[3]

    def ten_percent() -> None:
        drafts[0].name = "draft 00, renamed"
        drafts[1].total_calls = 7000

    def resume_and_vanish() -> None:
        add("created later", clock.now() - 10 * MINUTE, scheduled_at=T0 + 2 * DAY)
        engine.remove(gone.id)  # after: the next id counts the campaigns

    def poison() -> None:
        if version == "v3":
            faults.malformed = {drafts[5].id: "bad_time", drafts[6].id: "unknown_status"}
            drafts[8].name = "a NUL \x00 PostgreSQL cannot store"
        else:
            faults.malformed = {drafts[5].id: "wrong_type", drafts[6].id: "missing_id"}
            drafts[8].total_calls = 2**63  # past bigint: PostgreSQL cannot store it

    def recover() -> None:
        faults.malformed = {}
        drafts[8].name, drafts[8].total_calls = "draft 08", 5000
        engine.add(gone)

    if version == "v3":
        target: Target = VoxV3Target(
            account=ACCOUNT, base_url="http://vox-v3.test", api_key=SecretStr(VOX_KEY),
            page_size=PAGE,
        )  # fmt: skip
        app = vox_v3.create_app(engine, api_key=VOX_KEY, faults=faults)
    else:  # a campaign vanishes after two missed listings
        target = VoxV2Target(
            account=ACCOUNT, base_url="http://vox-v2.test", api_key=SecretStr(VOX_KEY),
            page_size=PAGE, vanish_after_misses=2,
        )  # fmt: skip
        app = vox_v2.create_app(engine, api_key=VOX_KEY, faults=faults)
    return Account(
        target,
        app,
        {
            "ten-percent": ten_percent,
            "resume-and-vanish": resume_and_vanish,
            "poison-and-failed-detail": poison,
            "recover-and-reappear": recover,
        },
    )


def voxo(clock: ManualClock) -> Account:
    """VOXO: scheduled, long done, paused, dialing in call hours, dialing out, clock-only."""
    engine = VoxoEngine(clock, seed=29)
    engine.add_user(voxo_kit.EMAIL, voxo_kit.PASSWORD, voxo_kit.TENANT)

    def add(start: datetime, end: datetime, **extra: Any) -> VoxoCampaign:
        return engine.add(voxo_kit.campaign(engine, start=start, end=end, **extra))

    # Few numbers and slow dialing: VOXO serves every number in the detail (and raw keeps it).
    drafts = [add(T0 + 7 * DAY, T0 + 8 * DAY, numbers=2) for _ in range(DRAFTS)]
    for _ in range(3):  # dialed all its numbers days ago
        add(T0 - 3 * DAY, T0 - 2 * DAY, numbers=3, created_at=T0 - 4 * DAY)
    paused = [
        add(T0 - HOUR, T0 + 2 * DAY, state="PAUSED", numbers=30, call_frequency=600)
        for _ in range(2)
    ]
    for _ in range(2):  # 17:00-21:00 in Chicago; T0 is 18:00 there
        add(
            T0 - HOUR, T0 + 2 * DAY, numbers=40, call_frequency=900,
            call_hours_start="17:00", call_hours_end="21:00",
        )  # fmt: skip
    add(T0 - 10 * MINUTE, T0 + DAY, numbers=30, call_frequency=180)  # all dialed by T0+1h20m
    add(T0 + 3 * HOUR, T0 + 6 * HOUR, numbers=0)  # moves only by the clock: nothing to dial
    engine.plan(paused[0].id, T0 + 3 * HOUR, "READY")  # its user resumes it
    engine.advance()
    faults = Faults()
    outage = DetailOutage(voxo_app(engine, faults=faults))
    gone = drafts[3]

    def detail(campaign: VoxoCampaign) -> str:
        return f"/v2/call-campaigns/{campaign.id}"

    def poison() -> None:
        faults.malformed = {str(drafts[5].id): "bad_time", str(drafts[6].id): "wrong_type"}
        created = voxo_kit.campaign(engine, start=T0 + 7 * DAY, end=T0 + 8 * DAY, numbers=2)
        created.id += 1000  # the next id counts the campaigns, and one of them is away
        engine.add(created)
        engine.update(drafts[7], {"name": "draft 7, renamed"})
        outage.paths = {detail(created), detail(drafts[7])}

    def recover() -> None:
        faults.malformed = {}
        outage.paths = set()
        engine.add(gone)

    target = voxo_kit.TARGET.model_copy(update={"account": ACCOUNT, "page_size": PAGE})
    return Account(
        target,
        outage,
        {
            "ten-percent": lambda: engine.update(drafts[0], {"name": "draft 0, renamed"}),
            "resume-and-vanish": lambda: engine.remove(gone.id),
            "poison-and-failed-detail": poison,
            "recover-and-reappear": recover,
        },
    )


def sarvam(clock: ManualClock) -> Account:
    """Sarvam: scheduled, active, ending, cancelled, paused and resumed by plan, windowed."""
    engine = SarvamEngine(clock, seed=31)

    def add(name: str, start: datetime, end: datetime, **extra: Any) -> SarvamCampaign:
        values: dict[str, Any] = {
            "allowed_schedule": all_day(),
            "contacts": 100_000,
            "contacts_per_hour": 60,
            "created_at": T0 - 2 * HOUR,
            **extra,
        }
        campaign = SarvamCampaign(
            campaign_id=engine.next_id(),
            name=name,
            start_timestamp=start,
            end_timestamp=end,
            app_config={"app_id": "agent-eq", "app_version": 3, "app_type": "agent"},
            **values,
        )
        return engine.add(campaign)

    drafts = [add(f"draft {n:02d}", T0 + 7 * DAY, T0 + 30 * DAY) for n in range(DRAFTS)]
    for n in range(3):
        add(f"active {n}", T0 - HOUR, T0 + 30 * DAY)
    add("ends", T0 - HOUR, T0 + 4 * HOUR)
    cancelled = add("cancelled", T0 + DAY, T0 + 30 * DAY)
    engine.act(cancelled, "cancel", "ops@example.com")
    planned = add("paused and resumed", T0 - HOUR, T0 + 30 * DAY)
    engine.plan(planned.campaign_id, T0 + 3 * HOUR, "pause", "ops@example.com")
    engine.plan(planned.campaign_id, T0 + 4 * HOUR, "resume", "ops@example.com")
    add("mornings", T0 - HOUR, T0 + 30 * DAY, allowed_schedule=KOLKATA_MORNING)
    engine.advance()
    faults = Faults()
    base = f"/api/scheduling/v1/orgs/{ORG}/workspaces/{WORKSPACE}/campaigns"
    outage = DetailOutage(
        sarvam_app(engine, api_key=SARVAM_KEY, org_id=ORG, workspace_id=WORKSPACE, faults=faults)
    )
    gone = drafts[3]

    def rename(campaign: SarvamCampaign, name: str) -> None:
        campaign.name = name
        engine.touch(campaign, "editor@example.com")

    def poison() -> None:
        faults.malformed = {
            drafts[5].campaign_id: "missing_id",
            drafts[6].campaign_id: "unknown_status",
        }
        new = add("created later", T0 + 7 * DAY, T0 + 30 * DAY, created_at=clock.now())
        rename(drafts[7], "draft 07, renamed")
        outage.paths = {f"{base}/{new.campaign_id}", f"{base}/{drafts[7].campaign_id}"}

    def recover() -> None:
        faults.malformed = {}
        outage.paths = set()
        engine.add(gone)

    target = SarvamTarget(
        account=ACCOUNT,
        base_url="http://sarvam.test/api/scheduling",
        api_key=SecretStr(SARVAM_KEY),
        org_id=ORG,
        workspace_id=WORKSPACE,
        page_size=PAGE,
        detail_refresh_interval=4 * 3600,
    )
    return Account(
        target,
        outage,
        {
            "ten-percent": lambda: rename(drafts[0], "draft 00, renamed"),
            "resume-and-vanish": lambda: engine.remove(gone.campaign_id),
            "poison-and-failed-detail": poison,
            "recover-and-reappear": recover,
        },
    )


FLEET: tuple[Callable[[ManualClock], Account], ...] = (
    lambda clock: vox(clock, "v3"),
    lambda clock: vox(clock, "v2"),
    voxo,
    sarvam,
)
