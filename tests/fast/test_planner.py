"""The page planner, rule by rule, with the providers' real reading rules and no I/O.

Each test plans pages through ``Desk`` (tests/fast/planning.py), which runs the
planner's stages as the page step does and keeps what each plan wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.fast.planning import LATER, T0, Desk, sarvam, vox, voxo
from worker.domain.campaign import Campaign, Status
from worker.domain.dialects import SarvamDialect, VoxoDialect, VoxV3Dialect
from worker.domain.drift import KEY_FIELD, OVERFLOW, DriftNote
from worker.domain.events import EventKind
from worker.domain.records import RejectionKind
from worker.ports import Detail, Dialect, RawRecord
from worker.sync.planner import fresh_drift, heads_wanted, stale_behind_newer_page
from worker.sync.policy import CycleLimits

VOX = VoxV3Dialect(account="acme")
VOXO = VoxoDialect(account="acme", tenant_id=1234)
SARVAM = SarvamDialect(account="acme")
# The VOXO sample runs from 2022-02-16 06:00 to 2022-02-17 06:00 UTC (Chicago midnights).
VOXO_BEFORE, VOXO_DURING = datetime.fromisoformat("2022-02-15T12:00Z"), T0.replace(2022, 2, 16)


def kinds(plan_events: Any) -> list[EventKind]:
    return [event.kind for event in plan_events]


def test_new_campaigns_are_discovered_at_version_1() -> None:
    desk = Desk(VOX)
    plan = desk.page([vox("1"), vox("2", status="ongoing")])
    assert [(c.campaign.campaign_id, c.version, c.previous_version) for c in plan.new] == [
        ("1", 1, 0),
        ("2", 1, 0),
    ]
    assert [kinds(c.events) for c in plan.changes] == [[EventKind.DISCOVERED]] * 2
    assert plan.changed == () and plan.rejections == () and plan.writes
    assert desk.fetched == ["1", "2"] and desk.states_read == ()


def test_the_same_list_item_again_is_unchanged_and_costs_nothing() -> None:
    desk = Desk(VOX)
    desk.store(desk.page([vox("1"), vox("2")]))
    desk.new_cycle()
    plan = desk.page([vox("1"), vox("2")], at=LATER)
    assert plan.unchanged == ("1", "2")  # the store answered: same list item
    assert not plan.writes and plan.changes == ()
    assert desk.fetched == []  # no detail, no normalize, no state read


def test_a_changed_campaign_gets_the_next_version_and_its_transition_events() -> None:
    desk = Desk(VOX)
    desk.store(desk.page([vox("1", status="ongoing"), vox("2")]))
    desk.new_cycle()
    plan = desk.page([vox("1", status="paused", paused_by="user"), vox("2")], at=LATER)
    (change,) = plan.changed
    assert (change.campaign.campaign_id, change.version, change.previous_version) == ("1", 2, 1)
    assert change.campaign.status is Status.PAUSED
    assert EventKind.PAUSED in kinds(change.events)
    assert change.observed_at == LATER
    assert plan.unchanged == ("2",) and plan.new == ()
    assert desk.fetched == ["1"] and desk.states_read == ("1",)


def test_a_campaign_listed_again_after_a_miss_is_reset_without_being_read() -> None:
    desk = Desk(VOX)
    desk.store(desk.page([vox("1")]))
    desk.miss("1")
    desk.new_cycle()
    plan = desk.page([vox("1")], at=LATER)
    # The store returned its head (it has a missed listing); its list item is the same.
    assert plan.listed_again == ("1",) and plan.unchanged == ("1",)
    assert plan.changes == () and plan.writes
    assert desk.fetched == []


def test_a_vanished_campaign_seen_again_reappears_in_a_new_version() -> None:
    desk = Desk(VOX)
    desk.store(desk.page([vox("1")]))
    desk.miss("1", vanished_at=T0 + timedelta(seconds=30))
    desk.new_cycle()
    plan = desk.page([vox("1")], at=LATER)
    (change,) = plan.changed
    assert change.version == 3  # 1 stored, 2 vanished, 3 back
    assert kinds(change.events)[0] is EventKind.REAPPEARED


def test_a_status_read_against_the_clock_is_read_again_from_the_stored_dates() -> None:
    desk = Desk(VOXO)
    ready = voxo(7, state="READY")
    desk.store(desk.page([ready], at=VOXO_BEFORE))
    assert desk.stored["7"].head.status is Status.SCHEDULED
    desk.new_cycle()
    # The same record an hour later, still before its start: known unchanged, not read.
    quiet = desk.page([ready], at=VOXO_BEFORE + timedelta(hours=1))
    assert quiet.unchanged == ("7",) and not quiet.writes and desk.fetched == []
    desk.new_cycle()
    # Inside its dates the same record reads "running": a new version, though it is the same.
    plan = desk.page([ready], at=VOXO_DURING)
    assert desk.fetched == ["7"]
    (change,) = plan.changed
    assert (change.campaign.status, change.campaign.status_derived) == (Status.RUNNING, True)
    assert EventKind.STATUS_CHANGED in kinds(change.events)


def test_a_status_read_against_the_clock_is_never_skipped_by_the_store() -> None:
    desk = Desk(VOXO)
    entries, _ = desk.listing.take([voxo(7, state="READY"), voxo(8, state="PAUSED")])
    wanted = heads_wanted(entries, VOXO)
    assert wanted.ids == ("7", "8")
    assert wanted.list_hashes == (None, entries[1].fingerprint)
    assert heads_wanted(entries, VOXO, full_refresh=True).list_hashes is None


def test_a_full_refresh_reads_every_detail_and_writes_only_what_changed() -> None:
    desk = Desk(SARVAM)
    desk.store(desk.page([sarvam("a"), sarvam("b")]))
    desk.new_cycle()
    more = Detail(record={**sarvam("b"), "name": "only the detail shows this"})
    plan = desk.page([sarvam("a"), sarvam("b")], at=LATER, full_refresh=True, details={"b": more})
    assert desk.fetched == ["a", "b"]
    assert [c.campaign.campaign_id for c in plan.changed] == ["b"]
    assert plan.unchanged == ("a",)


def test_an_observation_older_than_the_stored_version_is_stale() -> None:
    desk = Desk(VOX)
    desk.store(desk.page([vox("1")], at=LATER))
    desk.new_cycle()
    plan = desk.page([vox("1", status="ongoing")], at=T0)
    assert plan.changes == ()
    (why,) = plan.stale
    assert why.startswith("campaign 1: observed at 2026-03-02T09:00:00Z, before the stored")
    assert not plan.writes


def test_a_provider_updated_at_older_than_the_stored_one_is_stale() -> None:
    desk = Desk(SARVAM)
    desk.store(desk.page([sarvam("a", updated_at="2023-11-08T00:00:00Z")]))
    desk.new_cycle()
    plan = desk.page([sarvam("a", updated_at="2023-11-07T00:00:00Z", name="x")], at=LATER)
    (why,) = plan.stale
    assert "provider updated_at 2023-11-07T00:00:00Z is older" in why
    assert plan.changes == ()


def test_changes_behind_a_page_already_written_are_stale_with_both_times() -> None:
    plan = Desk(VOX).page([vox("1")])
    (why,) = stale_behind_newer_page(plan.changes, T0, LATER)
    assert why == (
        "campaign 1: fetched at 2026-03-02T09:00:00Z, before a page already written "
        "(fetched at 2026-03-02T09:01:00Z)"
    )


def test_a_campaign_listed_twice_in_one_cycle_keeps_its_first_record() -> None:
    desk = Desk(VOX)
    desk.store(desk.page([vox("1", name="first")]))
    plan = desk.page([vox("1", name="second"), vox("2")])  # the same cycle
    assert [c.campaign.campaign_id for c in plan.changes] == ["2"]
    (twice,) = plan.quarantined
    assert (twice.kind, twice.campaign_id, twice.field) == (RejectionKind.NORMALIZATION, "1", "id")
    assert twice.raw is not None and twice.raw["name"] == "second"
    assert desk.stored["1"].campaign.name == "first"


def test_a_failed_detail_defers_its_campaign_and_keeps_its_stored_state() -> None:
    desk = Desk(SARVAM)
    desk.store(desk.page([sarvam("a"), sarvam("b")]))
    desk.new_cycle()
    failed = Detail(record=None, failure="GET /campaigns/b: 503 after retries")
    plan = desk.page(
        [sarvam("a", name="x"), sarvam("b", name="y")], at=LATER, details={"b": failed}
    )
    assert [c.campaign.campaign_id for c in plan.changes] == ["a"]
    (deferral,) = plan.rejections
    assert (deferral.kind, deferral.campaign_id, plan.deferred) == (RejectionKind.DETAIL, "b", 1)
    assert deferral.reason == (
        "its detail failed (GET /campaigns/b: 503 after retries); its stored state is kept "
        "this cycle"
    )
    assert not deferral.kind.quarantines and plan.quarantined == ()


def test_a_detail_404_keeps_a_stored_campaign_and_stores_a_new_one_from_its_list_item() -> None:
    desk = Desk(SARVAM)
    desk.store(desk.page([sarvam("a")]))
    desk.new_cycle()
    items = [sarvam("a", name="x"), sarvam("n")]
    gone = {cid: Detail(record=item, missing=True) for cid, item in zip("an", items, strict=True)}
    plan = desk.page(items, at=LATER, details=gone)
    (kept,) = plan.rejections
    assert (kept.kind, kept.campaign_id, plan.deferred) == (RejectionKind.DETAIL_MISSING, "a", 1)
    assert [c.campaign.campaign_id for c in plan.new] == ["n"]
    assert plan.changed == ()


def test_a_record_postgres_cannot_store_is_quarantined_and_the_page_goes_on() -> None:
    plan = Desk(VOX).page([vox("1", name="a\u0000b"), vox("2")])
    (poison,) = plan.quarantined
    assert (poison.kind, poison.campaign_id, poison.field) == (
        RejectionKind.UNSTORABLE,
        "1",
        "name",
    )
    assert poison.reason == "name: string contains a NUL character"
    assert [c.campaign.campaign_id for c in plan.changes] == ["2"]


def test_a_record_nested_past_the_limit_is_quarantined() -> None:
    deep: Any = "x"
    for _ in range(10):
        deep = {"d": deep}
    desk = Desk(VOX, limits=CycleLimits(max_depth=4))
    (poison,) = desk.page([vox("1", agent=deep)]).quarantined
    assert poison.kind is RejectionKind.UNSTORABLE


def test_a_record_its_reading_rules_refuse_is_quarantined_naming_the_field() -> None:
    plan = Desk(VOX).page([vox("1", total_calls="12"), vox("2")])
    (refused,) = plan.quarantined
    assert (refused.kind, refused.campaign_id, refused.field) == (
        RejectionKind.NORMALIZATION,
        "1",
        "total_calls",
    )
    assert [c.campaign.campaign_id for c in plan.changes] == ["2"]


@dataclass(frozen=True)
class Buggy:
    """The vox v3 rules, with a bug for the records named in ``broken``."""

    broken: Mapping[str, type[Exception]]
    where: str = "normalize"
    rules: VoxV3Dialect = VOX

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rules, name)

    def _maybe_raise(self, raw: RawRecord, where: str) -> None:
        if where == self.where and (error := self.broken.get(str(raw.get("id")))):
            raise error("year 10000 is out of range")

    def reads_clock(self, raw: RawRecord) -> bool:
        self._maybe_raise(raw, "reads_clock")
        return False

    def status_again(self, head: Any, observed_at: datetime) -> Status:
        raise AssertionError("never asked: vox v3 reads no status against the clock")

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        self._maybe_raise(raw, "normalize")
        return self.rules.normalize(raw, observed_at=observed_at)


def buggy(broken: Mapping[str, type[Exception]], where: str = "normalize") -> Dialect:
    dialect: Dialect = Buggy(broken, where)  # type: ignore[assignment]  # ClassVars via getattr
    return dialect


@pytest.mark.parametrize("error", [OverflowError, KeyError, AssertionError, RecursionError])
def test_any_exception_of_the_reading_rules_quarantines_its_record_alone(
    error: type[Exception],
) -> None:
    plan = Desk(buggy({"1": error})).page([vox("1"), vox("2")])
    (bug,) = plan.quarantined
    assert (bug.kind, bug.campaign_id) == (RejectionKind.READER_ERROR, "1")
    assert bug.detail == {"exception": error.__name__}
    assert "this is a bug in campaign-sync's vox_v3 reading rules" in bug.reason
    assert [c.campaign.campaign_id for c in plan.changes] == ["2"]


def test_a_record_whose_clock_rule_raises_is_read_whole() -> None:
    desk = Desk(buggy({"1": OverflowError}, where="reads_clock"))
    desk.store(desk.page([vox("1")]))
    desk.new_cycle()
    plan = desk.page([vox("1")], at=LATER)
    # Its list hash was not offered to the store, so it was read, normalized and found the same.
    assert desk.fetched == ["1"] and plan.unchanged == ("1",) and not plan.writes


def test_an_undocumented_key_is_reported_once_per_target() -> None:
    desk = Desk(VOX)
    plan = desk.store(desk.page([vox("1", colour="red"), vox("2", colour="blue")]))
    assert plan.drift == (DriftNote(field=KEY_FIELD, value="colour", campaign_id="1"),)
    (event,) = plan.drift_events
    assert event.kind is EventKind.SCHEMA_DRIFT and event.version == 0
    assert event.data == {"field": KEY_FIELD, "value": "colour", "example_campaign_id": "1"}
    assert event.occurred_at == T0
    assert [c.campaign.campaign_id for c in plan.new] == ["1", "2"]  # both stored
    again = desk.page([vox("3", colour="green")])
    assert again.drift == () and again.drift_events == ()  # known: reported already


def test_an_unknown_status_is_stored_as_unknown_and_noted_while_under_the_cap() -> None:
    desk = Desk(VOX, limits=CycleLimits(max_drift_values=1))
    plan = desk.page([vox("1", status="archived"), vox("2", status="frozen")])
    assert [c.campaign.status for c in plan.new] == [Status.UNKNOWN, Status.UNKNOWN]
    assert plan.unknown_statuses == 2
    assert [(n.field, n.value) for n in plan.drift] == [
        ("status", "archived"),
        ("status", OVERFLOW),
    ]
    # The note of the value past the cap goes: the overflow event stands for it.
    (noted,) = plan.rejections
    assert (noted.kind, noted.campaign_id) == (RejectionKind.UNKNOWN_STATUS, "1")
    assert noted.reason == (
        "status 'archived' is not in the vox_v3 status table; the campaign is stored with "
        "status 'unknown'"
    )


def test_drift_is_fresh_once_per_value_and_capped_per_field() -> None:
    def note(field: str, value: str) -> DriftNote:
        return DriftNote(field=field, value=value, campaign_id="1")

    notes = [note("status", "a"), note("status", "a"), note("status", "b"), note("status", "c")]
    fresh = fresh_drift(notes, {"status": frozenset({"a"})}, cap=2)
    assert [n.value for n in fresh] == ["b", OVERFLOW]
    assert fresh_drift(notes, {"status": frozenset({OVERFLOW})}, cap=2) == ()
    assert [n.value for n in fresh_drift(notes, {}, cap=50)] == ["a", "b", "c"]


def test_known_secrets_are_blanked_out_of_detail_records() -> None:
    desk = Desk(SARVAM)
    detail = Detail(record=sarvam("a", name="hello sk-live-123"))
    plan = desk.page([sarvam("a")], details={"a": detail}, secrets=("sk-live-123",))
    (change,) = plan.new
    assert change.campaign.name == "hello [REDACTED]"
    assert "sk-live-123" not in str(change.campaign.raw)


def test_a_record_without_a_readable_id_is_read_and_quarantined() -> None:
    plan = Desk(VOX).page([{"name": "no id"}, vox("2")])
    (refused,) = plan.quarantined
    assert (refused.kind, refused.campaign_id, refused.field) == (
        RejectionKind.NORMALIZATION,
        None,
        "id",
    )
    assert [c.campaign.campaign_id for c in plan.changes] == ["2"]


def test_rejections_keep_the_order_they_were_found_in() -> None:
    desk = Desk(SARVAM)
    desk.store(desk.page([sarvam("a")]))
    failed = Detail(record=None, failure="timeout")
    plan = desk.page(
        [sarvam("a"), sarvam("b"), sarvam("c", status="x\u0000"), sarvam("d", status="weird")],
        details={"b": failed},
    )
    assert [(r.kind, r.campaign_id) for r in plan.rejections] == [
        (RejectionKind.NORMALIZATION, "a"),  # the listing's: listed twice in this cycle
        (RejectionKind.DETAIL, "b"),
        (RejectionKind.UNSTORABLE, "c"),
        (RejectionKind.UNKNOWN_STATUS, "d"),
    ]
