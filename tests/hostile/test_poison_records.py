"""One bad record costs one record: values PostgreSQL cannot store are quarantined with a
reason naming the field, the rest of the page is stored, the next cycle is clean, and the
other target of the same worker completes. Fields that are not identity degrade instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import errors, event_types, events, row, runtime_for
from tests.hostile.server import TARGET, HostileVox, Responder, page, pages_of, record, with_raw
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.ports import RunSummary
from worker.simulators.faults import Faults
from worker.storage.tables import campaign_events

HEALTHY = all_kits()["vox_v3"]


async def two_cycles(
    engine: AsyncEngine, clock: ManualClock, respond: Responder
) -> tuple[RunSummary, RunSummary, RunSummary]:
    """Sync the hostile target and a healthy one twice; returns (hostile 1, hostile 2, healthy)."""
    app, state = HEALTHY.build(clock, Faults(), 1)
    HEALTHY.populate(state, 2)
    async with runtime_for(engine, clock, {TARGET: HostileVox(respond), HEALTHY.target: app}) as rt:
        first = await rt.sync_all()
        clock.advance(timedelta(minutes=1))
        second = await rt.sync_all()
    return first[TARGET.name], second[TARGET.name], first[HEALTHY.target.name]


POISON = {
    "a NUL in a field": (
        record("2", name="a\x00b"),
        "name",
        "name: string contains a NUL character",
    ),
    "a NUL deep in the raw record": (
        with_raw(record("2"), "extra", '{"note": ["ok", "x\\u0000"]}'),
        "extra.note[1]",
        "extra.note[1]: string contains a NUL character",
    ),
    "a NUL in a key": (
        with_raw(record("2"), "bad\\u0000key", "1"),
        "bad\\u0000key",
        "bad\\u0000key: key contains a NUL character",
    ),
    "NaN": (
        record("2").replace('"total_calls": 100', '"total_calls": NaN'),
        "total_calls",
        "total_calls: number nan is not finite",
    ),
    "Infinity": (
        record("2").replace('"failed_calls": 1', '"failed_calls": -Infinity'),
        "failed_calls",
        "failed_calls: number -inf is not finite",
    ),
    "1e400": (
        with_raw(record("2"), "score", "1e400"),
        "score",
        "score: number inf is not finite",
    ),
    "a lone surrogate": (
        record("2").replace('"campaign 2"', '"\\ud800x"'),
        "name",
        "name: string contains a lone UTF-16 surrogate",
    ),
    "a string over the size limit": (
        record("2", name="x" * 70_000),
        "name",
        "name: string is 70000 characters long, over the limit of 65536",
    ),
    "nesting past the depth limit": (
        with_raw(record("2"), "deep", "[" * 40 + "]" * 40),
        "deep" + "[0]" * 32,
        "deep" + "[0]" * 32 + ": nested deeper than 32 levels",
    ),
}


@pytest.mark.parametrize("case", POISON, ids=list(POISON))
async def test_an_unstorable_value_costs_its_record_only(
    engine: AsyncEngine, clock: ManualClock, case: str
) -> None:
    poisoned, field, reason = POISON[case]
    body = page(record("1"), poisoned, record("3"))
    hostile, again, healthy = await two_cycles(engine, clock, pages_of(body))
    assert (hostile.status, hostile.changed, hostile.rejected) == ("succeeded", 2, 1)
    assert (again.status, again.changed, again.rejected) == ("succeeded", 0, 1)  # clean, and quiet
    assert healthy.status == "succeeded"
    stored = await row(engine, "SELECT string_agg(campaign_id, ',' ORDER BY campaign_id) AS ids "
                       "FROM campaigns WHERE account = 'hostile'")  # fmt: skip
    assert stored == {"ids": "1,3"}
    (quarantined,) = [e for e in await errors(engine) if e["account"] == "hostile"]
    assert (quarantined["kind"], quarantined["campaign_id"], quarantined["field"]) == (
        "unstorable",
        "2",
        field,
    )
    assert quarantined["reason"] == reason
    assert quarantined["occurrences"] == 2
    assert quarantined["raw"]["id"] == "2"  # stored in a safe form, still readable


async def test_the_safe_form_of_a_quarantined_record_escapes_and_cuts(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    poisoned = with_raw(record("2", name="a\x00b", description="y" * 5000), "n", "NaN")
    await two_cycles(engine, clock, pages_of(page(record("1"), poisoned)))
    (quarantined,) = [e for e in await errors(engine) if e["account"] == "hostile"]
    raw = quarantined["raw"]
    assert raw["name"] == "a\\u0000b"
    assert raw["n"] == "nan"
    assert raw["description"].startswith("y" * 200 + "…[5000 chars, sha256 ")


async def test_counters_past_64_bits_and_unknown_paused_by_degrade_and_the_rest_updates(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    bodies = iter(
        [
            page(record("1")),
            page(
                record(
                    "1",
                    status="paused",
                    paused_at=1_772_409_660_000,
                    paused_by="robot",
                    failed_calls=-3,
                ).replace('"completed_calls": 10', '"completed_calls": 18446744073709551617')
            ),
        ]
    )
    hostile, again, _ = await two_cycles(engine, clock, lambda n, cursor: _answer(next(bodies)))
    assert (hostile.status, again.status, again.changed, again.rejected) == (
        "succeeded",
        "succeeded",
        1,
        0,
    )
    stored = await row(
        engine,
        "SELECT status, paused_by, completed_calls, failed_calls, degraded, "
        "raw->>'completed_calls' AS raw_completed FROM campaigns WHERE account = 'hostile'",
    )
    assert stored == {
        "status": "paused",
        "paused_by": None,
        "completed_calls": None,
        "failed_calls": None,
        "degraded": [
            "paused_by: 'robot' is not one of user, system; stored as null",
            "completed_calls: 18446744073709551617 is past 64 bits; stored as null",
            "failed_calls: -3 is negative; stored as null",
        ],
        "raw_completed": "18446744073709551617",  # jsonb keeps the provider's value exactly
    }
    types = await event_types(engine, "1")
    assert "campaign.paused" in types and "campaign.status_changed" in types
    drift = await events(engine, campaign_events.c.type == "provider.schema_drift")
    assert [(e["data"]["field"], e["data"]["value"]) for e in drift] == [("paused_by", "robot")]


async def test_a_new_top_level_key_is_schema_drift_reported_once(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    body = page(*(with_raw(record(str(i)), "priority", '"high"') for i in range(1, 4)))
    await two_cycles(engine, clock, pages_of(body))
    drift = await events(engine, campaign_events.c.type == "provider.schema_drift")
    assert [(e["data"]["field"], e["data"]["value"]) for e in drift] == [("<key>", "priority")]
    assert drift[0]["data"]["example_campaign_id"] in {"1", "2", "3"}


def _answer(body: bytes) -> Answer:
    return Answer(body=body)


from tests.hostile.server import Answer  # noqa: E402 - used by the helper above
