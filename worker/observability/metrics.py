"""Prometheus metrics of the worker (served on ``/metrics`` by the daemon).

Labels are bounded: a target is (provider, account) from the configuration;
``status``, ``status_class``, ``kind``, ``type`` and ``outcome`` come from fixed
vocabularies; ``consumer`` and ``sink`` are names an operator configured. A
provider value never becomes a label (each value would be a series).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CHANGED",
    "CYCLES",
    "CYCLE_SECONDS",
    "EVENTS",
    "LAST_SUCCESS",
    "LEASES_HELD",
    "LEASE_TAKEOVERS",
    "NATS_PUBLISHED",
    "OUTBOX_BACKLOG",
    "PROVIDER_REQUESTS",
    "PROVIDER_REQUEST_SECONDS",
    "READER_ERRORS",
    "RECORDS",
    "REJECTED",
    "RETRIES",
    "RETRY_AFTER_SECONDS",
    "UNKNOWN_STATUS",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_SINK_DISABLED",
    "ProviderRequestMetrics",
    "status_class",
]

_TARGET = ("provider", "account")

CYCLES = Counter(
    "campaign_sync_cycles_total",
    "Sync cycles by outcome (succeeded, partial, failed, superseded); a cycle that could "
    "not start or crashed counts as failed.",
    [*_TARGET, "status"],
)
CYCLE_SECONDS = Histogram(
    "campaign_sync_cycle_seconds",
    "Duration of one sync cycle.",
    _TARGET,
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400),
)
LAST_SUCCESS = Gauge(
    "campaign_sync_last_success_timestamp_seconds",
    "Unix time the last complete cycle (succeeded or partial) ended; freshness is "
    "time() minus this.",
    _TARGET,
)
PROVIDER_REQUESTS = Counter(
    "campaign_sync_provider_requests_total",
    "Requests to providers by status class (2xx, 3xx, 4xx, 429, 5xx, error: no response).",
    [*_TARGET, "method", "status_class"],
)
PROVIDER_REQUEST_SECONDS = Histogram(
    "campaign_sync_provider_request_seconds",
    "Duration of one provider request, until its headers (a streamed list: its body too).",
    [*_TARGET, "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
RETRIES = Counter("campaign_sync_provider_retries_total", "Provider requests retried.", _TARGET)
RETRY_AFTER_SECONDS = Counter(
    "campaign_sync_provider_retry_after_seconds_total",
    "Seconds waited because a provider's Retry-After asked for it (after clamping).",
    _TARGET,
)
RECORDS = Counter("campaign_sync_records_total", "Campaign records listed.", _TARGET)
CHANGED = Counter(
    "campaign_sync_changed_total", "Campaigns stored with a new version (vanishes too).", _TARGET
)
REJECTED = Counter(
    "campaign_sync_rejected_total", "Records set aside in sync_errors.", [*_TARGET, "kind"]
)
READER_ERRORS = Counter(
    "campaign_sync_reader_errors_total",
    "Records quarantined because a provider's reading rules raised an unexpected exception "
    "(not a normalization error): each is a bug in campaign-sync to report.",
    _TARGET,
)
EVENTS = Counter("campaign_sync_events_total", "Change events inserted.", [*_TARGET, "type"])
# By target only: a provider value never becomes a label (each value would be a series).
UNKNOWN_STATUS = Counter(
    "campaign_sync_unknown_status_total",
    "Records whose provider status is not in the provider's status table.",
    _TARGET,
)
LEASE_TAKEOVERS = Counter(
    "campaign_sync_lease_takeovers_total",
    "Cycles that took a target over from a worker whose lease had expired.",
    _TARGET,
)
LEASES_HELD = Gauge("campaign_sync_leases_held", "Target leases this process holds now.")
OUTBOX_BACKLOG = Gauge(
    "campaign_sync_outbox_backlog",
    "Events not yet delivered, per durable consumer (the NATS relay and each webhook "
    "sink's enqueuer included) and per webhook sink (queued deliveries); 0 once caught up, "
    "and gone with a deleted consumer.",
    ["consumer"],
)
WEBHOOK_DELIVERIES = Counter(
    "campaign_sync_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, failed, dead, disabled).",
    ["sink", "outcome"],
)
WEBHOOK_SINK_DISABLED = Gauge(
    "campaign_sync_webhook_sink_disabled", "1 while a webhook sink is disabled.", ["sink"]
)
NATS_PUBLISHED = Counter(
    "campaign_sync_nats_published_total",
    "Events the NATS relay published, by outcome (stored, duplicate: dropped by JetStream).",
    ["outcome"],
)


def status_class(status: int | None) -> str:
    """The ``status_class`` label of an HTTP status; None means no response."""
    if status is None:
        return "error"
    return "429" if status == 429 else f"{status // 100}xx"


class ProviderRequestMetrics:
    """One target's provider request counts and timings.

    Keeps the labelled children it has used: ``labels()`` builds a key and takes a
    lock on every call, a cost paid on every request otherwise.
    """

    def __init__(self, provider: str, account: str) -> None:
        self._target = (provider, account)
        self._timings: dict[str, Histogram] = {}
        self._counts: dict[tuple[str, str], Counter] = {}

    def observe(self, method: str, status: int | None, seconds: float) -> None:
        """One request sent with ``method``: its status (None: no response) and duration."""
        klass = status_class(status)
        timing = self._timings.get(method)
        if timing is None:
            timing = self._timings[method] = PROVIDER_REQUEST_SECONDS.labels(*self._target, method)
        count = self._counts.get((method, klass))
        if count is None:
            count = self._counts[method, klass] = PROVIDER_REQUESTS.labels(
                *self._target, method, klass
            )
        timing.observe(seconds)
        count.inc()
