"""The one refusal the simulators' readers raise: a field of a request that is not acceptable."""

from __future__ import annotations

from typing import Any

__all__ = ["ABSENT", "BadField"]

_QUOTED = 120  # characters of a refused value repeated in the message; a value can be huge


class _Absent:
    """The value of a key that is not there (``None`` is a JSON null)."""

    def __repr__(self) -> str:
        return "<missing>"


ABSENT: Any = _Absent()


class BadField(Exception):
    """A request field a simulator refuses; the simulator answers it in its provider's envelope.

    The message reads ``path=value: reason`` (just ``reason`` for the whole body), e.g.
    ``limit=0: must be >= 1``.

    Attributes:
        field: the dotted path of the field, ``""`` for the whole body.
        value: the value refused (:data:`ABSENT` when the key is missing).
        reason: why, without the field and the value.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        quoted = repr(value)
        if len(quoted) > _QUOTED:
            quoted = f"{quoted[:_QUOTED]}…({len(quoted)} chars)"
        super().__init__(f"{field}={quoted}: {reason}" if field else reason)
        self.field = field
        self.value = value
        self.reason = reason
