"""A key the provider echoes into its records is blanked everywhere the worker keeps data.

The hostile provider puts this target's API key into a campaign's name, its status (an
unknown one, so it is stored in ``status_raw`` and noted), a field of its own (schema
drift, reported as an event) and, in a quarantined record, straddling the 200-character
cut of a long string. No table and no event may hold the key, or the head of it.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import runtime_for
from tests.hostile.server import KEY, TARGET, HostileVox, page, pages_of, record, with_raw
from worker.clock import ManualClock
from worker.providers.responses import error_detail

TABLES = ["campaigns", "campaign_history", "campaign_events", "sync_errors", "sync_runs"]
HEAD = KEY[:9]  # what a cut before redaction would leave behind


async def dump(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        return {
            table: "\n".join(
                str(r[0])
                for r in await conn.execute(text(f"SELECT t::text FROM {table} t"))  # noqa: S608 - our table names
            )
            for table in TABLES
        }


async def test_a_key_echoed_in_records_is_in_no_table_and_no_event(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    straddling = "x" * 195 + KEY + "y" * 100
    body = page(
        record("1", name=f"campaign for {KEY}"),
        record("2", status=f"paused-{KEY}"),
        with_raw(record("3"), "echo", f'{{"sent": "Bearer {KEY}", "{KEY}": 1}}'),
        record("4", name="a\x00b", description=straddling),  # quarantined: a NUL
    )
    async with runtime_for(engine, clock, {TARGET: HostileVox(pages_of(body))}) as rt:
        run = await rt.sync_target(TARGET.name)
    assert (run.status, run.changed, run.rejected) == ("succeeded", 3, 1)
    tables = await dump(engine)
    for table, content in tables.items():
        assert KEY not in content, table
        assert HEAD not in content, table
    assert "campaign for [REDACTED]" in tables["campaigns"]
    assert "paused-[REDACTED]" in tables["campaigns"]  # the unknown status, as stored
    assert "provider.schema_drift" in tables["campaign_events"]
    assert "x" * 195 + "[REDA" in tables["sync_errors"]  # cut after the key was blanked


async def test_a_record_without_a_key_is_stored_as_the_provider_sent_it(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    body = page(record("1", name="[REDACTED] is just a name here"))
    async with runtime_for(engine, clock, {TARGET: HostileVox(pages_of(body))}) as rt:
        run = await rt.sync_target(TARGET.name)
    assert run.status == "succeeded"
    stored = (await dump(engine))["campaigns"]
    assert "[REDACTED] is just a name here" in stored


def test_an_error_body_echoing_a_key_across_its_cut_keeps_no_part_of_it() -> None:
    """Provider error messages carry a summary of the error body, cut to 200 characters;
    the key is blanked before the cut."""
    body = json.dumps({"error": {"code": "bad_key", "message": "m" * 180 + KEY}}).encode()
    summary = error_detail(body, secrets=(KEY,))
    assert HEAD not in summary
    assert summary.startswith("bad_key: " + "m" * 180 + "[REDA")
