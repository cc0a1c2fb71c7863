"""The one exception tree of campaign-sync.

Every error the worker raises on purpose derives from ``WorkerError``. Adapters
translate library errors (httpx, asyncpg, SQLAlchemy) at their boundary and
re-raise ``from`` the original, so no caller ever catches a library exception::

    WorkerError
    ├── ConfigError                 bad or missing configuration; fix and restart
    ├── ProviderError               anything that went wrong talking to a provider
    │   ├── ProviderUnavailable     transient: timeouts, 408/425/429/5xx, truncated bodies
    │   └── ProviderRejected        permanent: the provider refused or answered nonsense
    │       └── ProviderAuthError   401/403; also a ConfigError, never retried
    ├── NormalizationError          one record could not be normalized; it is quarantined
    │   └── TimestampError          a time field is malformed or out of range
    ├── StorageError                the database failed or is unusable
    │   ├── EmbeddedDatabaseError   the embedded server cannot start on its data dir
    │   └── LeaseLost               another worker took the target over; nothing was written
    └── DeliveryError               delivering events to a subscriber failed
        ├── ConsumerLost            another process holds the consumer now; this one stops
        └── BrokerUnavailable       the message broker (NATS) cannot be reached

Messages never contain secrets: adapters build them from the method, the path
(without query string) and the status, never from headers or URLs with keys.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BrokerUnavailable",
    "ConfigError",
    "ConsumerLost",
    "DeliveryError",
    "EmbeddedDatabaseError",
    "LeaseLost",
    "NormalizationError",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "StorageError",
    "TimestampError",
    "WorkerError",
]


_SHOWN = 120  # characters of a rejected value quoted in a message


class WorkerError(Exception):
    """Root of every error campaign-sync raises on purpose."""


class ConfigError(WorkerError):
    """The configuration is invalid or incomplete; retrying will not help."""


class ProviderError(WorkerError):
    """A provider call failed.

    Attributes:
        target: ``provider/account`` of the target that failed, when known.
        status_code: the HTTP status, when there was a response.
    """

    def __init__(self, message: str, *, target: str = "", status_code: int | None = None) -> None:
        super().__init__(f"{target}: {message}" if target else message)
        self.target = target
        self.status_code = status_code


class ProviderUnavailable(ProviderError):
    """A transient failure; the call may succeed if retried.

    Attributes:
        retry_after: seconds the provider asked us to wait (``Retry-After``), if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        target: str = "",
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, target=target, status_code=status_code)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """A permanent failure; retrying the same call will fail the same way."""


class ProviderAuthError(ProviderRejected, ConfigError):
    """The provider refused our credentials (401/403): a configuration problem."""


class NormalizationError(WorkerError):
    """One raw record could not be turned into a Campaign.

    Attributes:
        field: the raw field at fault (dotted path), or ``""`` for the whole record.
        value: the offending raw value.
        reason: why it was rejected, without the field and value.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        shown = repr(value)
        if len(shown) > _SHOWN:  # a provider value can be megabytes long
            shown = f"{shown[:_SHOWN]}…({len(shown)} chars)"
        super().__init__(f"{field}={shown}: {reason}" if field else reason)
        self.field = field
        self.value = value
        self.reason = reason


class TimestampError(NormalizationError):
    """A time field is malformed, of the wrong type or out of range."""


class StorageError(WorkerError):
    """The database failed, or its state is not what the worker needs."""


class EmbeddedDatabaseError(StorageError):
    """The embedded PostgreSQL cannot run on its data directory."""


class LeaseLost(StorageError):
    """The target's lease was taken over (its token moved on): this writer is fenced off.

    Raised by a page transaction before it writes anything; the cycle ends as
    ``superseded``.
    """


class DeliveryError(WorkerError):
    """Delivering events to a subscriber (Python consumer, webhook, broker) failed."""


class ConsumerLost(DeliveryError):
    """Another process took the consumer over; this one must stop receiving."""


class BrokerUnavailable(DeliveryError):
    """The message broker cannot be reached or refused a publish."""
