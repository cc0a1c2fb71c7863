"""What a replica remembers of one target's listing: compact, and pure.

A :class:`DigestTable` holds, per listed campaign, a 64-bit hash of its id, the
first 64 bits of its list item's fingerprint (the ``list_hash`` the store holds)
and a one-byte mark of the cycle that listed it. It answers the two questions a
cycle asks of every listed record, without a Python object per campaign:

- *is this record the one stored?* (:meth:`matches`): the same digest, confirmed
  by the store in the previous cycle, or loaded from it when this one began, so
  the record is skipped before any field of it is read (a status read against the
  clock is mixed into its digest, :func:`clocked_digest`, so such a record is
  skipped only while it reads the stored status);
- *was this campaign listed already this cycle?* (:meth:`see`, ``in``): the
  second listing of a campaign is quarantined, and after a complete listing the
  stored campaigns not in the table are the ones that went missing.

Layout: open addressing with linear probing over two ``array('Q')`` (id hash,
digest) and a ``bytearray`` of marks, 17 bytes a slot, kept between half and
three quarters full: 23 to 34 bytes per campaign. Past ``max_entries`` the ids
go to a plain set (listed, never skipped: their records are checked against the
store's heads as before), so the bound is on the table, never on correctness.

Two different ids share a 64-bit hash with a chance of about n²/2⁶⁵ (3·10⁻⁸ for a
million campaigns; the hash is keyed per process): they would then count as one
campaign listed twice. A digest that matches a different record needs a 64-bit
SHA-256 prefix collision. Both are accepted as negligible.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from worker.domain.campaign import Status
from worker.domain.diff import clocked_list_hash

__all__ = ["DigestTable", "clocked_digest", "digest_of"]

_MASK = (1 << 64) - 1
_MIN_SLOTS = 1024
_GROW_AT = 0.75  # past this share of slots used, the table is rebuilt larger
_REBUILD_LOAD = 0.5  # the share of slots a rebuilt table starts with
_DEAD_SHARE = 0.25  # past this share of dead slots when a cycle begins, compact


def digest_of(fingerprint: str) -> int:
    """The table's digest of a ``record_fingerprint`` (hex SHA-256): its first 64 bits.

    Never 0, which marks "no digest known".
    """
    return int(fingerprint[:16], 16) or 1


def clocked_digest(fingerprint: str, status: Status) -> int:
    """The table's digest of a list item whose status is read against the clock (VOXO's
    ``READY``): of its fingerprint mixed with the status it read
    (:func:`~worker.domain.diff.clocked_list_hash`, which the stores' ``list_digests``
    return too), so the item is skipped only while it reads the stored status."""
    return digest_of(clocked_list_hash(fingerprint, status))


class DigestTable:
    """Listed ids and their digests for one target (see the module docstring).

    Args:
        max_entries: campaigns the table holds at most; the rest are only listed.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._allocate(_MIN_SLOTS)
        self._this = 1  # the mark of this cycle's listing
        self._last = 2  # the mark of the previous cycle's (or of what was loaded)
        self._overflow: set[str] = set()

    def _allocate(self, slots: int) -> None:
        self._slots = slots
        self._keys = array("Q", bytes(8 * slots))
        self._digests = array("Q", bytes(8 * slots))
        self._marks = bytearray(slots)
        self._used = 0

    def __len__(self) -> int:
        """Slots in use (live or not), a bound on what the table holds."""
        return self._used

    @property
    def listed(self) -> int:
        """How many campaigns this cycle listed."""
        return self._marks.count(self._this) + len(self._overflow)

    @property
    def nbytes(self) -> int:
        """Bytes the table's arrays take (its overflow set aside)."""
        return 17 * self._slots

    def begin_cycle(self) -> None:
        """Start a new listing: what this one saw and confirmed is the previous one's."""
        keep = bytes(self._this if i == self._this else 0 for i in range(256))
        self._marks = bytearray(self._marks.translate(keep))
        self._this, self._last = self._last, self._this
        self._overflow = set()
        live = self._slots - self._marks.count(0)
        if self._used - live > _DEAD_SHARE * self._slots:
            self._rebuild(live)

    def load(self, campaign_id: str, digest: int) -> None:
        """Remember a stored campaign's digest as if the previous cycle had confirmed it."""
        key = _key(campaign_id)
        slot = self._slot(key)
        if self._keys[slot] == 0 and (slot := self._claim(slot, key)) < 0:
            return
        self._digests[slot] = digest
        self._marks[slot] = self._last

    def load_many(self, stored: Sequence[tuple[str, str]]) -> None:
        """:meth:`load` each (id, ``list_hash`` prefix) pair, the table grown once for
        all of them first (a load is where a table grows most)."""
        wanted = min(self._used + len(stored), self.max_entries)
        if wanted > _GROW_AT * self._slots:
            self._rebuild(wanted)
        load = self.load
        for campaign_id, prefix in stored:
            load(campaign_id, int(prefix, 16) or 1)

    def matches(self, campaign_id: str, digest: int) -> int:
        """The slot of this campaign if its digest is the one confirmed before this
        cycle and it is not listed yet this cycle; else -1. Marks nothing."""
        key = _key(campaign_id)
        slot = self._slot(key)
        if (
            self._keys[slot] == key
            and self._marks[slot] == self._last
            and self._digests[slot] == digest
        ):
            return slot
        return -1

    def skip(self, campaign_id: str, digest: int) -> bool:
        """:meth:`matches` and :meth:`keep` in one: whether the campaign was listed
        with its confirmed digest kept."""
        key = _key(campaign_id)
        slot = self._slot(key)
        if (
            self._keys[slot] == key
            and self._marks[slot] == self._last
            and self._digests[slot] == digest
        ):
            self._marks[slot] = self._this
            return True
        return False

    def keep(self, slot: int) -> None:
        """List the campaign at ``slot`` (from :meth:`matches`) with its digest kept."""
        self._marks[slot] = self._this

    def see(self, campaign_id: str) -> bool:
        """List a campaign whose record is read; False when it was listed already.

        Its digest is forgotten until :meth:`confirm` gives the stored one.
        """
        key = _key(campaign_id)
        slot = self._slot(key)
        if self._keys[slot] == 0:
            if (slot := self._claim(slot, key)) < 0:
                if campaign_id in self._overflow:
                    return False
                self._overflow.add(campaign_id)
                return True
        elif self._marks[slot] == self._this:
            return False
        self._digests[slot] = 0
        self._marks[slot] = self._this
        return True

    def confirm(self, campaign_id: str, digest: int) -> None:
        """The store holds this listed campaign's record with this digest: the next
        cycle may skip it. Ignored for a campaign not listed this cycle."""
        key = _key(campaign_id)
        slot = self._slot(key)
        if self._keys[slot] == key and self._marks[slot] == self._this:
            self._digests[slot] = digest

    def __contains__(self, campaign_id: object) -> bool:
        """Whether this cycle listed the campaign."""
        if not isinstance(campaign_id, str):
            return False
        key = _key(campaign_id)
        slot = self._slot(key)
        if self._keys[slot] == key and self._marks[slot] == self._this:
            return True
        return campaign_id in self._overflow

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty one where it would go."""
        keys, slots = self._keys, self._slots
        slot = key % slots
        while True:
            found = keys[slot]
            if found == key or found == 0:
                return slot
            slot += 1
            if slot == slots:
                slot = 0

    def _claim(self, slot: int, key: int) -> int:
        """Put ``key`` in the empty ``slot`` (growing the table first when it is
        full enough) and return where it went; -1 past ``max_entries``."""
        if self._used >= self.max_entries:
            return -1
        if self._used + 1 > _GROW_AT * self._slots:
            self._rebuild(self._used + 1)
            slot = self._slot(key)
        self._keys[slot] = key
        self._used += 1
        return slot

    def _rebuild(self, live: int) -> None:
        """Reinsert the live slots (listed this or the previous cycle) into a table
        sized for ``live`` of them at :data:`_REBUILD_LOAD`."""
        keys, digests, marks = self._keys, self._digests, self._marks
        self._allocate(max(_MIN_SLOTS, int(live / _REBUILD_LOAD) + 1))
        for old in range(len(keys)):
            mark = marks[old]
            if mark:
                key = keys[old]
                slot = self._slot(key)
                self._keys[slot] = key
                self._digests[slot] = digests[old]
                self._marks[slot] = mark
                self._used += 1


def _key(campaign_id: str) -> int:
    """A 64-bit hash of an id, never 0 (the empty slot)."""
    return hash(campaign_id) & _MASK or 1
