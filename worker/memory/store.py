"""The in-memory implementation of the storage ports: ``MemoryStore``.

It keeps what ``worker.storage.postgres.PostgresStore`` keeps, by the same rules
(the conformance suite in ``tests/conformance`` runs the same tests on both), in
the tables of :class:`~worker.memory.tables.MemoryState`. Reads see committed
rows only; a page's writes commit together or not at all. Nothing is durable
and nothing is shared between processes; no ``pg_notify`` is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from worker.domain.campaign import Campaign, CampaignKey, TargetKey
from worker.domain.diff import StoredState, clocked_list_hash
from worker.domain.drift import OVERFLOW
from worker.domain.events import EventKind
from worker.memory.leases import MemoryLeases, fence
from worker.memory.tables import CampaignRow
from worker.memory.writer import MemoryPageWriter
from worker.ports import Lease, PageHeads

__all__ = ["MemoryPageWriter", "MemoryStore"]


class MemoryStore(MemoryLeases):
    """Campaign state, history, outbox, leases and run records in memory.

    Args:
        secrets: known secret values, blanked out of anything kept of a rejection
            or a run's error.
        state: the tables to use; a fresh, empty set by default. Read
            ``store.state`` to see what the store holds.
    """

    @asynccontextmanager
    async def page(
        self, lease: Lease, now: datetime, *, observed_at: datetime | None = None
    ) -> AsyncIterator[MemoryPageWriter]:
        """One page's transaction, fenced by ``lease`` (raises LeaseLost before any write)."""
        async with self.state.transaction(lease.target) as tx:
            newest = fence(tx, self.state, lease, now, observed_at)
            stale_since = (
                newest if observed_at is not None and newest and newest > observed_at else None
            )
            yield MemoryPageWriter(
                self.state,
                tx,
                lease.target,
                lease.run_id,
                self._secrets,
                now=now,
                newer_page_at=stale_since,
            )

    async def heads(
        self,
        target: TargetKey,
        campaign_ids: Sequence[str],
        *,
        list_hashes: Sequence[str | None] | None = None,
    ) -> PageHeads:
        """Stored heads of these campaigns; see ``CampaignReader.heads``."""
        hashes = list(list_hashes) if list_hashes is not None else []
        hashes += [None] * (len(campaign_ids) - len(hashes))  # as unnest pads the shorter
        unchanged: set[str] = set()
        heads = {}
        for campaign_id, list_hash in zip(campaign_ids, hashes, strict=False):
            row = self._row(target, campaign_id)
            if row is None:
                continue
            if (
                list_hash is not None
                and row.list_hash == list_hash
                and row.vanished_at is None
                and row.missed_listings == 0
            ):
                unchanged.add(campaign_id)
            else:
                heads[campaign_id] = row.head()
        return PageHeads(heads, frozenset(unchanged))

    async def load(
        self, target: TargetKey, campaign_ids: Sequence[str]
    ) -> Mapping[str, StoredState]:
        """Stored current versions of these campaigns in full."""
        return {
            campaign_id: StoredState(head=row.head(), campaign=row.campaign)
            for campaign_id in campaign_ids
            if (row := self._row(target, campaign_id)) is not None
        }

    async def listed_ids(self, target: TargetKey, *, after: str, limit: int) -> Sequence[str]:
        """Ids of stored, not vanished campaigns of ``target`` after ``after``, in order.

        Ordered by code point; PostgreSQL orders by the database's collation.
        """
        ids = sorted(
            key.campaign_id
            for key, row in self.state.campaigns.rows.items()
            if (key.provider, key.account) == (target.provider, target.account)
            and row.vanished_at is None
            and key.campaign_id > after
        )
        return ids[:limit]

    async def count_live(self, target: TargetKey) -> int:
        """How many of the target's stored campaigns are not vanished."""
        return sum(
            1
            for key, row in self.state.campaigns.rows.items()
            if (key.provider, key.account) == (target.provider, target.account)
            and row.vanished_at is None
        )

    async def list_digests(
        self, target: TargetKey, *, after: str, limit: int
    ) -> Sequence[tuple[str, str]]:
        """(id, list hash prefix) of campaigns ``heads`` would find unchanged, in id
        order (code point; PostgreSQL orders by the database's collation)."""
        found = sorted(
            (key.campaign_id, _stored_digest(row.list_hash, row.campaign))
            for key, row in self.state.campaigns.rows.items()
            if (key.provider, key.account) == (target.provider, target.account)
            and row.vanished_at is None
            and row.missed_listings == 0
            and row.list_hash is not None
            and key.campaign_id > after
        )
        return found[:limit]

    async def known_drift(self, target: TargetKey) -> Mapping[str, frozenset[str]]:
        """Schema-drift values already in the outbox for ``target``, by field."""
        found: dict[str, set[str]] = {}
        for row in self.state.events.rows.values():
            event = row.event
            of_target = (event.key.provider, event.key.account) == (target.provider, target.account)
            if event.kind is EventKind.SCHEMA_DRIFT and of_target:
                value = event.data.get("value")  # None: the note that the cap was passed
                found.setdefault(str(event.data["field"]), set()).add(
                    OVERFLOW if value is None else str(value)
                )
        return {field: frozenset(values) for field, values in found.items()}

    def _row(self, target: TargetKey, campaign_id: str) -> CampaignRow | None:
        key = CampaignKey(provider=target.provider, account=target.account, campaign_id=campaign_id)
        return self.state.campaigns.rows.get(key)


def _stored_digest(list_hash: str, campaign: Campaign) -> str:
    """As PostgreSQL's ``list_digests``: a derived status is mixed in."""
    if campaign.status_derived:
        return clocked_list_hash(list_hash, campaign.status)[:16]
    return list_hash[:16]
