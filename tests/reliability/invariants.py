"""The promises every reliability scenario ends by checking, in one place.

* no observed change is missing from history (history is complete and
  contiguous, every version has its event, and the stored state is what the
  provider shows after a clean cycle);
* no ``event_id`` is duplicated;
* a campaign's version only grows (contiguous from 1, one open row);
* each (target, interval) is synced once (daemon scenarios);
* every subscriber has every event, once by id, in per-campaign order;
* no run is left ``running``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.storage.integrity import integrity_violations

__all__ = ["Received", "as_received", "check_invariants", "first_arrivals"]


@dataclass(frozen=True, slots=True)
class Received:
    """One event as a subscriber got it."""

    event_id: str
    campaign: str  # provider/account/campaign_id
    version: int


def as_received(
    envelopes: Sequence[Mapping[str, object]], target: str | None = None
) -> list[Received]:
    """CloudEvents envelopes as a subscriber got them, copies kept. Their target is
    ``target``, or else each envelope's ``source`` (``campaign-sync/<provider>/<account>``)."""
    received: list[Received] = []
    for event in envelopes:
        version = event["campaignversion"]
        assert isinstance(version, int), event
        source = target or str(event["source"]).removeprefix("campaign-sync/")
        received.append(Received(str(event["id"]), f"{source}/{event['subject']}", version))
    return received


def first_arrivals(
    envelopes: Sequence[Mapping[str, object]], target: str | None = None
) -> list[Received]:
    """Each id once, as it first arrived: a webhook is delivered at least once, so a
    sender that lost an answer (or was killed) may send an event again."""
    seen: set[str] = set()
    firsts: list[Received] = []
    for event in as_received(envelopes, target):
        if event.event_id not in seen:
            seen.add(event.event_id)
            firsts.append(event)
    return firsts


_DUPLICATE_IDS = """
    SELECT event_id || ' stored ' || count(*) || ' times'
    FROM campaign_events GROUP BY event_id HAVING count(*) > 1
"""
# Two complete runs of one target in one interval slot (slots are aligned to the epoch).
_TWICE_IN_A_SLOT = """
    SELECT r.provider || '/' || r.account || ': ' || count(*) || ' runs in slot '
           || floor(extract(epoch FROM r.started_at) / t.interval_seconds)
    FROM sync_runs r
    JOIN sync_targets t ON t.provider = r.provider AND t.account = r.account
    WHERE r.status IN ('succeeded', 'partial') AND t.interval_seconds > 0
    GROUP BY r.provider, r.account, floor(extract(epoch FROM r.started_at) / t.interval_seconds)
    HAVING count(*) > 1
"""
_EVENTS = """
    SELECT event_id::text, provider || '/' || account || '/' || campaign_id, version
    FROM campaign_events WHERE type LIKE 'campaign.%' ORDER BY id
"""
_STATES = """
    SELECT provider || '/' || account || '/' || campaign_id, status FROM campaigns
    WHERE vanished_at IS NULL
"""


async def check_invariants(
    engine: AsyncEngine,
    *,
    subscribers: Mapping[str, Sequence[Received]] | None = None,
    provider_statuses: Mapping[str, str] | None = None,
    once_per_interval: bool = False,
) -> None:
    """Fail the test with every broken promise, one line each.

    Args:
        subscribers: what each subscriber received, by its name.
        provider_statuses: ``provider/account/campaign_id`` -> normalized status, as the
            provider shows it now; the stored current state must match it exactly.
        once_per_interval: the runs came from the scheduler, which syncs a target once
            per interval slot.
    """
    problems = await integrity_violations(engine)
    async with engine.connect() as conn:
        problems += [
            f"duplicate event id: {r}" for (r,) in await conn.execute(text(_DUPLICATE_IDS))
        ]
        if once_per_interval:
            problems += [
                f"synced twice: {r}" for (r,) in await conn.execute(text(_TWICE_IN_A_SLOT))
            ]
        stored = [(str(e), str(c), int(v)) for e, c, v in await conn.execute(text(_EVENTS))]
        states = {str(c): str(s) for c, s in await conn.execute(text(_STATES))}
    if provider_statuses is not None and states != dict(provider_statuses):
        wrong = sorted(set(states.items()) ^ set(provider_statuses.items()))[:20]
        problems.append(f"stored state differs from the provider's: {wrong}")
    for name, received in (subscribers or {}).items():
        problems += _subscriber_problems(name, received, stored)
    assert not problems, "\n".join(problems)


def _subscriber_problems(
    name: str, received: Sequence[Received], stored: Sequence[tuple[str, str, int]]
) -> list[str]:
    problems: list[str] = []
    ids = [r.event_id for r in received]
    if len(ids) != len(set(ids)):
        problems.append(f"{name}: {len(ids) - len(set(ids))} events received twice")
    missing = {e for e, _, _ in stored} - set(ids)
    if missing:
        problems.append(f"{name}: {len(missing)} events never received, e.g. {sorted(missing)[:3]}")
    last: dict[str, int] = {}
    for event in received:
        if event.version < last.get(event.campaign, 0):
            problems.append(
                f"{name}: {event.campaign} v{event.version} after v{last[event.campaign]}"
            )
        last[event.campaign] = max(event.version, last.get(event.campaign, 0))
    return problems
