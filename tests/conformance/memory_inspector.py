"""The conformance suite's view of a ``MemoryState``: its tables, read directly.

Rows become the dicts a PostgreSQL inspector returns (see ``inspector``): JSON
values go through a JSON round trip, as they would through ``jsonb``. The
integrity checks are ``worker.storage.integrity``'s, written over the tables.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from tests.conformance.inspector import CAMPAIGN, ERROR, EVENT, HISTORY, RUN, TARGET, Row
from worker.domain.campaign import TIME_FIELDS, Campaign, CampaignKey, TargetKey
from worker.memory import MemoryState
from worker.memory.tables import CampaignRow, ErrorRow, EventRow, HistoryRow, RunRow

__all__ = ["MemoryInspector"]


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=dict))


def _versioned(campaign: Campaign, version: int, content_hash: str) -> Row:
    c = campaign
    return {
        "provider": c.provider,
        "account": c.account,
        "campaign_id": c.campaign_id,
        "version": version,
        "name": c.name,
        "status": c.status.value,
        "status_raw": c.status_raw,
        "status_derived": c.status_derived,
        "paused_by": None if c.paused_by is None else c.paused_by.value,
        **c.counters.to_json(),
        **{name: getattr(c, name) for name in TIME_FIELDS},
        "call_window": None if c.call_window is None else _json(c.call_window.to_json()),
        "time_flags": list(c.time_flags),
        "degraded": list(c.degraded),
        "raw": _json(c.raw),
        "content_hash": content_hash,
    }


def campaign_columns(row: CampaignRow) -> Row:
    found = {
        **_versioned(row.campaign, row.version, row.content_hash),
        "first_seen_at": row.first_seen_at,
        "last_changed_at": row.last_changed_at,
        "vanished_at": row.vanished_at,
        "missed_listings": row.missed_listings,
        "list_hash": row.list_hash,
    }
    return {name: found[name] for name in CAMPAIGN}


def history_columns(row: HistoryRow) -> Row:
    found = {
        **_versioned(row.campaign, row.version, row.content_hash),
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "vanished_at": row.vanished_at,
    }
    return {name: found[name] for name in HISTORY}


def event_columns(row: EventRow) -> Row:
    e = row.event
    found = {
        "id": row.id,
        "event_id": e.event_id,
        "type": e.type,
        "provider": e.key.provider,
        "account": e.key.account,
        "campaign_id": e.key.campaign_id,
        "version": e.version,
        "occurred_at": e.occurred_at,
        "detected_at": e.detected_at,
        "data": _json(e.data),
    }
    return {name: found[name] for name in EVENT}


def error_columns(row: ErrorRow) -> Row:
    k = row.kept
    found = {
        "fingerprint": k.fingerprint,
        "provider": row.target.provider,
        "account": row.target.account,
        "kind": k.kind.value,
        "campaign_id": k.campaign_id,
        "field": k.field,
        "reason": k.reason,
        "raw": _json(k.raw),
        "detail": _json(k.detail),
        "first_seen_at": row.first_seen_at,
        "last_seen_at": row.last_seen_at,
        "occurrences": row.occurrences,
        "last_run_id": row.last_run_id,
    }
    return {name: found[name] for name in ERROR}


def run_columns(row: RunRow) -> Row:
    target = {"provider": row.target.provider, "account": row.target.account}
    return {name: target[name] if name in target else getattr(row, name) for name in RUN}


class MemoryInspector:
    """Reads one MemoryState's committed tables."""

    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def campaign(self, target: TargetKey, campaign_id: str) -> Row | None:
        row = self.state.campaigns.rows.get(_key(target, campaign_id))
        return None if row is None else campaign_columns(row)

    async def history(self, target: TargetKey, campaign_id: str) -> list[Row]:
        key = _key(target, campaign_id)
        rows = [row for (k, _), row in self.state.history.rows.items() if k == key]
        return [history_columns(row) for row in sorted(rows, key=lambda r: r.version)]

    async def events(self, campaign_id: str | None = None, type: str | None = None) -> list[Row]:
        return [
            event_columns(row)
            for row in self.state.outbox()
            if campaign_id in (None, row.event.key.campaign_id) and type in (None, row.event.type)
        ]

    async def errors(self) -> list[Row]:
        rows = sorted(self.state.errors.rows.values(), key=lambda r: r.id)
        return [error_columns(row) for row in rows]

    async def runs(self, target: TargetKey) -> list[Row]:
        rows = sorted(self.state.runs.rows.values(), key=lambda r: r.id)
        return [run_columns(row) for row in rows if row.target == target]

    async def target(self, target: TargetKey) -> Row | None:
        row = self.state.targets.rows.get(target)
        return None if row is None else {name: getattr(row, name) for name in TARGET}

    async def integrity(self) -> list[str]:
        return integrity_violations(self.state)


def _key(target: TargetKey, campaign_id: str) -> CampaignKey:
    return CampaignKey(provider=target.provider, account=target.account, campaign_id=campaign_id)


def integrity_violations(state: MemoryState, *, workers_stopped: bool = True) -> list[str]:
    """``worker.storage.integrity``'s checks over a MemoryState, as ``"<check>: <what>"``."""
    found: list[str] = []
    versions: dict[CampaignKey, dict[int, HistoryRow]] = defaultdict(dict)
    for (key, version), row in state.history.rows.items():
        versions[key][version] = row
    event_versions = {
        (row.event.key, row.event.version)
        for row in state.events.rows.values()
        if row.event.type.startswith("campaign.")
    }
    for key, current in state.campaigns.rows.items():
        open_rows = [v for v, row in versions[key].items() if row.valid_to is None]
        if open_rows != [current.version]:
            found.append(
                f"one open history row per campaign: {key} v{current.version}: {open_rows}"
            )
        elif (current.vanished_at is None) != (versions[key][current.version].vanished_at is None):
            found.append(f"a vanished campaign's open version is its vanish: {key}")
    for key, rows in versions.items():
        current_row = state.campaigns.rows.get(key)
        if sorted(rows) != list(range(1, len(rows) + 1)) or (
            current_row is None or current_row.version != max(rows)
        ):
            found.append(f"versions contiguous from 1, matching the current row: {key}")
        for version, row in rows.items():
            if row.valid_to is not None and row.valid_to < row.valid_from:
                found.append(f"no history row ends before it starts: {key} v{version}")
            after = rows.get(version + 1)
            if after is not None and row.valid_to != after.valid_from:
                found.append(f"no gap or overlap between versions: {key} v{version}")
            if (key, version) not in event_versions:
                found.append(f"every history version has an event: {key} v{version}")
    for event_key, version in event_versions:
        stored = state.campaigns.rows.get(event_key)
        if stored is None or version > stored.version:
            found.append(f"no event for a version never stored: {event_key} v{version}")
    if workers_stopped:
        found.extend(
            f"no run left running: run {run.id} of {run.target}"
            for run in state.runs.rows.values()
            if run.status == "running"
        )
    return found
