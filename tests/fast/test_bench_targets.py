"""The bench's latency floors and issue 19's targets, computed from plain run figures."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.latency import floor, set_floors
from bench.report import rss_limit, summarize


@pytest.mark.parametrize(
    ("provider", "requests", "rounds"),
    [
        ("vox_v3", {"list": 100}, 100),  # a chain of cursors: one page after another
        ("vox_v2", {"list": 100, "detail": 8}, 101),  # the last page's details: one more round
        ("vox_v3", {"list": 2, "detail": 40}, 11),  # never fewer rounds than R / c
        ("voxo", {"other": 1, "list": 1}, 2),  # login, then the one array
        ("voxo", {"other": 1, "list": 1, "detail": 9}, 5),  # then the details, 4 at a time
        ("sarvam", {"list": 100}, 26),  # the first page, then 99 pages 4 at a time
        ("sarvam", {"list": 100, "detail": 100}, 51),  # pages and details share the slots
        ("sarvam", {}, 0),
    ],
)
def test_the_floor_is_the_rounds_the_paging_allows(
    provider: str, requests: dict[str, int], rounds: int
) -> None:
    assert floor(provider, requests, latency=0.1, concurrency=4) == pytest.approx(rounds * 0.1)


def test_a_rate_cap_raises_the_floor_past_its_one_second_burst() -> None:
    requests = {"list": 20, "detail": 100}
    assert floor("sarvam", requests, latency=0.1, concurrency=4, rate=5) == pytest.approx(23)
    assert floor("sarvam", requests, latency=0.1, concurrency=4, rate=1000) == pytest.approx(3.1)


def _run(phase: str, method: str, wall: float, **extra: Any) -> dict[str, Any]:
    return {
        "provider": extra.pop("provider", "vox_v3"),
        "phase": phase,
        "method": method,
        "wall": wall,
        "cpu": extra.pop("cpu", wall / 2),
        "records": 1000,
        "rss_mb": extra.pop("rss_mb", 100.0),
        "rows_total": 0,
        "rows_data": extra.pop("rows_data", 0),
        "http": {"list": 10, "detail": extra.pop("detail", 0)},
        "sql_statements": 0,
        **extra,
    }


def _targets(runs: list[dict[str, Any]], n: int = 100_000) -> dict[str, tuple[float, bool]]:
    summary = summarize({"runs": runs, "options": {"n": n}})
    return {t["target"]: (t["value"], t["met"]) for t in summary["targets"]}


def test_initial_targets_are_throughput_ratios_against_the_peers_and_copy_3() -> None:
    targets = _targets(
        [
            _run("initial", "campaign-sync", 10.0),
            _run("initial", "dlt-merge", 16.0),
            _run("initial", "dlt-scd2", 9.0),
            _run("initial", "copy-3", 5.0),
        ]
    )
    assert targets["initial: throughput ÷ dlt merge's ≥ 1.5"] == (pytest.approx(1.6), True)
    assert targets["initial: throughput ÷ dlt scd2's ≥ 1"] == (pytest.approx(0.9), False)
    assert targets["initial: throughput ÷ copy-3's ≥ 0.6"] == (pytest.approx(0.5), False)


def test_detail_providers_are_held_to_their_own_fetch_only() -> None:
    targets = _targets(
        [
            _run("initial", "campaign-sync", 10.0, provider="voxo"),
            _run("initial", "fetch-only", 9.5, provider="voxo"),
        ]
    )
    assert targets["initial: throughput ÷ fetch-only's ≥ 0.9"] == (pytest.approx(0.95), True)
    assert not any("dlt" in name for name in targets)


def test_no_change_change_and_latency_targets() -> None:
    targets = _targets(
        [
            _run("no-change", "campaign-sync", 5.0, cpu=3.0, detail=1),
            _run("no-change", "fetch-only", 4.0, cpu=2.5),
            _run("change-1", "campaign-sync", 7.0),
            _run("change-1", "fetch-only", 4.0),
            _run("change-10", "campaign-sync", 7.0),
            _run("change-10", "dlt-merge", 15.0),
            _run("latency-no-change", "campaign-sync", 10.5, floor=10.0),
            _run("latency-change-1", "campaign-sync", 12.0, floor=10.0),
        ]
    )
    assert targets["no-change: wall ÷ fetch-only's ≤ 1.25"] == (pytest.approx(1.25), True)
    assert targets["no-change: client CPU ÷ fetch-only's ≤ 1.5"] == (pytest.approx(1.2), True)
    assert targets["no-change: detail requests ≤ 0"] == (1, False)
    assert targets["no-change: data rows + events written ≤ 0"] == (0, True)
    assert targets["change-1: wall ÷ fetch-only's ≤ 1.5"] == (pytest.approx(1.75), False)
    assert targets["change-10: wall ÷ dlt merge's ≤ 0.5"] == (pytest.approx(7 / 15), True)
    assert targets["latency-no-change: wall ÷ floor ≤ 1.1"] == (pytest.approx(1.05), True)
    assert targets["latency-change-1: wall ÷ floor ≤ 1.1"] == (pytest.approx(1.2), False)


def test_peak_rss_limit_grows_with_the_fleet() -> None:
    assert (rss_limit(2_000), rss_limit(100_000), rss_limit(1_000_000)) == (150, 150, 200)
    runs = [_run("initial", "campaign-sync", 1.0, rss_mb=160.0)]
    assert _targets(runs)["peak RSS at 100 000 campaigns, MB ≤ 150"] == (160.0, False)
    assert _targets(runs, 1_000_000)["peak RSS at 1 000 000 campaigns, MB ≤ 200"] == (160, True)


def test_a_cycle_that_holds_its_token_has_no_login_in_its_floor() -> None:
    """A daemon's VOXO cycle reuses its token: its floor is the list and the details, one
    round less than the fetch-only run's, which logs in."""
    bench = SimpleNamespace(options=SimpleNamespace(latency=0.1, concurrency=4))
    fetched = {"method": "fetch-only", "http": {"other": 1, "list": 1, "detail": 100}}
    steady = {"method": "campaign-sync", "http": {"other": 0, "list": 1, "detail": 100}}
    set_floors(bench, "voxo", [fetched, steady])  # type: ignore[arg-type]
    assert fetched["floor"] == pytest.approx(0.1 * (1 + 1 + 25))
    assert steady["floor"] == pytest.approx(0.1 * (1 + 25))
