"""The diff: which events a new snapshot produces, their times, ids and data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.diff import StoredHead, StoredState, diff, miss, stale_reason
from worker.domain.events import EventKind, cloudevent_sequence, to_cloudevent
from worker.domain.windows import CallWindow, Weekday, WindowRange

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OBSERVED = T + timedelta(hours=1)


def base(**changes: object) -> Campaign:
    """The test campaign with ``changes``; its raw record follows its fields unless given."""
    campaign = Campaign(
        provider="vox_v3",
        account="acme",
        campaign_id="42",
        name="Survey",
        status=Status.RUNNING,
        status_raw="ongoing",
        counters=Counters(
            total_calls=10, completed_calls=1, failed_calls=0, active_calls=2, concurrency=2
        ),
        created_at=T - timedelta(days=1),
        raw={"id": "42", "status": "ongoing", "completed_calls": 1},
    )
    campaign = replace(campaign, **changes)  # type: ignore[arg-type]
    if "raw" in changes:
        return campaign
    # A provider record changes whenever a normalized field does; render one that does.
    return replace(campaign, raw={"id": "42", "fields": campaign.snapshot()})


def stored(
    campaign: Campaign,
    version: int = 3,
    *,
    observed_at: datetime = T,
    vanished_at: datetime | None = None,
) -> StoredState:
    head = StoredHead(
        version=version,
        content_hash=campaign.fingerprint(),
        status=campaign.status,
        status_derived=campaign.status_derived,
        observed_at=observed_at,
        provider_updated_at=campaign.provider_updated_at,
        vanished_at=vanished_at,
    )
    return StoredState(head=head, campaign=campaign)


def kinds(previous: Campaign | None, current: Campaign) -> list[str]:
    change = diff(None if previous is None else stored(previous), current, OBSERVED)
    assert change is not None
    return [e.kind.value for e in change.events]


def test_unchanged_snapshot_produces_nothing() -> None:
    assert diff(stored(base()), base(), OBSERVED) is None


def test_key_order_of_the_raw_payload_does_not_matter() -> None:
    original = base(raw={"id": "42", "status": "ongoing", "completed_calls": 1})
    reordered = base(raw={"completed_calls": 1, "status": "ongoing", "id": "42"})
    assert diff(stored(original), reordered, OBSERVED) is None


def test_a_new_rendering_of_unchanged_provider_data_is_no_new_version() -> None:
    # A release that renders a field differently (a new time flag, another name
    # reading) over the same provider record, with the same status: nothing to write.
    raw = {"id": "42", "status": "ongoing"}
    old = base(raw=raw)
    new = replace(old, time_flags=("created_at: fold",), name="Survey (renamed by a reader)")
    assert diff(stored(old), new, OBSERVED) is None


def test_a_status_read_against_the_clock_makes_a_version_over_the_same_record() -> None:
    raw = {"id": "42", "state": "READY"}
    waiting = base(raw=raw, status=Status.SCHEDULED, status_raw="READY", status_derived=True)
    running = replace(waiting, status=Status.RUNNING)
    change = diff(stored(waiting), running, OBSERVED)
    assert change is not None
    assert [e.kind for e in change.events] == [EventKind.STATUS_CHANGED]


def test_new_campaign_is_discovered_at_its_creation_time_as_version_1() -> None:
    change = diff(None, base(), OBSERVED)
    assert change is not None
    assert change.version == 1
    (event,) = change.events
    assert event.kind is EventKind.DISCOVERED
    assert event.occurred_at == T - timedelta(days=1)
    assert event.detected_at == OBSERVED
    assert event.data["campaign"]["status"] == "running"


def test_system_pause_uses_the_provider_paused_at() -> None:
    paused_at = T + timedelta(minutes=30)
    paused = base(
        status=Status.PAUSED, status_raw="paused", paused_by=PausedBy.SYSTEM, paused_at=paused_at
    )
    change = diff(stored(base()), paused, OBSERVED)
    assert change is not None
    assert change.version == 4
    assert [e.kind for e in change.events] == [EventKind.STATUS_CHANGED, EventKind.PAUSED]
    status_changed, pause = change.events
    assert pause.occurred_at == paused_at == status_changed.occurred_at
    assert pause.data == {
        "paused_by": "system",
        "paused_at": "2026-03-02T09:30:00Z",
        "status_raw": "paused",
        "inferred": False,
    }


def test_pause_without_actor_reports_unknown() -> None:
    paused = base(status=Status.PAUSED, status_raw="paused")
    change = diff(stored(base()), paused, OBSERVED)
    assert change is not None
    assert change.events[1].data["paused_by"] == "unknown"
    assert change.events[1].occurred_at == OBSERVED  # no provider time: observation time


def test_resume_after_a_system_pause() -> None:
    paused = base(status=Status.PAUSED, status_raw="paused", paused_by=PausedBy.SYSTEM, paused_at=T)
    change = diff(stored(paused), base(), OBSERVED)
    assert change is not None
    assert [e.kind.value for e in change.events] == ["status_changed", "resumed"]
    assert change.events[1].data["paused_by"] == "system"
    assert change.events[1].data["inferred"] is False


def test_a_whole_pause_between_two_polls_is_inferred() -> None:
    # Running both times, but paused_at moved: paused and resumed in between.
    before = base(paused_at=T - timedelta(hours=5), paused_by=PausedBy.SYSTEM)
    after = base(paused_at=T + timedelta(minutes=10), paused_by=PausedBy.SYSTEM)
    change = diff(stored(before), after, OBSERVED)
    assert change is not None
    pause, resume = change.events[0], change.events[1]
    assert (pause.kind, resume.kind) == (EventKind.PAUSED, EventKind.RESUMED)
    assert pause.data["inferred"] is True and resume.data["inferred"] is True
    assert pause.occurred_at == T + timedelta(minutes=10)


def test_paused_twice_with_a_new_paused_at_infers_the_resume_between() -> None:
    first = base(status=Status.PAUSED, status_raw="paused", paused_by=PausedBy.SYSTEM, paused_at=T)
    again = base(
        status=Status.PAUSED,
        status_raw="paused",
        paused_by=PausedBy.SYSTEM,
        paused_at=T + timedelta(minutes=20),
    )
    change = diff(stored(first), again, OBSERVED)
    assert change is not None
    resume, pause = change.events
    assert (resume.kind, pause.kind) == (EventKind.RESUMED, EventKind.PAUSED)
    assert resume.data["inferred"] is True and pause.data["inferred"] is True
    # The inferred resume is never dated after the pause that follows it.
    assert resume.occurred_at <= pause.occurred_at == T + timedelta(minutes=20)


def test_paused_by_changing_while_paused_is_an_update_naming_it() -> None:
    by_user = base(status=Status.PAUSED, status_raw="paused", paused_by=PausedBy.USER, paused_at=T)
    by_system = base(
        status=Status.PAUSED, status_raw="paused", paused_by=PausedBy.SYSTEM, paused_at=T
    )
    change = diff(stored(by_user), by_system, OBSERVED)
    assert change is not None
    (event,) = change.events
    assert event.kind is EventKind.UPDATED
    assert event.data["changes"] == {"paused_by": {"before": "user", "after": "system"}}


def test_an_observation_older_than_the_stored_version_is_stale() -> None:
    head = stored(base(), observed_at=OBSERVED).head
    assert stale_reason(head, base(), OBSERVED) is None
    reason = stale_reason(head, base(), OBSERVED - timedelta(minutes=1))
    assert reason == (
        "observed at 2026-03-02T09:59:00Z, before the stored version 3 (2026-03-02T10:00:00Z)"
    )


def test_an_older_provider_updated_at_is_stale() -> None:
    head = stored(base(provider_updated_at=T)).head
    older = base(provider_updated_at=T - timedelta(seconds=1))
    assert stale_reason(head, older, OBSERVED) == (
        "provider updated_at 2026-03-02T08:59:59Z is older than the stored version 3's "
        "(2026-03-02T09:00:00Z)"
    )
    assert stale_reason(head, base(provider_updated_at=T), OBSERVED) is None


def test_a_vanished_campaign_seen_again_reappears_as_a_new_version() -> None:
    gone_at = T + timedelta(minutes=5)
    change = diff(stored(base(), vanished_at=gone_at), base(), OBSERVED)
    assert change is not None
    assert change.version == 4
    (event,) = change.events
    assert event.kind is EventKind.REAPPEARED
    assert event.data == {"vanished_at": "2026-03-02T09:05:00Z", "campaign": base().snapshot()}


def test_a_campaign_vanishes_after_the_configured_number_of_misses() -> None:
    head = stored(base()).head
    first = miss(base().key, head, listed_at=OBSERVED, misses_to_vanish=2)
    assert (first.version, first.missed_listings, first.event) == (3, 1, None)
    second = miss(
        base().key, replace(head, missed_listings=1), listed_at=OBSERVED, misses_to_vanish=2
    )
    assert second.event is not None
    assert (second.version, second.event.version, second.event.kind) == (4, 4, EventKind.VANISHED)
    assert second.event.data == {
        "vanished_at": "2026-03-02T10:00:00Z",
        "last_version": 3,
        "status": "running",
        "missed_listings": 2,
    }
    assert second.event.occurred_at == OBSERVED


def test_finish_uses_finished_at_and_carries_the_outcome() -> None:
    done_at = T + timedelta(minutes=50)
    done = base(
        status=Status.COMPLETED,
        status_raw="success",
        finished_at=done_at,
        counters=Counters(
            total_calls=10, completed_calls=9, failed_calls=1, active_calls=0, concurrency=2
        ),
    )
    change = diff(stored(base()), done, OBSERVED)
    assert change is not None
    assert [e.kind.value for e in change.events] == ["status_changed", "finished", "progress"]
    finished = change.events[1]
    assert finished.occurred_at == done_at
    assert finished.data["outcome"] == "completed"
    assert finished.data["counters"]["completed_calls"] == 9


def test_finish_without_finished_at_uses_the_provider_updated_at() -> None:
    before = base(provider_updated_at=T)
    ended = base(
        status=Status.COMPLETED, status_raw="ended", provider_updated_at=T + timedelta(minutes=5)
    )
    change = diff(stored(before), ended, OBSERVED)
    assert change is not None
    assert {e.kind: e.occurred_at for e in change.events}[EventKind.FINISHED] == T + timedelta(
        minutes=5
    )


def test_derived_statuses_use_the_scheduled_boundaries() -> None:
    start, end = T, T + timedelta(hours=8)
    waiting = base(
        status=Status.SCHEDULED,
        status_raw="READY",
        status_derived=True,
        scheduled_start_at=start,
        scheduled_end_at=end,
    )
    running = replace(waiting, status=Status.RUNNING)
    over = replace(waiting, status=Status.COMPLETED)
    started = diff(stored(waiting), running, OBSERVED)
    finished = diff(stored(running), over, end + timedelta(minutes=3))
    assert started is not None and finished is not None
    assert started.events[0].occurred_at == start
    assert {e.kind: e.occurred_at for e in finished.events}[EventKind.FINISHED] == end


def test_progress_and_updates_are_separate_events() -> None:
    window = CallWindow(
        timezone="Asia/Seoul",
        ranges=(WindowRange(days=(Weekday.MONDAY,), start_min=540, end_min=720),),
    )
    after = base(
        name="Survey v2",
        call_window=window,
        counters=Counters(
            total_calls=10, completed_calls=3, failed_calls=0, active_calls=2, concurrency=2
        ),
    )
    change = diff(stored(base()), after, OBSERVED)
    assert change is not None
    progress, updated = change.events
    assert progress.kind is EventKind.PROGRESS
    assert progress.data["before"]["completed_calls"] == 1
    assert progress.data["after"]["completed_calls"] == 3
    assert updated.kind is EventKind.UPDATED
    assert set(updated.data["changes"]) == {"name", "call_window"}
    assert updated.data["changes"]["name"] == {"before": "Survey", "after": "Survey v2"}


def test_a_change_only_in_the_raw_payload_is_an_update() -> None:
    before = base(raw={"id": "42", "status": "ongoing", "completed_calls": 1})
    after = base(raw={"id": "42", "status": "ongoing", "completed_calls": 1, "callDelay": 5000})
    change = diff(stored(before), after, OBSERVED)
    assert change is not None
    (event,) = change.events
    assert event.kind is EventKind.UPDATED
    assert event.data == {"changes": {}, "raw_changed": ["callDelay"]}


def test_event_ids_are_deterministic_and_distinct() -> None:
    after = base(status=Status.PAUSED, status_raw="paused", paused_at=T)
    first = diff(stored(base()), after, OBSERVED)
    second = diff(stored(base()), after, OBSERVED + timedelta(hours=1))
    assert first is not None and second is not None
    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
    assert len({e.event_id for e in first.events}) == len(first.events)
    other = diff(stored(base(), version=7), after, OBSERVED)
    assert other is not None
    assert other.events[0].event_id != first.events[0].event_id


def test_cloudevents_envelope() -> None:
    change = diff(None, base(), OBSERVED)
    assert change is not None
    envelope = to_cloudevent(change.events[0], position=17)
    assert envelope == {
        "specversion": "1.0",
        "id": change.events[0].event_id,
        "source": "campaign-sync/vox_v3/acme",
        "type": "campaign.discovered",
        "subject": "42",
        "time": "2026-03-01T09:00:00Z",
        "sequence": "00000000000000000017",
        "campaignversion": 1,
        "detectedat": "2026-03-02T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {"campaign": base().snapshot()},
    }


def test_cloudevent_sequences_order_as_plain_strings() -> None:
    positions = [9, 10, 99, 100, 12_345, 2**40, 2**63 - 1]
    sequences = [cloudevent_sequence(p) for p in positions]
    assert sorted(sequences) == sequences
    assert sorted(str(p) for p in positions) != [str(p) for p in positions]  # unpadded would not


def test_naive_times_are_refused_by_the_model() -> None:
    with pytest.raises(ValueError, match="created_at must be timezone-aware"):
        base(created_at=datetime(2026, 1, 1))


def test_pause_without_paused_at_is_dated_by_the_provider_updated_at() -> None:
    # Sarvam has no paused_at, but its updated_at moves when a user pauses.
    before = base(provider_updated_at=T)
    paused = base(
        status=Status.PAUSED, status_raw="paused", provider_updated_at=T + timedelta(minutes=7)
    )
    change = diff(stored(before), paused, OBSERVED)
    assert change is not None
    assert [(e.kind.value, e.occurred_at) for e in change.events] == [
        ("status_changed", T + timedelta(minutes=7)),
        ("paused", T + timedelta(minutes=7)),
    ]


def test_a_derived_restart_after_a_pause_is_dated_when_seen() -> None:
    start = T - timedelta(hours=2)
    paused = base(status=Status.PAUSED, status_raw="PAUSED", scheduled_start_at=start)
    running = base(
        status=Status.RUNNING, status_raw="READY", status_derived=True, scheduled_start_at=start
    )
    change = diff(stored(paused), running, OBSERVED)
    assert change is not None
    assert change.events[0].occurred_at == OBSERVED
