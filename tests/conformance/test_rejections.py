"""Rejections, on both stores: kept redacted and cut as ``domain.quarantine`` says, one row per
distinct rejection with its repeats counted, only quarantines counted as rejected, and a failed
cycle's error kept as a page rejection."""

from __future__ import annotations

from tests.conformance.backends import SECRET, Backend
from tests.conformance.values import TARGET, at, campaign, cycle, lease, page
from worker.domain.quarantine import REASON_CHARS, kept_form
from worker.domain.records import Rejection, RejectionKind
from worker.domain.scrub import REDACTED
from worker.ports import RunSummary

BAD_RECORD = Rejection(
    kind=RejectionKind.NORMALIZATION,
    reason=f"created_at='{SECRET}': expected integer unix milliseconds " + "x" * 3000,
    campaign_id="7",
    field="created_at",
    raw={"id": "7", "api_key": "k-123", "note": f"echoes {SECRET}", "nul": "a\x00b"},
)


def unknown_status(campaign_id: str, status: str) -> Rejection:
    return Rejection(
        kind=RejectionKind.UNKNOWN_STATUS,
        reason=f"status {status!r} is not in the vox_v3 status table",
        campaign_id=campaign_id,
        detail={"status_raw": status},
    )


async def test_a_rejection_is_kept_redacted_and_cut_and_its_repeats_counted(
    stores: Backend,
) -> None:
    async with cycle(stores.store, at(0)) as held:
        await page(stores.store, held, at(1), [campaign("1")], [BAD_RECORD, BAD_RECORD])
        await page(stores.store, held, at(2), [campaign("2")], [BAD_RECORD])
        (run,) = await stores.inspect.runs(TARGET)
        assert run["rejected"] == 3  # counted as pages commit (finish then records its own)
    (kept,) = await stores.inspect.errors()
    expected = kept_form(TARGET, BAD_RECORD, [SECRET])
    assert {k: kept[k] for k in ("fingerprint", "kind", "campaign_id", "field", "reason")} == {
        "fingerprint": expected.fingerprint,
        "kind": "normalization",
        "campaign_id": "7",
        "field": "created_at",
        "reason": expected.reason,
    }
    assert kept["reason"].startswith(f"created_at='{REDACTED}'")
    assert len(kept["reason"]) < REASON_CHARS + 80 and "chars, sha256" in kept["reason"]
    assert kept["raw"] == {
        "id": "7",
        "api_key": REDACTED,
        "note": f"echoes {REDACTED}",
        "nul": "a\\u0000b",
    }
    assert (kept["first_seen_at"], kept["last_seen_at"], kept["occurrences"]) == (at(1), at(2), 3)
    assert kept["last_run_id"] == held.run_id


async def test_an_unknown_status_is_kept_once_per_value_and_target(stores: Backend) -> None:
    async with cycle(stores.store, at(0)) as held:
        noted = [unknown_status("1", "archived"), unknown_status("2", "archived")]
        await page(stores.store, held, at(1), [campaign("1")], [*noted, unknown_status("3", "odd")])
    kept = await stores.inspect.errors()
    assert [(k["kind"], k["detail"], k["occurrences"]) for k in kept] == [
        ("unknown_status", {"status_raw": "archived"}, 2),
        ("unknown_status", {"status_raw": "odd"}, 1),
    ]
    # Of rejections that share a row, the last one is kept.
    assert kept[0]["campaign_id"] == "2"


async def test_only_quarantined_records_count_as_rejected(stores: Backend) -> None:
    detail = Rejection(kind=RejectionKind.DETAIL, reason="its detail failed", campaign_id="9")
    async with cycle(stores.store, at(0)) as held:
        await page(
            stores.store,
            held,
            at(1),
            [campaign("1")],
            [BAD_RECORD, unknown_status("1", "archived"), detail],
            deferred=1,
        )
        (run,) = await stores.inspect.runs(TARGET)
        assert (run["rejected"], run["deferred"]) == (1, 1)
    kinds = sorted(k["kind"] for k in await stores.inspect.errors())
    assert kinds == ["detail", "normalization", "unknown_status"]


async def test_a_failed_cycle_keeps_its_error_redacted_as_a_page_rejection(
    stores: Backend,
) -> None:
    held = await lease(stores.store, at(0))
    failed = RunSummary(status="failed", pages=1, error=f"listing failed: key {SECRET} refused")
    recorded = await stores.store.finish(held, at(3), failed)
    assert recorded == failed  # recorded as it came; what is kept of it is redacted
    said = f"listing failed: key {REDACTED} refused"
    (kept,) = await stores.inspect.errors()
    assert (kept["kind"], kept["reason"], kept["campaign_id"], kept["raw"]) == (
        "page",
        said,
        None,
        None,
    )
    assert (kept["first_seen_at"], kept["last_run_id"]) == (at(3), held.run_id)
    (run,) = await stores.inspect.runs(TARGET)
    assert (run["status"], run["error"], run["pages"]) == ("failed", said, 1)
    target = await stores.inspect.target(TARGET)
    assert target is not None
    assert (target["last_status"], target["last_error"], target["last_success_at"]) == (
        "failed",
        said,
        None,
    )
