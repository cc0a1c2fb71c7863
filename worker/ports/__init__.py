"""The small contracts between the pipeline and its adapters.

Providers, storage and clocks are implemented elsewhere; the pipeline and the
composition root only know these Protocols.
"""

from __future__ import annotations

from worker.ports.delivery import (
    ConsumerHeld,
    ConsumerInfo,
    ConsumerLease,
    ConsumerStore,
    CursorMoved,
    DeadLetter,
    DueDelivery,
    Feed,
    OutboxEvent,
    Position,
    SinkState,
    WebhookStore,
)
from worker.ports.provider import Detail, Dialect, Provider, RawRecord, Source
from worker.ports.store import (
    RUN_STATUSES,
    CampaignReader,
    CampaignStore,
    Claim,
    Clock,
    Lease,
    LeaseHeld,
    LeaseStore,
    NotDue,
    PageHeads,
    PageWriter,
    RunSummary,
    Store,
    Written,
)

__all__ = [
    "RUN_STATUSES",
    "CampaignReader",
    "CampaignStore",
    "Claim",
    "Clock",
    "ConsumerHeld",
    "ConsumerInfo",
    "ConsumerLease",
    "ConsumerStore",
    "CursorMoved",
    "DeadLetter",
    "Detail",
    "Dialect",
    "DueDelivery",
    "Feed",
    "Lease",
    "LeaseHeld",
    "LeaseStore",
    "NotDue",
    "OutboxEvent",
    "PageHeads",
    "PageWriter",
    "Position",
    "Provider",
    "RawRecord",
    "RunSummary",
    "SinkState",
    "Source",
    "Store",
    "WebhookStore",
    "Written",
]
