"""The events a new version of a campaign produces, and when each happened.

Pure. Rules for an event's ``occurred_at`` (DESIGN.md section 5: provider time,
else observation):

* paused: the provider's ``paused_at`` when it moved, else its ``updated_at``
  when that moved, else observed.
* finished: ``finished_at``; else the provider's ``updated_at`` when it moved;
  else, for a derived status, the scheduled end; else observed.
* status_changed: as paused/finished for those statuses; a derived start from a
  waiting status uses the scheduled start; otherwise the provider's ``updated_at``
  when it moved, else observed.
* anything else: the provider's ``updated_at`` when it moved, else observed.

Inferred transitions (``inferred: true``), when two polls show that something
happened in between:

* paused both times, at a new ``paused_at``: a ``resumed`` dated at the new
  ``paused_at`` (the latest instant it can have happened, so it never follows
  the pause it precedes), then the ``paused``;
* running both times, but ``paused_at`` moved: a ``paused`` at the new
  ``paused_at``, then a ``resumed`` dated when it was observed.

A change of ``paused_by`` while the campaign stays paused is an ``updated``
event whose ``changes`` name ``paused_by``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.domain.campaign import TERMINAL_STATUSES, Campaign, Status
from worker.domain.events import ChangeEvent, EventKind, event_id
from worker.domain.timestamps import to_iso8601

__all__ = ["EventBuilder", "transition_events"]

# Fields whose change is told by their own event; "updated" covers the rest.
_DESCRIPTIVE_FIELDS = (
    "name",
    "created_at",
    "scheduled_start_at",
    "scheduled_end_at",
    "call_window",
    "time_flags",
)
_ACTIVE_STATUSES = frozenset({Status.RUNNING, Status.SCHEDULED, Status.DRAFT})
_WAITING = frozenset({Status.SCHEDULED, Status.DRAFT})


def transition_events(builder: EventBuilder, before: Campaign, after: Campaign) -> None:
    """Add the events that take ``before`` to ``after`` (status, progress, other fields)."""
    _status_events(builder, before, after)
    _progress_event(builder, before, after)
    _updated_event(builder, before, after)


class EventBuilder:
    """Collects the events of one new version, with deterministic ids."""

    def __init__(self, current: Campaign, version: int, content_hash: str, observed_at: datetime):
        self.current = current
        self.version = version
        self.content_hash = content_hash
        self.observed_at = observed_at
        self.events: list[ChangeEvent] = []

    def add(self, kind: EventKind, occurred_at: datetime | None, data: dict[str, Any]) -> None:
        key = self.current.key
        self.events.append(
            ChangeEvent(
                event_id=event_id(key, self.version, self.content_hash, kind),
                kind=kind,
                key=key,
                version=self.version,
                occurred_at=occurred_at or self.observed_at,
                detected_at=self.observed_at,
                data=data,
            )
        )


def _moved(before: datetime | None, after: datetime | None) -> datetime | None:
    return after if after is not None and after != before else None


def _status_view(campaign: Campaign) -> dict[str, Any]:
    return {
        "status": campaign.status.value,
        "status_raw": campaign.status_raw,
        "status_derived": campaign.status_derived,
    }


def _pause_view(campaign: Campaign, *, inferred: bool) -> dict[str, Any]:
    return {
        "paused_by": campaign.paused_by.value if campaign.paused_by else "unknown",
        "paused_at": _iso(campaign.paused_at),
        "status_raw": campaign.status_raw,
        "inferred": inferred,
    }


def _finished_at(before: Campaign, after: Campaign) -> datetime | None:
    if after.finished_at is not None:
        return after.finished_at
    updated = _moved(before.provider_updated_at, after.provider_updated_at)
    if updated is not None:
        return updated
    return after.scheduled_end_at if after.status_derived else None


def _paused_time(before: Campaign, after: Campaign) -> datetime | None:
    return _moved(before.paused_at, after.paused_at) or _moved(
        before.provider_updated_at, after.provider_updated_at
    )


def _status_time(before: Campaign, after: Campaign) -> datetime | None:
    if after.status is Status.PAUSED:
        return _paused_time(before, after)
    if after.status in TERMINAL_STATUSES:
        return _finished_at(before, after)
    if after.status_derived and after.status is Status.RUNNING and before.status in _WAITING:
        return after.scheduled_start_at  # it started when its schedule said, not when seen
    return _moved(before.provider_updated_at, after.provider_updated_at)


def _status_events(builder: EventBuilder, before: Campaign, after: Campaign) -> None:
    updated_time = _moved(before.provider_updated_at, after.provider_updated_at)
    status_moved = (before.status, before.status_raw) != (after.status, after.status_raw)
    if status_moved or before.status_derived != after.status_derived:
        builder.add(
            EventKind.STATUS_CHANGED,
            _status_time(before, after),
            {"before": _status_view(before), "after": _status_view(after)},
        )
    pause_moved = after.paused_at is not None and after.paused_at != before.paused_at
    was_paused, is_paused = before.status is Status.PAUSED, after.status is Status.PAUSED
    if is_paused and (not was_paused or pause_moved):
        if was_paused:  # paused both times, at a new paused_at: it resumed in between
            builder.add(
                EventKind.RESUMED, after.paused_at, _resume_view(before, after, inferred=True)
            )
        builder.add(
            EventKind.PAUSED, _paused_time(before, after), _pause_view(after, inferred=was_paused)
        )
    elif was_paused and after.status in _ACTIVE_STATUSES:
        builder.add(EventKind.RESUMED, updated_time, _resume_view(before, after, inferred=False))
    elif not was_paused and after.status in _ACTIVE_STATUSES and pause_moved:
        # Running before and after, but paused_at moved: a whole pause was missed.
        builder.add(EventKind.PAUSED, after.paused_at, _pause_view(after, inferred=True))
        builder.add(EventKind.RESUMED, None, _resume_view(after, after, inferred=True))
    if after.status in TERMINAL_STATUSES and before.status not in TERMINAL_STATUSES:
        builder.add(
            EventKind.FINISHED,
            _finished_at(before, after),
            {
                "outcome": after.status.value,
                "status_raw": after.status_raw,
                "finished_at": _iso(after.finished_at),
                "counters": after.counters.to_json(),
            },
        )


def _resume_view(paused: Campaign, after: Campaign, *, inferred: bool) -> dict[str, Any]:
    return {
        "paused_by": paused.paused_by.value if paused.paused_by else "unknown",
        "paused_at": _iso(paused.paused_at),
        "status": after.status.value,
        "status_raw": after.status_raw,
        "inferred": inferred,
    }


def _activity(campaign: Campaign) -> dict[str, Any]:
    return {**campaign.counters.to_json(), "last_run_at": _iso(campaign.last_run_at)}


def _progress_event(builder: EventBuilder, before: Campaign, after: Campaign) -> None:
    old, new = _activity(before), _activity(after)
    if old != new:
        builder.add(
            EventKind.PROGRESS,
            _moved(before.last_run_at, after.last_run_at),
            {"before": old, "after": new},
        )


def _updated_event(builder: EventBuilder, before: Campaign, after: Campaign) -> None:
    old, new = before.snapshot(), after.snapshot()
    changes = {
        name: {"before": old[name], "after": new[name]}
        for name in _DESCRIPTIVE_FIELDS
        if old[name] != new[name]
    }
    if (
        before.status is Status.PAUSED
        and after.status is Status.PAUSED
        and before.paused_by != after.paused_by
        and not any(e.kind is EventKind.PAUSED for e in builder.events)
    ):
        changes["paused_by"] = {"before": old["paused_by"], "after": new["paused_by"]}
    if not changes and builder.events:
        return
    if not changes and old["provider_updated_at"] != new["provider_updated_at"]:
        changes["provider_updated_at"] = {
            "before": old["provider_updated_at"],
            "after": new["provider_updated_at"],
        }
    raw_changed = sorted(
        k for k in set(before.raw) | set(after.raw) if before.raw.get(k) != after.raw.get(k)
    )
    builder.add(
        EventKind.UPDATED,
        _moved(before.provider_updated_at, after.provider_updated_at),
        {"changes": changes, "raw_changed": raw_changed},
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_iso8601(value)
