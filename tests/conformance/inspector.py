"""What a store holds, read the same way from either store, for the conformance suite.

Each store has its own inspector: ``postgres_inspector`` reads the tables with SQL,
``memory_inspector`` reads a ``MemoryState`` directly. Both return plain dicts
keyed by the PostgreSQL column names, with JSON columns as decoded JSON and
statuses as text, so a test compares what the two stores hold without caring
which one it runs on.
"""

from __future__ import annotations

from typing import Any, Protocol

from worker.domain.campaign import TargetKey

__all__ = ["CAMPAIGN", "ERROR", "EVENT", "HISTORY", "RUN", "TARGET", "Inspector", "Row"]

Row = dict[str, Any]

# The columns each inspector returns, per table (ids are left out where they are
# only a sequence's choice; the outbox keeps its ``id``, which is its order).
_VERSIONED = (
    "provider", "account", "campaign_id", "version", "name", "status", "status_raw",
    "status_derived", "paused_by", "total_calls", "completed_calls", "failed_calls",
    "active_calls", "concurrency", "created_at", "scheduled_start_at", "scheduled_end_at",
    "paused_at", "finished_at", "provider_updated_at", "last_run_at", "call_window",
    "time_flags", "degraded", "raw", "content_hash",
)  # fmt: skip
CAMPAIGN = (
    *_VERSIONED, "first_seen_at", "last_changed_at", "vanished_at", "missed_listings", "list_hash",
)  # fmt: skip
HISTORY = (*_VERSIONED, "valid_from", "valid_to", "vanished_at")
EVENT = (
    "id", "event_id", "type", "provider", "account", "campaign_id", "version", "occurred_at",
    "detected_at", "data",
)  # fmt: skip
ERROR = (
    "fingerprint", "provider", "account", "kind", "campaign_id", "field", "reason", "raw",
    "detail", "first_seen_at", "last_seen_at", "occurrences", "last_run_id",
)  # fmt: skip
RUN = (
    "id", "provider", "account", "started_at", "finished_at", "status", "pages", "records",
    "changed", "events", "rejected", "vanished", "deferred", "error", "owner", "lease_token",
)  # fmt: skip
TARGET = (
    "lease_owner", "lease_token", "lease_expires_at", "last_observed_at", "last_full_refresh_at",
    "interval_seconds", "next_due_at", "last_started_at", "last_finished_at", "last_success_at",
    "last_status", "last_error", "last_run_id", "takeovers",
)  # fmt: skip


class Inspector(Protocol):
    """Reads what one store holds (committed rows only)."""

    async def campaign(self, target: TargetKey, campaign_id: str) -> Row | None:
        """The current row of one campaign (:data:`CAMPAIGN`), or None."""
        ...

    async def history(self, target: TargetKey, campaign_id: str) -> list[Row]:
        """Every stored version of one campaign (:data:`HISTORY`), oldest first."""
        ...

    async def events(self, campaign_id: str | None = None, type: str | None = None) -> list[Row]:
        """Stored events (:data:`EVENT`) in outbox order, of one campaign and type if given."""
        ...

    async def errors(self) -> list[Row]:
        """Kept rejections (:data:`ERROR`) in the order they were first kept."""
        ...

    async def runs(self, target: TargetKey) -> list[Row]:
        """The target's runs (:data:`RUN`), oldest first."""
        ...

    async def target(self, target: TargetKey) -> Row | None:
        """The target's lease and schedule (:data:`TARGET`), or None when never claimed."""
        ...

    async def integrity(self) -> list[str]:
        """Every broken promise of ``worker.storage.integrity``; empty when all hold."""
        ...
