"""The secret values of one process: configured ones, and those learned while it runs.

Configured secrets (API keys, passwords, the database password) are known at
start-up; others are obtained at runtime (VOXO's access token). Every redactor
(the log filter, stored errors, run records, provider error messages) reads
the same live collection, so a token is blanked everywhere from the moment it
is received.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator

from worker.domain.scrub import redact

__all__ = ["SecretValues", "redact"]

# Shorter values are not blanked: "ab" would mangle every message containing it.
MIN_SECRET_CHARS = 4


class SecretValues(Collection[str]):
    """A thread-safe, growing set of secret strings; iterating gives a snapshot."""

    def __init__(self, initial: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values = {v for v in initial if v and len(v) >= MIN_SECRET_CHARS}

    def add(self, value: str | None) -> None:
        """Treat ``value`` as secret from now on."""
        if value and len(value) >= MIN_SECRET_CHARS:
            with self._lock:
                self._values.add(value)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            # Longest first: a secret containing another is blanked whole.
            return iter(sorted(self._values, key=len, reverse=True))

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._values
