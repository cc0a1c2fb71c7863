"""Client CPU per campaign of the pure steps of an initial sync, with no I/O.

``python -m bench.plan_cpu [--n N] [--profile]`` renders ``n`` vox v3 campaigns the
way the bench fleet's simulator does, then times, per campaign, what the worker does
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

from bench.fleet import NOW, vox_fleet
from worker.clock import ManualClock
from worker.domain.campaign import TargetKey
from worker.domain.dialects import VoxV3Dialect
from worker.ports import Detail, PageHeads
from worker.simulators.vox_v3 import render_v3
from worker.storage.engine import json_text
from worker.storage.fused import _event_rows
from worker.storage.rows import new_version_values
from worker.sync.listing import Listing
from worker.sync.planner import entries_to_read, heads_wanted, plan_page, read_page
from worker.sync.policy import CycleLimits

PAGE = 100


def records(n: int) -> list[dict[str, Any]]:
    """``n`` vox v3 campaign objects as the bench fleet serves them, through JSON."""
    engine = vox_fleet(ManualClock(NOW), n, seed=7)
    body = orjson.dumps([render_v3(c, NOW) for c in engine.campaigns()])
    return list(orjson.loads(body))


def initial_sync(items: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent in each pure step over ``items``, page by page, nothing stored."""
    dialect = VoxV3Dialect(account="bench")
    target = TargetKey(provider="vox_v3", account="bench")
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
        details = [Detail(record=e.raw) for e in to_read.entries]
        reading = timed(
            "read",
            lambda: read_page(
                to_read, details, no_heads, dialect, NOW,  # noqa: B023
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
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    items = records(args.n)
    initial_sync(items[:PAGE])  # warm up
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    spent = initial_sync(items)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    total = sum(spent.values())
    print(f"{args.n} vox v3 campaigns, initial sync, pure steps, µs per campaign:")
    for step, seconds in [*spent.items(), ("total", total)]:
        print(f"  {step:7} {seconds / args.n * 1e6:7.1f}")


if __name__ == "__main__":
    main()
