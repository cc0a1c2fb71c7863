"""Decide what a fresh observation of a campaign means against the stored version.

Pure. The stored side comes in two sizes: a :class:`StoredHead` (version,
fingerprint, status and times: what the fast path needs for every record of a
page) and a :class:`StoredState` (the head plus the whole stored Campaign, read
only for campaigns that changed).

* **Unchanged** (:func:`unchanged`): the provider's record has the same
  fingerprint and the status the worker reads from it is the same (VOXO's READY
  is read against the clock, so its status can move while its record does not).
  Nothing is written.
* **Stale** (:func:`stale_reason`): the observation was made before the stored
  version was, or the provider's own ``updated_at`` is older than the stored one.
  It is dropped: state only moves forward.
* **Changed** (:func:`diff`): a new version, ``previous.version + 1``, with its
  events. A vanished campaign seen again always makes a new version, led by
  ``reappeared``.
* **Missed** (:func:`miss`): a complete listing did not contain a stored
  campaign. After ``misses_to_vanish`` such listings in a row it vanishes: a new
  version with the last known values, ``vanished_at`` set and one ``vanished``
  event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from worker.domain.campaign import Campaign, CampaignKey, Status
from worker.domain.events import ChangeEvent, EventKind, event_id
from worker.domain.timestamps import to_iso8601
from worker.domain.transitions import EventBuilder, transition_events

__all__ = [
    "Change",
    "Miss",
    "StoredHead",
    "StoredState",
    "clocked_list_hash",
    "diff",
    "known_unchanged",
    "miss",
    "stale_reason",
    "unchanged",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredHead:
    """The small part of a stored campaign that decides whether a record changed.

    Attributes:
        observed_at: when the stored version was observed (its ``valid_from``).
        missed_listings: complete listings in a row that did not contain it.
        list_hash: fingerprint of its list item, for providers whose list shows
            less than their detail (the detail is fetched only when it moves).
        scheduled_start_at, scheduled_end_at: its stored schedule, from which a
            status read against the clock is read again (VOXO's ``READY``).
    """

    version: int
    content_hash: str
    status: Status
    status_derived: bool
    observed_at: datetime
    provider_updated_at: datetime | None = None
    vanished_at: datetime | None = None
    missed_listings: int = 0
    list_hash: str | None = None
    scheduled_start_at: datetime | None = None
    scheduled_end_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredState:
    """What storage holds as the current version of a campaign, in full."""

    head: StoredHead
    campaign: Campaign

    @property
    def version(self) -> int:
        """The stored version number."""
        return self.head.version


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A new version of a campaign and the events it produces.

    ``previous_version`` is the version it was computed from (0 for a new
    campaign); storage applies it only if that is still the stored version.
    """

    campaign: Campaign
    version: int
    content_hash: str
    observed_at: datetime
    previous: StoredState | None
    events: tuple[ChangeEvent, ...]
    list_hash: str | None = None

    @property
    def previous_version(self) -> int:
        """The version this change replaces; 0 when the campaign is new."""
        return 0 if self.previous is None else self.previous.version


@dataclass(frozen=True, slots=True, kw_only=True)
class Miss:
    """A stored campaign that a complete listing did not contain.

    ``event`` is the ``vanished`` event when this miss makes it vanish (its
    version is ``head.version + 1``), else ``None`` and only the count grows.
    """

    key: CampaignKey
    version: int
    missed_listings: int
    event: ChangeEvent | None


def clocked_list_hash(list_hash: str, status: Status) -> str:
    """The list-item fingerprint of a record whose status is read against the clock,
    mixed with the status it read (hex SHA-256 of ``<list_hash>/<status>``): equal only
    while the same item reads the same status. The listing's unchanged check and the
    stores' ``list_digests`` both use it (PostgreSQL computes it in SQL)."""
    return hashlib.sha256(f"{list_hash}/{status.value}".encode()).hexdigest()


def known_unchanged(
    head: StoredHead | None, list_fingerprint: str | None, *, clock_dependent: bool
) -> bool:
    """True when a listed record is unchanged before it is even normalized.

    Same list-item fingerprint, not vanished, and a provider whose status never
    depends on the clock: fetching its detail or normalizing it again could only
    repeat the stored version.
    """
    return (
        not clock_dependent
        and head is not None
        and head.vanished_at is None
        and list_fingerprint is not None
        and head.list_hash == list_fingerprint
    )


def unchanged(head: StoredHead | None, current: Campaign, fingerprint: str) -> bool:
    """True when ``current`` needs no new version over ``head``."""
    return (
        head is not None
        and head.vanished_at is None
        and head.content_hash == fingerprint
        and head.status is current.status
        and head.status_derived == current.status_derived
    )


def stale_reason(head: StoredHead | None, current: Campaign, observed_at: datetime) -> str | None:
    """Why ``current`` must not be applied over ``head``, or ``None`` when it may be."""
    if head is None:
        return None
    if observed_at < head.observed_at:
        return (
            f"observed at {to_iso8601(observed_at)}, before the stored version {head.version} "
            f"({to_iso8601(head.observed_at)})"
        )
    stored, seen = head.provider_updated_at, current.provider_updated_at
    if stored is not None and seen is not None and seen < stored:
        return (
            f"provider updated_at {to_iso8601(seen)} is older than the stored version "
            f"{head.version}'s ({to_iso8601(stored)})"
        )
    return None


def diff(
    previous: StoredState | None,
    current: Campaign,
    observed_at: datetime,
    *,
    fingerprint: str | None = None,
    list_hash: str | None = None,
) -> Change | None:
    """Return the new version and its events, or ``None`` when nothing changed.

    ``fingerprint`` is ``current.fingerprint()``, passed when the caller has it;
    ``list_hash`` is the fingerprint of its list item, kept with the version.
    The caller checks :func:`stale_reason` first. Every returned Change carries
    at least one event.
    """
    content_hash = fingerprint or current.fingerprint()
    head = None if previous is None else previous.head
    if unchanged(head, current, content_hash):
        return None
    version = 1 if previous is None else previous.version + 1
    builder = EventBuilder(current, version, content_hash, observed_at)
    if previous is None:
        builder.add(EventKind.DISCOVERED, current.created_at, {"campaign": current.snapshot()})
    else:
        if previous.head.vanished_at is not None:
            builder.add(
                EventKind.REAPPEARED,
                None,
                {
                    "vanished_at": to_iso8601(previous.head.vanished_at),
                    "campaign": current.snapshot(),
                },
            )
        transition_events(builder, previous.campaign, current)
    return Change(
        campaign=current,
        version=version,
        content_hash=content_hash,
        observed_at=observed_at,
        previous=previous,
        events=tuple(builder.events),
        list_hash=list_hash,
    )


def miss(key: CampaignKey, head: StoredHead, *, listed_at: datetime, misses_to_vanish: int) -> Miss:
    """Count one complete listing that did not contain a stored, not vanished campaign."""
    missed = head.missed_listings + 1
    if missed < misses_to_vanish:
        return Miss(key=key, version=head.version, missed_listings=missed, event=None)
    version = head.version + 1
    event = ChangeEvent(
        event_id=event_id(key, version, head.content_hash, EventKind.VANISHED),
        kind=EventKind.VANISHED,
        key=key,
        version=version,
        occurred_at=listed_at,
        detected_at=listed_at,
        data={
            "vanished_at": to_iso8601(listed_at),
            "last_version": head.version,
            "status": head.status.value,
            "missed_listings": missed,
        },
    )
    return Miss(key=key, version=version, missed_listings=missed, event=event)
