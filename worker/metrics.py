"""Prometheus metrics of the sync pipeline (served on ``/metrics`` by the daemon)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "CYCLES",
    "CYCLE_SECONDS",
    "EVENTS",
    "NATS_PUBLISHED",
    "RECORDS",
    "REJECTED",
    "UNKNOWN_STATUS",
    "WEBHOOK_DELIVERIES",
]

_TARGET = ("provider", "account")

CYCLES = Counter("campaign_sync_cycles_total", "Sync cycles by outcome.", [*_TARGET, "status"])
CYCLE_SECONDS = Histogram("campaign_sync_cycle_seconds", "Duration of one sync cycle.", _TARGET)
RECORDS = Counter("campaign_sync_records_total", "Raw records fetched.", _TARGET)
EVENTS = Counter("campaign_sync_events_total", "Change events inserted.", _TARGET)
REJECTED = Counter(
    "campaign_sync_rejected_total", "Records set aside in sync_errors.", [*_TARGET, "kind"]
)
# By target only: a provider value never becomes a label (each value would be a series).
UNKNOWN_STATUS = Counter(
    "campaign_sync_unknown_status_total",
    "Records whose provider status is not in the provider's status table.",
    _TARGET,
)

WEBHOOK_DELIVERIES = Counter(
    "campaign_sync_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, failed, dead, disabled).",
    ["sink", "outcome"],
)

NATS_PUBLISHED = Counter(
    "campaign_sync_nats_published_total",
    "Events the NATS relay published, by outcome (stored, duplicate: dropped by JetStream).",
    ["outcome"],
)
