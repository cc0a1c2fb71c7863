"""Builders for the page planner's tests: records from the fixtures, and a desk that plans
pages the way the page step does, over what earlier plans "stored".

``Desk.page`` runs the planner's four stages exactly as ``worker.sync.page`` does,
with the I/O replaced by plain values: the heads come from :meth:`Desk.heads`
(the store's rule for ``unchanged``, as ``CampaignReader.heads`` states it), the
details from the ``details`` given (by default each list item is its own record),
and ``Desk.store`` keeps what a plan wrote. No database and no network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from worker.domain.campaign import TargetKey
from worker.domain.diff import Change, StoredHead, StoredState
from worker.ports import Detail, Dialect, PageHeads, RawRecord
from worker.sync.listing import Listing
from worker.sync.planner import (
    HeadsWanted,
    PagePlan,
    entries_to_read,
    heads_wanted,
    plan_page,
    read_page,
)
from worker.sync.policy import CycleLimits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=1)


def fixture(name: str) -> dict[str, Any]:
    """A provider's sample record from ``tests/fixtures``, e.g. ``"vox_v3/campaign_seed"``."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def vox(campaign_id: str, **fields: Any) -> dict[str, Any]:
    """A vox v3 campaign object (the documented sample) with these fields."""
    return {**fixture("vox_v3/campaign_seed"), "id": campaign_id, **fields}


def voxo(campaign_id: int, **fields: Any) -> dict[str, Any]:
    """A VOXO list item of tenant 1234 (the documented sample), Chicago time."""
    return {**fixture("voxo/list_item"), "id": campaign_id, **fields}


def sarvam(campaign_id: str, **fields: Any) -> dict[str, Any]:
    """A Sarvam campaign (a realistic Get Campaign record) with these fields."""
    return {**fixture("sarvam/detail_q1_payment_reminders"), "campaign_id": campaign_id, **fields}


def stored_state(change: Change) -> StoredState:
    """What the store holds after writing ``change`` (its head as ``heads`` reads it)."""
    campaign = change.campaign
    head = StoredHead(
        version=change.version,
        content_hash=change.content_hash,
        status=campaign.status,
        status_derived=campaign.status_derived,
        observed_at=change.observed_at,
        provider_updated_at=campaign.provider_updated_at,
        list_hash=change.list_hash,
        scheduled_start_at=campaign.scheduled_start_at,
        scheduled_end_at=campaign.scheduled_end_at,
    )
    return StoredState(head=head, campaign=campaign)


@dataclass
class Desk:
    """One target's pages planned in turn, over the versions earlier plans stored.

    Attributes:
        fetched: the ids (``None`` for an unreadable one) whose details the last page
            asked for, in order.
        states_read: the ids whose full stored state the last page read.
    """

    dialect: Dialect
    limits: CycleLimits = field(default_factory=CycleLimits)
    stored: dict[str, StoredState] = field(default_factory=dict)
    reported: dict[str, set[str]] = field(default_factory=dict)
    fetched: list[str | None] = field(default_factory=list)
    states_read: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.listing = Listing(self.dialect)
        self.target = TargetKey(provider=self.dialect.name, account="acme")

    def new_cycle(self) -> None:
        """Forget the ids listed so far (a campaign may be listed again)."""
        self.listing = Listing(self.dialect)

    def page(
        self,
        records: Sequence[RawRecord],
        *,
        at: datetime = T0,
        details: Mapping[str, Detail] | None = None,
        full_refresh: bool = False,
        secrets: Sequence[str] = (),
    ) -> PagePlan:
        """Plan one page of ``records`` observed ``at``; ``details`` by campaign id
        replace the default (each list item is its own record)."""
        entries, rejections = self.listing.take(records)
        wanted = heads_wanted(entries, self.dialect, full_refresh=full_refresh)
        heads = self.heads(wanted)
        to_read = entries_to_read(entries, heads, self.dialect, at, full_refresh=full_refresh)
        self.fetched = [e.campaign_id for e in to_read.entries]
        given = details or {}
        fetched = [given.get(e.campaign_id or "", Detail(record=e.raw)) for e in to_read.entries]
        reading = read_page(
            to_read,
            fetched,
            heads,
            self.dialect,
            at,
            limits=self.limits,
            listing_rejections=rejections,
            secrets=secrets,
        )
        self.states_read = reading.states_wanted
        states = {cid: self.stored[cid] for cid in reading.states_wanted}
        return plan_page(
            reading,
            states,
            dialect=self.dialect,
            target=self.target,
            observed_at=at,
            limits=self.limits,
            known_drift=self.reported,
        )

    def heads(self, wanted: HeadsWanted) -> PageHeads:
        """The store's answer: with list hashes, a stored campaign whose list item is that
        one, not vanished and with no missed listings, is ``unchanged`` only."""
        hashes = wanted.list_hashes or [None] * len(wanted.ids)
        heads: dict[str, StoredHead] = {}
        same: set[str] = set()
        for cid, list_hash in zip(wanted.ids, hashes, strict=True):
            if (state := self.stored.get(cid)) is None:
                continue
            head = state.head
            if (
                wanted.list_hashes is not None
                and list_hash is not None
                and head.list_hash == list_hash
                and head.vanished_at is None
                and not head.missed_listings
            ):
                same.add(cid)
            else:
                heads[cid] = head
        return PageHeads(heads=heads, unchanged=frozenset(same))

    def store(self, plan: PagePlan) -> PagePlan:
        """Keep what ``plan`` writes, as the page writer would; returns it."""
        for change in plan.changes:
            self.stored[change.campaign.campaign_id] = stored_state(change)
        for cid in plan.listed_again:
            state = self.stored[cid]
            self.stored[cid] = replace(state, head=replace(state.head, missed_listings=0))
        for note in plan.drift:
            self.reported.setdefault(note.field, set()).add(note.value)
        return plan

    def miss(self, campaign_id: str, *, vanished_at: datetime | None = None) -> None:
        """A complete listing missed ``campaign_id`` (and vanished it, with ``vanished_at``)."""
        state = self.stored[campaign_id]
        version = state.head.version + (vanished_at is not None)  # vanishing is a version
        head = replace(state.head, version=version, missed_listings=1, vanished_at=vanished_at)
        self.stored[campaign_id] = replace(state, head=head)
