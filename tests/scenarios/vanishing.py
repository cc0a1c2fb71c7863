"""Every provider: a campaign deleted upstream vanishes after a complete listing (a version of
its own, with its last known values), stays away without a second event, and reappears."""

from __future__ import annotations

from datetime import timedelta

from tests.conformance.backends import Backend
from tests.kits import ProviderKit
from tests.scenarios.harness import T0, harness
from worker.clock import ManualClock
from worker.simulators.faults import Faults


async def vanishes_and_reappears(kit: ProviderKit, backend: Backend) -> None:
    clock = ManualClock(T0)
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 3)
    gone = ids[1]
    async with harness(backend, clock, kit.target, app) as h:
        assert (await h.sync()).status == "succeeded"
        kept = state.get(kit.key(gone))
        state.remove(kit.key(gone))  # deleted at the provider
        clock.advance(timedelta(minutes=1))
        first = await h.sync()
        assert (first.status, first.vanished) == ("succeeded", 1)
        row = await h.inspect.campaign(h.target, gone)
        assert row is not None
        assert (row["vanished_at"], row["version"]) == (clock.now(), 2)
        assert row["status"] != "unknown"  # the last known values stay
        clock.advance(timedelta(minutes=1))
        away = await h.sync()  # still gone: no second vanished event
        assert (away.status, away.vanished) == ("succeeded", 0)
        state.add(kept)  # it is back
        clock.advance(timedelta(minutes=1))
        assert (await h.sync()).status == "succeeded"

        types = await h.event_types(gone)
        assert types[:3] == ["campaign.discovered", "campaign.vanished", "campaign.reappeared"]
        assert "campaign.vanished" not in types[3:]
        (vanished,) = await h.inspect.events(campaign_id=gone, type="campaign.vanished")
        assert (vanished["version"], vanished["data"]["last_version"]) == (2, 1)
        row = await h.inspect.campaign(h.target, gone)
        assert row is not None and (row["vanished_at"], row["version"]) == (None, 3)
        history = await h.inspect.history(h.target, gone)
        assert [
            (v["version"], v["valid_to"] is None, v["vanished_at"] is not None) for v in history
        ] == [
            (1, False, False),
            (2, False, True),
            (3, True, False),
        ]
        for other in (ids[0], ids[2]):
            assert "campaign.vanished" not in await h.event_types(other)
