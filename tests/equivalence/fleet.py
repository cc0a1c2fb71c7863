"""The scripted fleet: about twenty campaigns of each provider, synced through eight epochs.

Everything is fixed: the simulators' seeds, the manual clock's instants, the order of the
campaigns and of every change, so two runs of the script on the same code store the same
rows. Each provider's target reads small pages (several pages per cycle, VOXO's unpaged list
cut by the adapter). The epochs, all four providers synced in each, in this order:

1. ``initial`` (T0+30m): the first sync of every campaign.
2. ``no-change``: the same instant again; nothing may change.
3. ``ten-percent`` (T0+3h35m, 12:35 in Seoul): vox's Seoul morning window closed at 12:00, so
   its windowed campaigns are paused by the system; the few running campaigns moved their
   counters; one campaign per provider is renamed and one vox draft gets more calls; a VOXO
   campaign is resumed by its user and a Sarvam one paused by its user; a VOXO campaign
   whose list item does not move starts by the clock alone.
4. ``resume-and-vanish`` (T0+4h35m, 13:35 in Seoul): the window reopened at 13:00 and the
   windowed campaigns resumed; a campaign of each provider was deleted upstream (vox v2 counts
   a miss: it vanishes after two, and its next listing has a record without an id, so the
   miss is only counted, then reset); a Sarvam campaign reached its end; a vox campaign
   finished its calls; a vox campaign is created; Sarvam reads every detail again (its refresh
   interval).
5. ``poison-and-failed-detail`` (T0+5h10m): malformed records (a bad time, an unknown status,
   a missing id, a wrong type) are quarantined or degraded, a name with a NUL is quarantined
   as unstorable and a count past bigint degrades; VOXO and Sarvam create a campaign whose
   detail answers 500 and rename one whose detail answers 500 (both deferred).
6. ``recover-and-reappear`` (T0+5h40m): the records are whole again, the details answer, and
   the deleted campaigns are back.
7. ``no-change-again``: the same instant again.
8. ``later`` (T0+7h): another hour of the clock (VOXO's clock-only campaign ends).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

from tests.conformance.backends import Backend
from tests.equivalence.accounts import FLEET
from tests.scenarios.harness import HOUR, MINUTE, T0, Harness, harness
from worker.clock import ManualClock
from worker.ports import RunSummary

__all__ = ["EPOCHS", "Epoch", "play"]


@dataclass(frozen=True)
class Epoch:
    """One sync of every provider at ``at``, after each provider's changes for it."""

    name: str
    at: datetime


EPOCHS = (
    Epoch("initial", T0 + 30 * MINUTE),
    Epoch("no-change", T0 + 30 * MINUTE),
    Epoch("ten-percent", T0 + 3 * HOUR + 35 * MINUTE),
    Epoch("resume-and-vanish", T0 + 4 * HOUR + 35 * MINUTE),
    Epoch("poison-and-failed-detail", T0 + 5 * HOUR + 10 * MINUTE),
    Epoch("recover-and-reappear", T0 + 5 * HOUR + 40 * MINUTE),
    Epoch("no-change-again", T0 + 5 * HOUR + 40 * MINUTE),
    Epoch("later", T0 + 7 * HOUR),
)


async def play(backend: Backend) -> list[tuple[str, str, RunSummary]]:
    """Run the whole script on ``backend``; every cycle's ``(epoch, provider, summary)``."""
    clock = ManualClock(T0)
    providers = [build(clock) for build in FLEET]
    cycles: list[tuple[str, str, RunSummary]] = []
    async with AsyncExitStack() as stack:
        harnesses: list[Harness] = [
            await stack.enter_async_context(harness(backend, clock, p.target, p.app))
            for p in providers
        ]
        for epoch in EPOCHS:
            clock.set(epoch.at)
            for provider, h in zip(providers, harnesses, strict=True):
                provider.before(epoch.name)
                summary = await h.sync()
                cycles.append((epoch.name, provider.target.provider, summary))
    return cycles
