"""Each target's digest table, kept from one of this pipeline's cycles to the next.

A table (:mod:`worker.sync.digests`) says which records are the ones stored, so it
is only as good as the knowledge that nobody else wrote since. The fencing token
grows by one on every claim: a claim whose token is the kept table's plus one
means no other writer held the target in between, and the table is used as it
is. Any other token (another replica, a takeover, a restart) loads it again from
the store, in keyset batches. Only a listing that ended well keeps its table; a
failed one drops it (a write may have committed unseen).
"""

from __future__ import annotations

from worker.domain.campaign import TargetKey
from worker.ports import Lease, Store
from worker.sync.digests import DigestTable

__all__ = ["DIGEST_BATCH", "DigestTables"]

DIGEST_BATCH = 50_000  # stored digests read per query when a target's table is loaded


class DigestTables:
    """The digest tables of the targets one pipeline syncs."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._kept: dict[TargetKey, tuple[int, DigestTable]] = {}

    def take(self, lease: Lease, *, bound: int) -> tuple[DigestTable, bool]:
        """The target's table for the cycle of ``lease``: the one kept by the cycle that
        held the token just before (``False``: ready), else a new, empty one (``True``:
        :meth:`fill` it before it is used; the pipeline does while the first pages are
        fetched)."""
        kept = self._kept.pop(lease.target, None)
        if kept is not None and kept[0] == lease.token - 1 and kept[1].max_entries == bound:
            table = kept[1]
            table.begin_cycle()
            return table, False
        return DigestTable(bound), True

    async def fill(self, target: TargetKey, table: DigestTable, *, full_refresh: bool) -> None:
        """Load a new ``table`` from the store, in keyset batches (nothing on a full detail
        refresh, which skips nothing). Raises StorageError."""
        after = ""
        while not full_refresh and len(table) < table.max_entries:
            rows = await self._store.list_digests(target, after=after, limit=DIGEST_BATCH)
            table.load_many(rows)
            if len(rows) < DIGEST_BATCH:
                break
            after = rows[-1][0]

    def keep(self, lease: Lease, table: DigestTable) -> None:
        """Keep ``table`` for the target's next cycle: its listing under ``lease`` ended well."""
        self._kept[lease.target] = (lease.token, table)
