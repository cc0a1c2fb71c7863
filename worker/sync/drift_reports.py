"""Which schema-drift values a target has reported, so each is reported once, up to a cap.

Seeded from the outbox the first time a target needs it (a restart reports
nothing twice), then kept in memory. A value counts as reported only once the
page that carried its event has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from worker.domain.campaign import TargetKey
from worker.domain.drift import OVERFLOW, DriftNote
from worker.ports import CampaignReader

__all__ = ["DriftReports"]


class DriftReports:
    """The drift values of one target: reported ones, and at most ``cap`` per field."""

    def __init__(self, reader: CampaignReader, target: TargetKey, *, cap: int) -> None:
        self._reader = reader
        self._target = target
        self._cap = cap
        self._reported: dict[str, set[str]] | None = None

    async def new(self, notes: Iterable[DriftNote]) -> list[DriftNote]:
        """The notes not yet reported, within the cap; one overflow note per field past it."""
        if self._reported is None:
            known = await self._reader.known_drift(self._target)
            self._reported = {field: set(values) for field, values in known.items()}
        fresh: list[DriftNote] = []
        taken: dict[str, set[str]] = {}
        for note in notes:
            reported = self._reported.get(note.field, set())
            pending = taken.setdefault(note.field, set())
            if {note.value, OVERFLOW} & (reported | pending):
                continue
            if len(reported - {OVERFLOW}) + len(pending) >= self._cap:
                fresh.append(DriftNote(field=note.field, value=OVERFLOW, campaign_id=""))
                pending.add(OVERFLOW)
                continue
            pending.add(note.value)
            fresh.append(note)
        return fresh

    def committed(self, notes: Sequence[DriftNote]) -> None:
        """Mark notes as reported (their events are stored)."""
        assert self._reported is not None
        for note in notes:
            self._reported.setdefault(note.field, set()).add(note.value)

    def reported(self, field: str, value: str) -> bool:
        """Whether this value has been (or is about to be) reported."""
        return self._reported is not None and value in self._reported.get(field, set())
