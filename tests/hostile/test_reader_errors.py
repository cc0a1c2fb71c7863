"""Whatever a record's reading rules raise costs that record alone.

A VOXO time near year 1 or 9999 once raised ``OverflowError`` from deep in the
time-zone arithmetic, and an integer of more than 4 300 digits made the whole
listing "not valid JSON": both stopped the target every cycle. Now the first is a
normalization error naming the field, the second quarantines its record, and any
other exception a provider's reading rules raise is caught per record: quarantined
with its type and message, counted as a bug to report, and the page goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import errors, row, runtime_for
from tests.hostile.server import TARGET, Overwrite, page, pages_of, record, with_raw
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.domain.campaign import Campaign
from worker.domain.dialects import VoxV3Dialect
from worker.simulators.faults import Faults

KITS = all_kits()
NINES = "9" * 4301

# Each reproduced in the attack: one VOXO record whose times leave datetime's range.
OUT_OF_RANGE = {
    "lastrun at 9999-12-31": ({"lastrun": "9999-12-31 23:59:59"}, "lastrun"),
    "dateStart 0001-01-01 in Seoul": (
        {"timezone": "Asia/Seoul", "dateStart": "0001-01-01", "timeStart": "00:00"},
        "dateStart",
    ),
    "dateEnd 9999-12-31 in Chicago": (
        {"dateEnd": "9999-12-31", "timeEnd": "23:59"},
        "dateEnd",
    ),
}


async def sync_voxo_with(
    engine: AsyncEngine, clock: ManualClock, fields: dict[str, Any], **literal: str
) -> tuple[Any, Any, list[str]]:
    """Two cycles of a VOXO account of three campaigns, the second served with ``fields``."""
    kit = KITS["voxo"]
    app, state = kit.build(clock, Faults(), 7)
    ids = kit.populate(state, 3)
    served = Overwrite(app, ids[1], fields, literal)
    async with runtime_for(engine, clock, {kit.target: served}) as rt:
        first = await rt.sync_target(kit.target.name)
        clock.advance(timedelta(minutes=1))
        second = await rt.sync_target(kit.target.name)
    return first, second, ids


async def stored_ids(engine: AsyncEngine) -> str:
    found = await row(
        engine, "SELECT string_agg(campaign_id, ',' ORDER BY campaign_id) AS ids FROM campaigns"
    )
    return str(found["ids"])


@pytest.mark.parametrize("case", OUT_OF_RANGE, ids=list(OUT_OF_RANGE))
async def test_a_voxo_time_out_of_datetime_range_quarantines_its_record_only(
    engine: AsyncEngine, clock: ManualClock, case: str
) -> None:
    fields, field = OUT_OF_RANGE[case]
    first, second, ids = await sync_voxo_with(engine, clock, fields)
    assert (first.status, first.changed, first.rejected) == ("succeeded", 2, 1)
    assert (second.status, second.rejected) == ("succeeded", 1)
    assert await stored_ids(engine) == ",".join(sorted([ids[0], ids[2]]))
    # The simulator's record moves on between cycles, so each cycle quarantines its own.
    rows = await errors(engine)
    assert {(e["kind"], e["campaign_id"]) for e in rows} == {("normalization", ids[1])}
    quarantined = rows[0]
    assert (quarantined["kind"], quarantined["campaign_id"], quarantined["field"]) == (
        "normalization",
        ids[1],
        field,
    )
    assert quarantined["reason"].startswith(f"{field}=")
    assert "out of range" in quarantined["reason"]


INTEGERS = {
    "4 301 digits": (NINES, "4301 digits"),
    "minus 4 301 digits": ("-" + NINES, "4301 digits"),
    "50 000 digits": ("7" * 50_000, "50000 digits"),
}


@pytest.mark.parametrize("case", INTEGERS, ids=list(INTEGERS))
async def test_an_integer_too_long_to_read_quarantines_its_record_only(
    engine: AsyncEngine, clock: ManualClock, case: str
) -> None:
    literal, digits = INTEGERS[case]
    body = page(record("1"), with_raw(record("2"), "total_calls_x", literal), record("3"))
    async with runtime_for(engine, clock, {TARGET: _hostile(body)}) as rt:
        run = await rt.sync_target(TARGET.name)
    assert (run.status, run.changed, run.rejected) == ("succeeded", 2, 1)
    assert await stored_ids(engine) == "1,3"
    (quarantined,) = await errors(engine)
    assert (quarantined["kind"], quarantined["campaign_id"], quarantined["field"]) == (
        "unstorable",
        "2",
        "total_calls_x",
    )
    assert digits in quarantined["reason"]
    assert quarantined["raw"]["id"] == "2"


async def test_an_integer_of_4300_digits_is_stored_exactly(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    body = page(record("1"), with_raw(record("2"), "score", "8" * 4300))
    async with runtime_for(engine, clock, {TARGET: _hostile(body)}) as rt:
        run = await rt.sync_target(TARGET.name)
    assert (run.status, run.changed, run.rejected) == ("succeeded", 2, 0)
    stored = await row(engine, "SELECT raw->>'score' AS score FROM campaigns WHERE campaign_id='2'")
    assert stored["score"] == "8" * 4300


async def test_a_streamed_voxo_list_with_a_huge_integer_quarantines_its_record_only(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    first, _, ids = await sync_voxo_with(engine, clock, {}, callDelay=NINES)
    assert (first.status, first.changed, first.rejected) == ("succeeded", 2, 1)
    quarantined = (await errors(engine))[0]
    assert (quarantined["kind"], quarantined["campaign_id"], quarantined["field"]) == (
        "unstorable",
        ids[1],
        "callDelay",
    )


def _hostile(body: bytes) -> Any:
    from tests.hostile.server import HostileVox

    return HostileVox(pages_of(body))


BUGS: dict[str, Callable[[], BaseException]] = {
    "OverflowError": lambda: OverflowError("date value out of range"),
    "ZeroDivisionError": lambda: ZeroDivisionError("division by zero"),
    "KeyError": lambda: KeyError("agent_id"),
    "RecursionError": lambda: RecursionError("maximum recursion depth exceeded"),
    "an exception of the reading rules' own": lambda: type("Unexpected", (Exception,), {})("odd"),
}


@pytest.mark.parametrize("bug", BUGS, ids=list(BUGS))
async def test_any_exception_from_the_reading_rules_quarantines_its_record_and_counts_a_bug(
    engine: AsyncEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, bug: str
) -> None:
    """A bug in a provider's reading rules (simulated by making ``normalize`` raise for one
    record) quarantines that record with the exception's type; the target goes on."""
    kit = KITS["vox_v3"]
    app, state = kit.build(clock, Faults(), 3)
    ids = kit.populate(state, 3)
    reads = VoxV3Dialect.normalize

    def buggy(self: Any, raw: Any, *, observed_at: datetime) -> Campaign:
        if str(raw.get("id")) == ids[1]:
            raise BUGS[bug]()
        return reads(self, raw, observed_at=observed_at)

    monkeypatch.setattr(VoxV3Dialect, "normalize", buggy)
    labels = {"provider": "vox_v3", "account": kit.target.account}
    before = _sample("campaign_sync_reader_errors_total", labels) or 0.0
    async with runtime_for(engine, clock, {kit.target: app}) as rt:
        first = await rt.sync_target(kit.target.name)
        clock.advance(timedelta(minutes=1))
        second = await rt.sync_target(kit.target.name)
    assert (first.status, first.changed, first.rejected) == ("succeeded", 2, 1)
    assert (second.status, second.rejected) == ("succeeded", 1)
    assert await stored_ids(engine) == ",".join(sorted([ids[0], ids[2]]))
    rows = await errors(engine)
    assert {(e["kind"], e["campaign_id"]) for e in rows} == {("reader_error", ids[1])}
    quarantined = rows[0]
    name = type(BUGS[bug]()).__name__
    assert (quarantined["kind"], quarantined["campaign_id"]) == ("reader_error", ids[1])
    assert quarantined["reason"].startswith(f"{name} while reading the record: ")
    assert "please report it" in quarantined["reason"]
    assert quarantined["raw"]["id"] == ids[1]
    assert _sample("campaign_sync_reader_errors_total", labels) == before + 2


def _sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)
