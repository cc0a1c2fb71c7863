"""Schema drift: a provider showing what its documentation does not.

The first time a target shows a value outside a documented enum (a status, a
``paused_by``, VOXO's ``state``) or a top-level key no documentation mentions,
one ``provider.schema_drift`` event records it: the field, the value (cut to a
sane length) and one campaign that carried it. Its id is a UUIDv5 of the target,
field and value, so each is reported once whatever the number of campaigns or
cycles. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.domain.campaign import CampaignKey, TargetKey
from worker.domain.events import ChangeEvent, EventKind, stable_id
from worker.domain.poison import safe_text

__all__ = ["KEY_FIELD", "OVERFLOW", "DriftNote", "drift_event", "drift_notes"]

KEY_FIELD = "<key>"  # the "field" of a note about an undocumented top-level key
OVERFLOW = "<more>"  # the value of the one note that says a field's values ran past the cap


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftNote:
    """One undocumented value of one field, and a campaign that carried it."""

    field: str
    value: str
    campaign_id: str


def drift_notes(
    raw: Mapping[str, Any],
    campaign_id: str,
    *,
    enums: Mapping[str, frozenset[str]],
    documented_keys: frozenset[str],
) -> list[DriftNote]:
    """What of ``raw`` its provider's documentation does not list."""
    notes = [
        DriftNote(field=name, value=safe_text(value), campaign_id=campaign_id)
        for name, allowed in enums.items()
        if isinstance(value := raw.get(name), str) and value not in allowed
    ]
    notes.extend(
        DriftNote(field=KEY_FIELD, value=safe_text(str(key)), campaign_id=campaign_id)
        for key in raw
        if key not in documented_keys
    )
    return notes


def drift_event(target: TargetKey, note: DriftNote, at: datetime) -> ChangeEvent:
    """The ``provider.schema_drift`` event of a note (version 0: it is no campaign's)."""
    if note.value == OVERFLOW:
        data: dict[str, Any] = {"field": note.field, "value": None, "more_values": True}
    else:
        data = {"field": note.field, "value": note.value, "example_campaign_id": note.campaign_id}
    return ChangeEvent(
        event_id=stable_id(f"drift/{target}/{note.field}/{note.value}"),
        kind=EventKind.SCHEMA_DRIFT,
        key=CampaignKey(provider=target.provider, account=target.account, campaign_id=""),
        version=0,
        occurred_at=at,
        detected_at=at,
        data=data,
    )
