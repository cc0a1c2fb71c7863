"""The write path stores what it stored before issue 19: every row, event id and version.

``tests.equivalence.fleet`` syncs one scripted fleet (vox v3, vox v2, VOXO and Sarvam, about
twenty campaigns each, through their simulators on a manual clock, in small pages) through
eight epochs: the initial sync, a cycle without changes, a cycle where a few campaigns change
(a calling window's system pause, counters, renames), the window's automatic resume, a
campaign vanishing and reappearing, malformed and unstorable records quarantined, details
failing (deferred), and later cycles. The rows it leaves in ``campaigns``,
``campaign_history``, ``campaign_events``, ``sync_errors`` and ``sync_runs`` are compared, row
by row and column by column, with ``tests/fixtures/equivalence/``, recorded from the code at
commit 080e438, before issue 19 changed the write path.

Compared: every column of those tables, except

* ``campaign_history.id`` and ``sync_errors.id``: a sequence's choice (an insert that
  conflicts still takes a number), not data; the rows are keyed by campaign and version,
  and by fingerprint;
* ``campaign_events.id``: compared as ``position``, the event's place among its campaign's
  events in outbox order, which is what a subscriber relies on; the ids themselves are a
  sequence's choice;
* ``campaign_events.xid``: the writing transaction's id, the server's;
* ``sync_runs.id``: compared as the run's place among its target's runs (``sync_errors
  .last_run_id`` as that place too);
* ``sync_errors.first_seen_at``/``last_seen_at`` where they were the database's ``now()`` (a
  page without changes noted its rejections at its transaction's time): recorded as
  ``<the database's now()>``, which matches any value. They are detection times, which the
  issue lets differ: since several pages share a transaction (``worker.sync.batches``), a
  page's rejections that share one with another page's changes are noted at the batch's
  observation time instead. A value recorded from the scripted clock is still compared
  exactly.

Every other time comes from the manual clock (observation, detection, lease and run times), so
it is compared; so are event ids, versions, types, data, raw records, hashes and counters. The
issue allows detection times to differ; on a manual clock that does not move within a cycle
they cannot, so a difference in ``detected_at`` here is a real change of what it means. The
columns read are ``tests.equivalence.rows.COLUMNS``: a column added later is not compared, a
column dropped fails the read.

The in-memory store is held to the same fixture: it keeps the same rows, except that it
notes a page's rejections at the page's lease time where PostgreSQL uses ``now()``, so
``<the database's now()>`` matches any value there.

Recording again::

    CAMPAIGN_SYNC_TEST_RECORD_EQUIVALENCE=1 pytest tests/storage/test_equivalence.py

rewrites the fixture from the code as it stands. Do it only for a deliberate change of what is
stored (a new rule, a fixed bug), and say so in the commit; never to make a speed change pass.
The simulators feed the script, so a change to what they serve shows here too. (The fixture
was recorded in a git worktree of 080e438 (``git worktree add <dir> 080e438``), with
``tests/equivalence/`` and this module copied in and ``PYTHONPATH=<dir>`` ahead of the
installed worker, which is how to record it from any other commit.)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conformance.backends import memory_backend, postgres_backend
from tests.equivalence.fleet import play
from tests.equivalence.rows import differences, load, memory_snapshot, postgres_snapshot, save
from worker.memory import MemoryStore

RECORD_ENV = "CAMPAIGN_SYNC_TEST_RECORD_EQUIVALENCE"
SHOWN = 40


def _report(diffs: list[str], store: str) -> str:
    shown = "\n".join(diffs[:SHOWN])
    more = f"\n… and {len(diffs) - SHOWN} more" if len(diffs) > SHOWN else ""
    return (
        f"{store} stores {len(diffs)} values other than the code before issue 19 did "
        f"(tests/fixtures/equivalence/; see this module's docstring):\n{shown}{more}"
    )


async def test_postgres_stores_every_row_as_before_issue_19(engine: AsyncEngine) -> None:
    started = datetime.now(UTC)
    await play(postgres_backend(engine))
    wall = (started, datetime.now(UTC))
    stored = await postgres_snapshot(engine, wall)
    if os.environ.get(RECORD_ENV) == "1":
        save(stored)
    diffs = differences(load(), stored, database_now_matches_any=True)
    assert not diffs, _report(diffs, "PostgreSQL")


async def test_the_memory_store_stores_the_same_rows() -> None:
    backend = memory_backend()
    await play(backend)
    assert isinstance(backend.store, MemoryStore)
    stored = memory_snapshot(backend.store.state)
    diffs = differences(load(), stored, database_now_matches_any=True)
    assert not diffs, _report(diffs, "The in-memory store")


def test_the_recorded_rows_tell_every_story_of_the_script() -> None:
    """A fixture recorded again still holds what the script is for, or it guards less."""
    recorded = load()
    events = recorded["campaign_events"].values()
    assert {e["type"] for e in events} >= {
        "campaign.discovered", "campaign.status_changed", "campaign.progress",
        "campaign.updated", "campaign.paused", "campaign.resumed", "campaign.finished",
        "campaign.vanished", "campaign.reappeared", "provider.schema_drift",
    }  # fmt: skip
    system = [
        e for e in events if e["type"] == "campaign.paused" and e["data"]["paused_by"] == "system"
    ]
    assert {e["provider"] for e in system} == {"vox_v3", "vox_v2"}
    kinds = {(e["provider"], e["kind"]) for e in recorded["sync_errors"].values()}
    assert kinds >= {("vox_v3", "unstorable"), ("voxo", "detail"), ("sarvam", "detail")}
    assert {kind for _, kind in kinds} >= {"normalization", "unknown_status"}
    runs = recorded["sync_runs"].values()
    assert {r["provider"] for r in runs if r["deferred"] and r["status"] == "partial"} == {
        "voxo",
        "sarvam",
    }
    assert all(r["pages"] >= 5 for r in runs)  # several pages a cycle
    quiet = [r for r in runs if r["records"] and not r["changed"]]
    assert len(quiet) >= 8  # two cycles without a change, per provider
    vanished = {e["provider"] for e in events if e["type"] == "campaign.vanished"}
    assert vanished == {"vox_v3", "voxo", "sarvam"}  # vox v2 only counts a miss
