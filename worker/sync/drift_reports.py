"""Which schema-drift values a target has reported, so each is reported once.

Seeded from the outbox the first time a target needs it (a restart reports
nothing twice), then kept in memory. A value counts as reported only once the
page that carried its event has committed. Which of a page's values are new, and
the cap per field, are the planner's (:func:`worker.sync.planner.fresh_drift`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from worker.domain.campaign import TargetKey
from worker.domain.drift import DriftNote
from worker.ports import CampaignReader

__all__ = ["DriftReports"]


class DriftReports:
    """The drift values one target has reported, by field."""

    def __init__(self, reader: CampaignReader, target: TargetKey) -> None:
        self._reader = reader
        self._target = target
        self._reported: dict[str, set[str]] | None = None

    async def known(self) -> Mapping[str, AbstractSet[str]]:
        """The values reported so far, by field (read from the store the first time)."""
        if self._reported is None:
            known = await self._reader.known_drift(self._target)
            self._reported = {field: set(values) for field, values in known.items()}
        return self._reported

    def committed(self, notes: Sequence[DriftNote]) -> None:
        """Mark notes as reported (their events are stored)."""
        assert self._reported is not None
        for note in notes:
            self._reported.setdefault(note.field, set()).add(note.value)
