"""Bench fleets: each provider's own simulator, with ``n`` campaigns that stand still until
the bench changes a share of them, served by uvicorn in a process of its own.

``python -m bench.fleet PROVIDER --n N --port P [--seed S]`` serves the provider's real
paths and payloads (the project's simulators) plus two bench routes:

* ``POST /_bench/mutate {"percent": p, "phase": k}``: changes ``p`` % of the
  campaigns, chosen by the seed and the phase: half of them change status (a vox
  campaign is paused by the system or resumed, VOXO toggles READY and PAUSED,
  Sarvam pauses or resumes), the rest move a counter or a list field. Answers
  ``{"changed": [ids]}``.
* ``GET /_bench/stats``: requests served so far, by kind (list, detail, other).

The simulators' own ``/_sim/faults`` passes through (``Fleet.set_latency`` sets
the latency the ``latency-*`` phases run at).

The simulated clock is manual and never moves, so nothing changes but what the
bench changes: a no-change cycle is exactly that.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from worker.clock import ManualClock
from worker.domain.windows import EVERY_DAY, CallWindow, WindowRange
from worker.simulators import sarvam, vox_v2, vox_v3, voxo
from worker.simulators.sarvam_engine import SarvamCampaign, SarvamEngine, SarvamOptions
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.voxo_engine import VoxoEngine
from worker.simulators.voxo_requests import VoxoCampaign

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VOXO_EMAIL, VOXO_PASSWORD, VOXO_TENANT = "bench@voxo.test", "bench-voxo-password", 4321
KEYS = {"vox_v3": "bench-vox-v3-key", "vox_v2": "bench-vox-v2-key", "sarvam": "bench-sarvam-key"}
SARVAM_ORG, SARVAM_WORKSPACE = "org-bench", "ws-bench"
# Equal start and end read as open around the clock (Sarvam renders no "24:00").
ALL_DAY = CallWindow(timezone="UTC", ranges=(WindowRange(days=EVERY_DAY, start_min=0, end_min=0),))


def vox_fleet(clock: ManualClock, n: int, seed: int) -> VoxEngine:
    engine = VoxEngine(clock, seed=seed, dispatch_delay=timedelta(0))
    for i in range(n):
        engine.add(
            VoxCampaign(
                id=str(1_000_000 + i),
                name=f"bench campaign {i}",
                created_at=NOW - timedelta(days=30) + timedelta(seconds=i),
                total_calls=100_000,
                concurrency=1,
                seconds_per_call=1e5,  # dials, but no call ends while the clock stands
                status="pending",
            )
        )
    engine.advance()
    return engine


def voxo_fleet(clock: ManualClock, n: int, seed: int) -> VoxoEngine:
    engine = VoxoEngine(clock, seed=seed)
    engine.add_user(VOXO_EMAIL, VOXO_PASSWORD, VOXO_TENANT)
    for i in range(n):
        engine.add(
            VoxoCampaign(
                id=20_000_000_000 + i,
                tenant_id=VOXO_TENANT,
                name=f"bench campaign {i}",
                date_start="2026-02-01",
                time_start="09:00",
                date_end="2026-06-01",
                time_end="17:00",
                timezone="America/Chicago",
                created_at=NOW - timedelta(days=30),
                state="READY",
                numbers=[  # all dialed already: nothing moves by itself
                    {
                        "number": f"60131{j:05d}",
                        "description": f"lead {j}",
                        "disposition": "ANSWERED",
                    }
                    for j in range(3)
                ],
            )
        )
    return engine


def sarvam_fleet(clock: ManualClock, n: int, seed: int) -> SarvamEngine:
    # The bench fleet is all active at once; the quota applies to API actions only anyway.
    engine = SarvamEngine(clock, seed=seed, options=SarvamOptions(max_concurrent=n + 1))
    for i in range(n):
        engine.add(
            SarvamCampaign(
                campaign_id=f"camp-{i:08d}",
                name=f"bench campaign {i}",
                created_at=NOW - timedelta(days=30) + timedelta(seconds=i),
                start_timestamp=NOW - timedelta(days=1),
                end_timestamp=NOW + timedelta(days=60),
                allowed_schedule=ALL_DAY,
                app_config={"app_id": "bench-agent", "app_version": 1, "app_type": "agent"},
                contacts=10**6,
                contacts_per_hour=1,
            )
        )
    engine.advance()
    return engine


class Bench:
    """The simulator app with the bench routes in front, counting requests."""

    def __init__(self, provider: str, n: int, seed: int) -> None:
        self.provider = provider
        self.clock = ManualClock(NOW)
        self.seed = seed
        self.stats = {"list": 0, "detail": 0, "other": 0}
        if provider in ("vox_v3", "vox_v2"):
            self.engine: Any = vox_fleet(self.clock, n, seed)
            module = vox_v3 if provider == "vox_v3" else vox_v2
            self.app: ASGIApp = module.create_app(self.engine, api_key=KEYS[provider])
        elif provider == "voxo":
            self.engine = voxo_fleet(self.clock, n, seed)
            self.app = voxo.create_app(self.engine)
        elif provider == "sarvam":
            self.engine = sarvam_fleet(self.clock, n, seed)
            self.app = sarvam.create_app(
                self.engine,
                api_key=KEYS["sarvam"],
                org_id=SARVAM_ORG,
                workspace_id=SARVAM_WORKSPACE,
            )
        else:
            raise SystemExit(f"unknown provider {provider!r}")
        self.keys = [self.engine._key(c) for c in self.engine._campaigns.values()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/_bench/mutate":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            request = json.loads(body or b"{}")
            changed = self.mutate(float(request["percent"]), int(request.get("phase", 0)))
            await _json(send, {"changed": changed})
            return
        if path == "/_bench/stats":
            await _json(send, self.stats)
            return
        if not path.startswith("/_sim/"):  # the bench's own knob settings are not traffic
            self.stats[self._kind(scope)] += 1
        await self.app(scope, receive, send)

    def _kind(self, scope: Scope) -> str:
        path: str = scope["path"]
        if path.endswith(
            ("/v3/campaigns", "/v2/campaigns/list", "/v2/call-campaigns", "/campaigns")
        ):
            return "list"
        if "/campaigns/" in path or "/call-campaigns/" in path:
            return "detail"
        return "other"

    def mutate(self, percent: float, phase: int) -> list[str]:
        rng = random.Random(f"{self.seed}:{phase}")
        chosen = rng.sample(self.keys, max(1, round(len(self.keys) * percent / 100)))
        at = NOW + timedelta(minutes=phase)
        for i, key in enumerate(chosen):
            campaign = self.engine._campaigns[key]
            getattr(self, f"_mutate_{self.provider.split('_')[0]}")(
                campaign, status=i % 2 == 0, at=at
            )
        return [str(k) for k in chosen]

    def _mutate_vox(self, c: VoxCampaign, *, status: bool, at: datetime) -> None:
        if status and c.status == "ongoing":
            c.status, c.paused_at, c.paused_by = "paused", at, "system"  # the window closed
        elif status and c.status == "paused":
            c.status, c.paused_at, c.paused_by = "ongoing", None, None
        else:
            c.completed_calls += 1  # a call ended: progress

    def _mutate_voxo(self, c: VoxoCampaign, *, status: bool, at: datetime) -> None:
        if status:
            c.state = "PAUSED" if c.state == "READY" else "READY"
        c.lastrun = at  # the list shows the dial

    def _mutate_sarvam(self, c: SarvamCampaign, *, status: bool, at: datetime) -> None:
        if status:
            c.status = "paused" if c.status == "active" else "active"
        c.updated_at, c.updated_by = at, "bench@example.com"


async def _json(send: Send, payload: Any) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description="serve one bench fleet")
    parser.add_argument("provider")
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    bench = Bench(args.provider, args.n, args.seed)
    print(f"ready {args.provider} {args.n}", flush=True)
    uvicorn.run(bench, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
