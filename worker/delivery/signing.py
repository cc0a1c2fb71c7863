"""Standard Webhooks signing, and the retry schedule of a failed delivery. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import datetime, timedelta

__all__ = ["JITTER", "RETRY_SCHEDULE", "next_attempt", "sign", "signing_key"]

# Seconds before attempt 1, 2, …: the schedule of the established senders (Svix).
RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18_000.0, 36_000.0, 36_000.0)
JITTER = 0.1


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (base64, optionally after ``whsec_``)."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def next_attempt(
    attempts: int, now: datetime, retry_after: float | None, rng: random.Random
) -> datetime | None:
    """When the next attempt is due after ``attempts`` failures, or ``None``: dead letter."""
    if attempts >= len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[attempts] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)
