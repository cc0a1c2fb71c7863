"""The providers' demo simulators: ``campaign-sync simulate`` serves one, the demo all four."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import anyio
from pydantic import SecretStr

from worker.clock import AcceleratedClock
from worker.config import SarvamTarget, Target, VoxoTarget, VoxV2Target, VoxV3Target
from worker.errors import ConfigError
from worker.runtime.http_server import serve
from worker.simulators import sarvam, vox_v2, vox_v3, voxo

__all__ = [
    "SECONDS_PER_DAY",
    "Simulated",
    "demo_simulators",
    "demo_start",
    "serve_simulator",
    "simulator_target_yaml",
]

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class Simulated:
    """One provider's demo simulator: how to build it on a clock, and the target that reaches it."""

    name: str
    build: Callable[..., Any]
    target: Callable[[str], Target]


def demo_simulators() -> list[Simulated]:
    """Every provider's demo simulator and the target settings that reach it."""
    return [
        Simulated(
            "vox_v3",
            vox_v3.demo_app,
            lambda url: VoxV3Target(
                account="demo", base_url=url, api_key=SecretStr(vox_v3.DEMO_API_KEY)
            ),
        ),
        Simulated(
            "vox_v2",
            vox_v2.demo_app,
            lambda url: VoxV2Target(
                account="demo", base_url=url, api_key=SecretStr(vox_v2.DEMO_API_KEY)
            ),
        ),
        Simulated(
            "voxo",
            voxo.demo_app,
            lambda url: VoxoTarget(
                account="demo",
                base_url=url,
                email=voxo.DEMO_EMAIL,
                password=SecretStr(voxo.DEMO_PASSWORD),
                tenant_id=voxo.DEMO_TENANT_ID,
            ),
        ),
        Simulated(
            "sarvam",
            sarvam.demo_app,
            lambda url: SarvamTarget(
                account="demo",
                base_url=url + sarvam.BASE_PATH,
                api_key=SecretStr(sarvam.DEMO_API_KEY),
                org_id=sarvam.DEMO_ORG_ID,
                workspace_id=sarvam.DEMO_WORKSPACE_ID,
            ),
        ),
    ]


def demo_start(now: datetime) -> datetime:
    """Simulated start: today at 02:50 UTC (11:50 in Seoul, just before a window closes)."""
    return datetime.combine(now.astimezone(UTC).date(), time(2, 50), UTC)


def simulator_target_yaml(target: Target) -> str:
    """A config target that reaches a simulator, and its demo credentials in the clear.

    The simulators' credentials are public (they open nothing but the simulator), so
    they are printed; the snippet still references them from the environment, as a
    real target's secrets are.
    """
    fields = target.model_dump(mode="json", exclude={"http", "limits"}, exclude_defaults=True)
    fields = {"provider": target.provider, **fields}
    exports = []
    for name in fields:
        value = getattr(target, name)
        if isinstance(value, SecretStr):
            variable = f"{target.provider}_DEMO_{name}".upper()
            fields[name] = {"env": variable}
            exports.append(f"export {variable}={value.get_secret_value()}")
    lines = [
        "demo credentials (public: they open this simulator only):",
        *(f"  {line}" for line in exports),
        "a target that reaches it (put it under `targets:`):",
        "  - " + "\n    ".join(f"{k}: {json.dumps(v)}" for k, v in fields.items()),
    ]
    return "\n".join(lines)


async def serve_simulator(provider: str, *, port: int, day_seconds: float, seed: int) -> None:
    """Serve one provider's demo simulator on loopback until Ctrl-C (``campaign-sync simulate``)."""
    simulators = {sim.name: sim for sim in demo_simulators()}
    if provider not in simulators:
        raise ConfigError(
            f"no simulator named {provider!r}; known: {', '.join(sorted(simulators))}"
        )
    sim = simulators[provider]
    clock = AcceleratedClock(demo_start(datetime.now(UTC)), SECONDS_PER_DAY / day_seconds)
    app, _state = sim.build(clock, seed=seed)
    async with serve(app, port=port) as url:
        print(f"{provider} simulator on {url} (simulated day = {day_seconds:g}s)", flush=True)
        print(simulator_target_yaml(sim.target(url)), flush=True)
        print("fault knobs: GET/PUT /_sim/faults; Ctrl-C to stop", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
