"""What the store confirmed, told to the target's digest table (``worker.sync.digests``),
so that the next cycle skips those list items before reading them.

A list item whose status is read against the clock (VOXO's ``READY``) is confirmed
with that status mixed into its digest (``clocked_digest``): it is skipped only while
its dates still read the status stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.domain.diff import Change
from worker.ports import Dialect, PageHeads
from worker.sync.digests import DigestTable, clocked_digest, digest_of
from worker.sync.listing import Entry
from worker.sync.planner import reads_clock

__all__ = ["confirm_unchanged", "confirm_written"]


def confirm_unchanged(
    table: DigestTable,
    dialect: Dialect,
    entries: Sequence[Entry],
    heads: PageHeads,
    unchanged: Sequence[str],
) -> None:
    """The list items the store answered unchanged (``heads.unchanged``), and those of
    ``unchanged`` whose status, read against the clock, is still the stored one."""
    if heads.unchanged:
        for entry in entries:
            if entry.campaign_id in heads.unchanged and entry.fingerprint is not None:
                table.confirm(entry.campaign_id, digest_of(entry.fingerprint))
    if not unchanged:
        return
    by_id = {entry.campaign_id: entry for entry in entries}
    for campaign_id in unchanged:
        listed, head = by_id.get(campaign_id), heads.heads.get(campaign_id)
        if listed is None or head is None or listed.fingerprint is None:
            continue
        if head.missed_listings or not reads_clock(dialect, listed.raw):
            continue
        table.confirm(campaign_id, clocked_digest(listed.fingerprint, head.status))


def confirm_written(
    table: DigestTable, dialect: Dialect, entries: Sequence[Entry], changes: Sequence[Change]
) -> None:
    """The list items of the changes just committed (all of them applied)."""
    by_id = {entry.campaign_id: entry for entry in entries}
    for change in changes:
        campaign_id = change.campaign.campaign_id
        entry = by_id.get(campaign_id)
        if entry is None or change.list_hash is None or entry.fingerprint is None:
            continue
        if change.list_hash != entry.fingerprint:
            continue
        if reads_clock(dialect, entry.raw):
            digest = clocked_digest(change.list_hash, change.campaign.status)
        else:
            digest = digest_of(change.list_hash)
        table.confirm(campaign_id, digest)
