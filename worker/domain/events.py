"""Typed change events and their CloudEvents 1.0 envelope.

An event id is a UUIDv5 of what was observed: the campaign, the version it
produced, that version's content hash and the event kind. The same observation
always yields the same id, so writing it twice is a no-op (``event_id`` is unique).
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from worker.domain.campaign import CampaignKey
from worker.domain.timestamps import to_iso8601

__all__ = [
    "EVENT_NAMESPACE",
    "ChangeEvent",
    "EventKind",
    "cloudevent_sequence",
    "event_id",
    "stable_id",
    "to_cloudevent",
]

# Fixed forever: changing it would change every event id ever emitted.
EVENT_NAMESPACE = uuid.UUID("7c0b3c8e-5b0e-4f4e-9a53-6e1f3c2d9a10")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


class EventKind(enum.StrEnum):
    """The event catalogue (DESIGN.md section 5); the CloudEvents type is ``campaign.<kind>``."""

    DISCOVERED = "discovered"
    STATUS_CHANGED = "status_changed"
    PAUSED = "paused"
    RESUMED = "resumed"
    FINISHED = "finished"
    PROGRESS = "progress"
    UPDATED = "updated"
    VANISHED = "vanished"
    REAPPEARED = "reappeared"
    SCHEMA_DRIFT = "schema_drift"  # about the provider, not one campaign (see domain.drift)

    @property
    def type(self) -> str:
        """The CloudEvents ``type`` attribute."""
        scope = "provider" if self is EventKind.SCHEMA_DRIFT else "campaign"
        return f"{scope}.{self.value}"

    @classmethod
    def of_type(cls, event_type: str) -> EventKind:
        """The kind of a CloudEvents ``type`` (inverse of :attr:`type`)."""
        return cls(event_type.partition(".")[2])


def event_id(key: CampaignKey, version: int, content_hash: str, kind: EventKind) -> str:
    """Deterministic id: same campaign, version, content and kind give the same id."""
    return stable_id(
        f"{key.provider}/{key.account}/{key.campaign_id}/{version}/{content_hash}/{kind.value}"
    )


def stable_id(name: str) -> str:
    """The UUIDv5 of ``name`` in the event namespace (``uuid.uuid5``'s value, built
    without its ``UUID`` object: this runs for every event of an initial sync)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])  # noqa: S324
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeEvent:
    """One observed change of one campaign.

    Attributes:
        version: the campaign version this event belongs to (CloudEvents ``campaignversion``).
        occurred_at: when the provider says it happened, else when it was observed.
        detected_at: when the worker observed it.
        data: before/after of what changed, normalized and provider values.
    """

    event_id: str
    kind: EventKind
    key: CampaignKey
    version: int
    occurred_at: datetime
    detected_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("occurred_at", "detected_at"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    @property
    def type(self) -> str:
        """The CloudEvents ``type``, e.g. ``campaign.paused``."""
        return self.kind.type


def cloudevent_sequence(position: int) -> str:
    """The CloudEvents ``sequence`` of the event at ``position`` in the outbox.

    Zero-padded to 20 digits, so plain string comparison orders it (the sequence
    extension's rule) for every bigint position.
    """
    return f"{position:020d}"


def to_cloudevent(event: ChangeEvent, *, position: int) -> dict[str, Any]:
    """Render the CloudEvents 1.0 JSON envelope of an event.

    ``position`` is the event's place in the outbox (``campaign_events.id``):
    within one ``source`` the outbox order is the commit order, because one
    writer at a time holds a target's lease. It becomes ``sequence``; the
    campaign version has its own attribute, ``campaignversion``; ``detectedat``
    is when the worker observed the change.
    """
    return {
        "specversion": "1.0",
        "id": event.event_id,
        "source": f"campaign-sync/{event.key.provider}/{event.key.account}",
        "type": event.type,
        # A provider-level event names no campaign; its subject is the drifting field.
        "subject": event.key.campaign_id or str(event.data.get("field", "")),
        "time": to_iso8601(event.occurred_at),
        "sequence": cloudevent_sequence(position),
        "campaignversion": event.version,
        "detectedat": to_iso8601(event.detected_at),
        "datacontenttype": "application/json",
        "data": dict(event.data),
    }
