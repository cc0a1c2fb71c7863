"""One page's transaction in memory: new versions, history, events, rejections, misses.

The rules of ``worker.storage.writer`` and ``worker.storage.vanishing``: a
change is applied only when the stored version is still the one it was computed
from, and only an applied change closes its previous history row, opens its own
and inserts its events. An event whose id is stored already is not inserted
again. A vanish is a version: the last known values, with ``vanished_at`` set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from worker.domain.campaign import CampaignKey, TargetKey
from worker.domain.diff import Change, Miss, miss
from worker.domain.events import ChangeEvent
from worker.domain.records import Rejection
from worker.errors import StorageError
from worker.memory.rejections import keep_rejections_in
from worker.memory.tables import CampaignRow, EventRow, HistoryRow, MemoryState, Transaction
from worker.ports import Written

__all__ = ["MemoryPageWriter"]


class MemoryPageWriter:
    """The PageWriter for one open, fenced transaction.

    ``now`` is the page's lease time: rejections of a page without changes are
    seen then (PostgreSQL uses its transaction's start time).
    """

    def __init__(
        self,
        state: MemoryState,
        tx: Transaction,
        target: TargetKey,
        run_id: int,
        secrets: Collection[str],
        *,
        now: datetime,
        newer_page_at: datetime | None = None,
    ) -> None:
        self.newer_page_at = newer_page_at
        self._state = state
        self._tx = tx
        self._target = target
        self._run_id = run_id
        self._secrets = secrets
        self._now = now

    async def write(
        self,
        changes: Sequence[Change],
        rejections: Sequence[Rejection],
        *,
        records: int,
        pages: int = 1,
        listed_again: Sequence[str] = (),
        drift: Sequence[ChangeEvent] = (),
        deferred: int = 0,
    ) -> Written:
        """Store a page's changes and rejections; see ``worker.ports.PageWriter.write``."""
        applied = self._write_current(changes)
        kept = [ch for ch in changes if ch.campaign.campaign_id in applied]
        types: Counter[str] = Counter()
        if kept:
            observed_at = kept[0].observed_at  # one page is observed at one instant
            for ch in kept:
                if ch.previous:
                    self._close_history(ch.campaign.key, ch.previous_version, observed_at)
            for ch in kept:
                self._open_history(
                    HistoryRow(
                        id=self._state.next_id("history"),
                        campaign=ch.campaign,
                        version=ch.version,
                        content_hash=ch.content_hash,
                        valid_from=ch.observed_at,
                    ),
                    if_absent=True,
                )
            types = self._insert_events([ev for ch in kept for ev in ch.events])
        if drift:
            types += self._insert_events(drift)
        for campaign_id in sorted(set(listed_again) - applied):
            key = self._key(campaign_id)
            row = self._tx.get(self._state.campaigns, key)
            if row is not None:
                self._tx.put(self._state.campaigns, key, replace(row, missed_listings=0))
        if rejections:
            seen_at = changes[0].observed_at if changes else self._now
            keep_rejections_in(
                self._tx,
                self._state,
                self._target,
                self._run_id,
                rejections,
                seen_at,
                self._secrets,
            )
        self._count(
            pages=pages,
            records=records,
            changed=len(kept),
            events=types.total(),
            rejected=sum(1 for r in rejections if r.kind.quarantines),
            deferred=deferred,
        )
        return Written(
            changed=len(kept),
            events=types.total(),
            dropped=len(changes) - len(kept),
            event_types=dict(types),
        )

    async def miss(
        self, campaign_ids: Sequence[str], *, listed_at: datetime, misses_to_vanish: int
    ) -> Written:
        """Count a complete listing without these campaigns; vanish those that reach the limit."""
        campaigns = self._state.campaigns
        rows = {
            cid: row for cid in campaign_ids if (row := self._tx.get(campaigns, self._key(cid)))
        }
        misses = [
            miss(self._key(cid), row.head(), listed_at=listed_at, misses_to_vanish=misses_to_vanish)
            for cid, row in rows.items()
            if row.vanished_at is None
        ]
        for m in misses:
            if m.event is None:
                row = rows[m.key.campaign_id]
                self._tx.put(campaigns, m.key, replace(row, missed_listings=m.missed_listings))
        vanishing = [m for m in misses if m.event is not None]
        vanished = [m for m in vanishing if self._vanish(m, listed_at)]
        types = self._insert_events([m.event for m in vanished if m.event is not None])
        self._count(events=types.total(), vanished=len(vanished))
        return Written(
            changed=len(vanished),
            events=types.total(),
            dropped=len(vanishing) - len(vanished),
            event_types=dict(types),
        )

    def _key(self, campaign_id: str) -> CampaignKey:
        return CampaignKey(
            provider=self._target.provider, account=self._target.account, campaign_id=campaign_id
        )

    def _write_current(self, changes: Sequence[Change]) -> set[str]:
        """Store each change over the version it was computed from; the ids applied.

        A new campaign never overwrites a stored one, and no change overwrites a
        newer version or is applied twice.
        """
        ids = [ch.campaign.campaign_id for ch in changes]
        if len(set(ids)) != len(ids):
            # PostgreSQL refuses one statement that would update a row twice.
            raise StorageError(f"writing a page of {self._target} failed: a campaign twice in it")
        applied: set[str] = set()
        for ch in changes:
            key = ch.campaign.key
            stored = self._tx.get(self._state.campaigns, key)
            if stored is not None and stored.version != ch.version - 1:
                continue
            row = CampaignRow(
                campaign=ch.campaign,
                version=ch.version,
                content_hash=ch.content_hash,
                first_seen_at=ch.observed_at if stored is None else stored.first_seen_at,
                last_changed_at=ch.observed_at,
                list_hash=ch.list_hash,
            )
            self._tx.put(self._state.campaigns, key, row)
            applied.add(key.campaign_id)
        return applied

    def _close_history(self, key: CampaignKey, version: int, at: datetime) -> None:
        """End the open history row of ``version`` at ``at``, if it is open."""
        row = self._tx.get(self._state.history, (key, version))
        if row is not None and row.valid_to is None:
            self._tx.put(self._state.history, (key, version), replace(row, valid_to=at))
            self._tx.put(self._state.open_versions, key, None)

    def _open_history(self, row: HistoryRow, *, if_absent: bool) -> None:
        """Insert the open history row of a new version.

        ``if_absent``: a version stored already is left as it is; otherwise it is
        an error, as is a second open row for one campaign.
        """
        key = row.campaign.key
        if self._tx.get(self._state.history, (key, row.version)) is not None:
            if if_absent:
                return
            raise StorageError(f"{key}: history version {row.version} is stored already")
        if self._tx.get(self._state.open_versions, key) is not None:
            raise StorageError(f"{key}: a second open history row (version {row.version})")
        self._tx.put(self._state.history, (key, row.version), row)
        self._tx.put(self._state.open_versions, key, row.version)

    def _vanish(self, m: Miss, at: datetime) -> bool:
        """Write a vanished version over the one it was computed from; False if it moved on."""
        stored = self._tx.get(self._state.campaigns, m.key)
        if stored is None or stored.version != m.version - 1:
            return False
        self._tx.put(
            self._state.campaigns,
            m.key,
            replace(
                stored,
                version=m.version,
                vanished_at=at,
                last_changed_at=at,
                missed_listings=m.missed_listings,
            ),
        )
        self._close_history(m.key, m.version - 1, at)
        previous = self._tx.get(self._state.history, (m.key, m.version - 1))
        if previous is not None:  # a copy of the last known values, with the vanish
            self._open_history(
                replace(
                    previous,
                    id=self._state.next_id("history"),
                    version=m.version,
                    valid_from=at,
                    valid_to=None,
                    vanished_at=at,
                ),
                if_absent=False,
            )
        return True

    def _insert_events(self, events: Sequence[ChangeEvent]) -> Counter[str]:
        """Insert what is not stored yet; the inserted ones, counted by type."""
        inserted: Counter[str] = Counter()
        for event in events:
            position = self._state.next_id("events")  # taken even by a repeat
            if self._tx.get(self._state.events, event.event_id) is None:
                self._tx.put(self._state.events, event.event_id, EventRow(id=position, event=event))
                inserted[event.type] += 1
        return inserted

    def _count(self, **added: int) -> None:
        """Add to this run's counters, so a run that dies mid-cycle still shows its pages."""
        run = self._tx.get(self._state.runs, self._run_id)
        if run is not None and any(added.values()):
            counted = {name: getattr(run, name) + value for name, value in added.items()}
            self._tx.put(self._state.runs, run.id, replace(run, **counted))
