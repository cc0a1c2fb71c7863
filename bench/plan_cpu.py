"""Client CPU per campaign of the pure steps of an initial sync, with no I/O.

``python -m bench.plan_cpu [--n N] [--provider vox_v3|voxo] [--profile]`` renders
``n`` campaigns the way the bench fleet's simulator does (for VOXO, the list items and
the details that replace them), then times, per campaign, what the worker does
to each of them between the HTTP body and the database driver: listing (id and
fingerprint), reading (poison check, normalize), planning (diff, events) and
building the rows the write sends (``worker.storage.fused``: a new campaign's
history row and its events, what the COPY encodes). ``--profile`` prints
cProfile's top functions of the whole. It prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.fleet import NOW, VOXO_TENANT, vox_fleet, voxo_fleet
from worker.clock import ManualClock
from worker.domain.campaign import TargetKey
from worker.domain.dialects import BaseDialect, VoxoDialect, VoxV3Dialect
from worker.ports import Detail, PageHeads
from worker.simulators.vox_v3 import render_v3
from worker.simulators.voxo_requests import render_detail, render_list_item
from worker.storage.engine import json_text
from worker.storage.fused import _event_rows
from worker.storage.rows import new_version_values
from worker.sync.listing import Listing
from worker.sync.planner import entries_to_read, heads_wanted, plan_page, read_page
from worker.sync.policy import CycleLimits

PAGE = 100


Record = dict[str, Any]


def _through_json(objects: list[Record]) -> list[Record]:
    return list(orjson.loads(orjson.dumps(objects)))


def records(n: int, provider: str = "vox_v3") -> tuple[list[Record], list[Record]]:
    """``n`` campaigns' list items and the records read for them (a detail where the
    provider's source fetches one), as the bench fleet serves them, through JSON."""
    if provider == "voxo":
        voxo = list(voxo_fleet(ManualClock(NOW), n, seed=7).campaigns(VOXO_TENANT))
        return (
            _through_json([render_list_item(c) for c in voxo]),
            _through_json([render_detail(c) for c in voxo]),
        )
    vox = vox_fleet(ManualClock(NOW), n, seed=7).campaigns()
    items = _through_json([render_v3(c, NOW) for c in vox])
    return items, items


def _dialect(provider: str) -> BaseDialect:
    if provider == "voxo":
        return VoxoDialect(account="bench", tenant_id=VOXO_TENANT)
    return VoxV3Dialect(account="bench")


def initial_sync(
    items: list[Record], details: list[Record], provider: str = "vox_v3"
) -> dict[str, float]:
    """Seconds spent in each pure step over ``items``, page by page, nothing stored."""
    dialect = _dialect(provider)
    target = TargetKey(provider=provider, account="bench")
    limits = CycleLimits()
    listing = Listing(dialect)
    spent = dict.fromkeys(("list", "read", "plan", "rows"), 0.0)

    def timed(step: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = call()
        spent[step] += time.perf_counter() - start
        return out

    no_heads = PageHeads(heads={}, unchanged=frozenset())
    for first in range(0, len(items), PAGE):
        page = items[first : first + PAGE]
        entries, rejected = timed("list", lambda: listing.take(page))  # noqa: B023
        heads_wanted(entries, dialect)
        to_read = entries_to_read(entries, no_heads, dialect, NOW)
        read = [Detail(record=r) for r in details[first : first + len(to_read.entries)]]
        reading = timed(
            "read",
            lambda: read_page(
                to_read, read, no_heads, dialect, NOW,  # noqa: B023
                limits=limits, listing_rejections=rejected,  # noqa: B023
            ),
        )  # fmt: skip
        plan = timed(
            "plan",
            lambda: plan_page(
                reading, {}, dialect=dialect, target=target,  # noqa: B023
                observed_at=NOW, limits=limits, known_drift={},
            ),
        )  # fmt: skip
        assert len(plan.changes) == len(page), plan.rejections[:1]
        timed("rows", lambda: [new_version_values(c, NOW, json_text) for c in plan.changes])  # noqa: B023
        timed("rows", lambda: _event_rows([e for c in plan.changes for e in c.events]))  # noqa: B023
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--provider", choices=("vox_v3", "voxo"), default="vox_v3")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    items, details = records(args.n, args.provider)
    initial_sync(items[:PAGE], details[:PAGE], args.provider)  # warm up
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    spent = initial_sync(items, details, args.provider)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    total = sum(spent.values())
    print(f"{args.n} {args.provider} campaigns, initial sync, pure steps, µs per campaign:")
    for step, seconds in [*spent.items(), ("total", total)]:
        print(f"  {step:7} {seconds / args.n * 1e6:7.1f}")


if __name__ == "__main__":
    main()
