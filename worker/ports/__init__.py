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
from worker.ports.sync import (
    RUN_STATUSES,
    CampaignReader,
    CampaignStore,
    Claim,
    Clock,
    Detail,
    Lease,
    LeaseHeld,
    LeaseStore,
    NotDue,
    PageHeads,
    PageWriter,
    Provider,
    RawRecord,
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
    "Store",
    "WebhookStore",
    "Written",
]
