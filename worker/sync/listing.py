"""One cycle's listing of a target: the records of each page, read just far enough to
know whether they changed, and the ids it contained.

Before anything is normalized, each raw record gets its campaign id and the
fingerprint of its provider data. A record whose fingerprint's digest is the one
the target's :class:`~worker.sync.digests.DigestTable` holds for its id (the
store confirmed it, and it is not read against the clock) is skipped there and
then: no entry, no scrub, no store read. The table remembers every id listed: a
campaign listed twice in one cycle keeps its first record (the second is
quarantined), and after a complete listing the stored campaigns it never saw
are the ones that went missing. Memory is the table's (about 17 bytes a slot).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from worker.domain.campaign import record_fingerprint, record_id
from worker.domain.poison import find_poison
from worker.domain.records import Rejection, RejectionKind, reader_error
from worker.domain.scrub import scrub
from worker.ports import Dialect, Lease, RawRecord, Store
from worker.sync.digests import DigestTable, clocked_digest

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

__all__ = ["MAX_ID_CHARS", "Entry", "Listing"]

MAX_ID_CHARS = 1000  # a longer "id" is not one: the record is quarantined
VANISH_BATCH = 5000  # stored ids read per query when looking for what a listing missed


class Entry(NamedTuple):
    """One raw record with its id and the fingerprint of the record as listed.

    A named tuple, not a dataclass: one is built per listed record, every cycle.
    """

    campaign_id: str | None
    raw: RawRecord
    fingerprint: str | None


class Listing:
    """The ids one cycle has listed so far.

    Args:
        seen: the target's table (see ``SyncPipeline``); a fresh one by default.
        skip: whether a record the table knows unchanged is skipped (not on a
            full detail refresh, which reads everything).
    """

    def __init__(
        self,
        dialect: Dialect,
        secrets: Collection[str] = (),
        *,
        seen: DigestTable | None = None,
        skip: bool = True,
    ) -> None:
        self._dialect = dialect
        self._id_field = dialect.id_field
        self._provider = dialect.name
        self._secrets = secrets
        self.seen = seen if seen is not None else DigestTable(max_entries=1 << 62)
        self._skip = skip
        self.unidentified = 0  # records whose id could not be read: nothing may vanish
        self.skipped = 0  # records known unchanged from the table alone

    def take(
        self, page: Sequence[RawRecord], *, observed_at: datetime | None = None
    ) -> tuple[list[Entry], list[Rejection]]:
        """The page's entries, minus campaigns this cycle already listed (quarantined)
        and those the table knows unchanged (skipped), each with every known secret
        blanked out of its record (``domain.scrub``). A record whose status is read
        against the clock is skipped only given the page's ``observed_at``."""
        entries: list[Entry] = []
        rejections: list[Rejection] = []
        secrets = tuple(self._secrets)  # a snapshot: the collection may grow meanwhile
        find_secret = _secret_finder(secrets)
        skip = self._skip
        for record in page:
            fingerprint = None
            canonical = _canonical(record)
            if canonical is not None and (find_secret is None or not find_secret(canonical)):
                # No secret in it: the record is its own scrubbed form, and these bytes
                # are what ``record_fingerprint`` hashes.
                digest = hashlib.sha256(canonical)
                if skip and self._known_unchanged(record, digest, observed_at):
                    self.skipped += 1
                    continue
                raw, fingerprint = record, digest.hexdigest()
            else:
                # A provider may echo a key it was sent: no part of the worker ever sees it.
                raw = scrub(record, secrets)
            try:
                self._take_one(raw, entries, rejections, fingerprint)
            except Exception as exc:  # noqa: BLE001 - a bug costs its record, never the page
                self.unidentified += 1  # its id is unsure: nothing may vanish this cycle
                rejections.append(reader_error(self._provider, exc, None, raw))
        return entries, rejections

    def _known_unchanged(
        self, record: RawRecord, digest: Hash, observed_at: datetime | None
    ) -> bool:
        """Whether the table holds this record's digest for its id (then it is listed,
        and skipped). A status read against the clock (VOXO's ``READY``) is read from
        the record's dates at ``observed_at`` and mixed into the digest
        (:func:`clocked_digest`): the record is skipped while it reads the stored status.
        Run on every record of a quiet fleet, so it reads the id as ``record_id`` does
        for the two types an id has, and leaves any other to the long way."""
        try:
            value = record.get(self._id_field)
            if type(value) is str:
                campaign_id = value.strip()
            elif type(value) is int:
                campaign_id = str(value)
            else:
                return False
            if not campaign_id:
                return False
            if self._dialect.reads_clock(record):
                if observed_at is None:
                    return False
                status = self._dialect.status_now(record, observed_at)
                return self.seen.skip(campaign_id, clocked_digest(digest.hexdigest(), status))
            return self.seen.skip(campaign_id, int.from_bytes(digest.digest()[:8], "big") or 1)
        except Exception:  # noqa: BLE001 - read it the long way, where a bug costs its record
            return False

    def _take_one(
        self,
        raw: RawRecord,
        entries: list[Entry],
        rejections: list[Rejection],
        fingerprint: str | None = None,
    ) -> None:
        """One record's entry, or its rejection (its id is unreadable or listed twice)."""
        campaign_id = record_id(raw, self._id_field)
        if campaign_id is not None and (
            bad := find_poison(campaign_id, max_string_chars=MAX_ID_CHARS, max_depth=1)
        ):
            self.unidentified += 1
            rejections.append(
                Rejection(
                    kind=RejectionKind.UNSTORABLE,
                    reason=f"{self._id_field}: {bad[1]}",
                    field=self._id_field,
                    raw=raw,
                )
            )
            return
        if campaign_id is None:
            self.unidentified += 1
        elif not self.seen.see(campaign_id):
            rejections.append(
                Rejection(
                    kind=RejectionKind.NORMALIZATION,
                    reason=f"{self._id_field}={campaign_id!r}: listed twice in one cycle; "
                    "the first record was kept",
                    field=self._id_field,
                    campaign_id=campaign_id,
                    raw=raw,
                )
            )
            return
        if fingerprint is None and isinstance(raw, Mapping):
            fingerprint = record_fingerprint(raw)
        entries.append(Entry(campaign_id, raw, fingerprint))

    async def vanish_missing(
        self,
        store: Store,
        lease: Lease,
        *,
        listed_at: datetime,
        lease_now: Callable[[], datetime],
        misses_to_vanish: int,
        all_stored: bool = False,
    ) -> tuple[int, Counter[str]]:
        """After a complete listing: a miss for each stored campaign it lacked.

        ``all_stored``: every campaign listed is now stored and not vanished (none
        was quarantined or refused as stale). Then, when the store holds as many
        live campaigns as were listed, none is missing and no id is read back.
        Otherwise reads the stored ids back in keyset batches (never the whole
        fleet at once) and writes each batch's misses in a transaction fenced by
        ``lease``. Returns (campaigns vanished, events written by type).
        """
        vanished = 0
        events: Counter[str] = Counter()
        if all_stored and await store.count_live(lease.target) == self.seen.listed:
            return vanished, events
        after = ""
        while ids := await store.listed_ids(lease.target, after=after, limit=VANISH_BATCH):
            after = ids[-1]
            missing = [cid for cid in ids if cid not in self.seen]
            if not missing:
                continue
            async with store.page(lease, lease_now()) as writer:
                written = await writer.miss(
                    missing, listed_at=listed_at, misses_to_vanish=misses_to_vanish
                )
            vanished += written.changed
            events.update(written.event_types)
        return vanished, events


def _secret_finder(secrets: Sequence[str]) -> Callable[[bytes], object] | None:
    """A search for any of ``secrets`` in JSON text (one C call a record), or ``None``.

    A secret appears in JSON text as JSON writes it (quotes and backslashes escaped).
    """
    needles = [re.escape(orjson.dumps(secret)[1:-1]) for secret in secrets if secret]
    return re.compile(b"|".join(needles)).search if needles else None


def _canonical(record: Any) -> bytes | None:
    """The sorted-key JSON ``record_fingerprint`` hashes, for a plain record; ``None``
    for one it writes otherwise (past 64 bits, a lone surrogate, not a mapping)."""
    if not isinstance(record, dict):
        return None
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
