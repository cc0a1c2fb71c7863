"""The hand-written shapes of the hot path agree with what they stand for: the column
tuples with the tables, the counters' JSON with the counters, event ids with UUIDv5."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.diff import diff
from worker.domain.events import EVENT_NAMESPACE, stable_id
from worker.domain.windows import EVERY_DAY, CallWindow, WindowRange
from worker.storage.engine import json_text
from worker.storage.rows import (
    CAMPAIGN_COLUMNS,
    CURRENT_COLUMNS,
    NEW_VERSION_COLUMNS,
    campaign_row,
    new_version_row,
    new_version_values,
)
from worker.storage.tables import campaign_history
from worker.storage.views import campaigns

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_row_tuples_list_the_tables_columns_in_order() -> None:
    assert tuple(c.name for c in campaigns.columns) == CURRENT_COLUMNS
    shared = [c.name for c in campaign_history.columns if c.name in CAMPAIGN_COLUMNS]
    assert tuple(shared) == CAMPAIGN_COLUMNS
    assert set(NEW_VERSION_COLUMNS) <= {c.name for c in campaign_history.columns}


def test_a_versions_values_are_its_rows_values_with_jsonb_as_text() -> None:
    window = CallWindow(
        timezone="UTC", ranges=(WindowRange(days=EVERY_DAY, start_min=60, end_min=120),)
    )
    campaign = Campaign(
        provider="vox_v3", account="acme", campaign_id="7", name="Survey",
        status=Status.PAUSED, status_raw="paused", paused_by=PausedBy.SYSTEM,
        counters=Counters(total_calls=9, completed_calls=3, failed_calls=1, active_calls=0,
                          concurrency=2),
        created_at=T, paused_at=T, call_window=window, time_flags=("paused_at: gap",),
        degraded=("x: negative",), raw={"id": "7", "nested": {"a": [1, 2]}},
    )  # fmt: skip
    change = diff(None, campaign, T, list_hash="item")
    assert change is not None
    first_seen = T - timedelta(days=3)
    row = new_version_row(change, first_seen)
    assert row["paused_by"] == "system" and row["concurrency"] == 2 and row["list_hash"] == "item"
    assert row["valid_from"] == T and row["first_seen_at"] == first_seen
    assert campaign_row(change) == {name: row[name] for name in CAMPAIGN_COLUMNS}
    encoded = dict(
        zip(NEW_VERSION_COLUMNS, new_version_values(change, first_seen, json_text), strict=True)
    )
    for name in ("call_window", "time_flags", "degraded", "raw"):
        assert encoded[name] == json_text(row[name]), name
    assert encoded["raw"] == '{"id":"7","nested":{"a":[1,2]}}'


def test_counters_json_names_every_counter() -> None:
    counters = Counters(total_calls=1, completed_calls=2, failed_calls=3, active_calls=4,
                        concurrency=5)  # fmt: skip
    assert counters.to_json() == {f.name: getattr(counters, f.name) for f in fields(Counters)}


@given(st.text())
def test_event_ids_are_the_uuid5_of_their_name(name: str) -> None:
    try:
        expected = str(uuid.uuid5(EVENT_NAMESPACE, name))
    except UnicodeEncodeError:  # a lone surrogate: neither encodes it
        return
    assert stable_id(name) == expected
