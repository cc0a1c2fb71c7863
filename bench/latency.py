"""The provider-latency phases, and the floor a provider's paging allows at a given latency.

Each provider's own small fleet (``--latency-n`` campaigns) is first synced once
with no latency (``latency-setup``, campaign-sync only). Then its simulator
answers every request after ``--latency`` seconds (100 ms by default), and each
rep runs fetch-only and campaign-sync over a no-change cycle
(``latency-no-change``) and, after 1 % of the campaigns changed, a change cycle
(``latency-change-1``; fetch-only reads the changed campaigns' details only).
campaign-sync's are a daemon's cycles, the cycle before each in the same process
(``bench.phases.STEADY``).

The floor of a cycle is computed from the requests the fetch-only client sent
for the same data (``list`` L; ``detail`` D) and the logins the cycle itself sent
(``other`` O: VOXO's, none in a daemon's cycle that holds its token; R = O + L + D),
the latency d, ``http.max_concurrency`` c and the rate cap r (none unless set):

* vox v3, vox v2 (chained cursors: each page needs the previous page's cursor):
  d × max(O + L + [D > 0], ⌈R / c⌉), the chain, plus one round for the last
  page's details if there are any;
* VOXO (login, then one unpaged list, then the details c at a time):
  d × (O + L + ⌈D / c⌉);
* Sarvam (offset paging: the first page gives the total, then every other page
  and every detail can be in flight, c at a time): d × (O + 1 + ⌈(L - 1 + D) / c⌉);
* under a rate cap r, never less than (R - r) / r (the limiter lets one
  second's worth through at once).

The target is campaign-sync ÷ floor ≤ 1.1; fetch-only (which pages Sarvam one
page after another) is reported against the same floor.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.infra import Fleet
    from bench.phases import Bench

CURSOR_PAGED = ("vox_v3", "vox_v2")


def floor(
    provider: str,
    requests: dict[str, int],
    *,
    latency: float,
    concurrency: int,
    rate: float | None = None,
) -> float:
    """The least time a cycle that sends ``requests`` (by kind) can take (see the module)."""
    other, listed, details = (requests.get(k, 0) for k in ("other", "list", "detail"))
    total = other + listed + details
    if provider in CURSOR_PAGED:
        rounds = max(other + listed + (1 if details else 0), math.ceil(total / concurrency))
    elif provider == "voxo":
        rounds = other + listed + math.ceil(details / concurrency)
    else:  # offset paging
        first = 1 if listed else 0
        rounds = other + first + math.ceil((listed - first + details) / concurrency)
    least = rounds * latency
    if rate:
        least = max(least, max(total - rate, 0) / rate)
    return least


async def latency_phases(bench: Bench, fleet: Fleet) -> None:
    """Run the latency phases of one provider on its latency fleet (see the module)."""
    opts = bench.options
    if "campaign-sync" not in opts.methods:
        return
    methods = [m for m in ("fetch-only", "campaign-sync") if m in opts.methods]
    await bench.reset("campaign-sync", fleet.provider)
    await bench.measure(fleet, "latency-setup", "campaign-sync", 0, details="all")
    await fleet.set_latency(opts.latency)
    try:
        for rep in range(opts.reps):
            runs = [
                await bench.measure(fleet, "latency-no-change", m, rep, details="none")
                for m in methods
            ]
            set_floors(bench, fleet.provider, runs)
        for rep in range(opts.reps):
            runs = await bench.change_phase(
                fleet, "latency-change-1", methods, rep, percent=1, seed=1000 + rep
            )
            set_floors(bench, fleet.provider, runs)
    finally:
        await fleet.set_latency(0)


def set_floors(bench: Bench, provider: str, runs: list[dict[str, Any]]) -> None:
    """Set each run's ``floor`` from the fetch-only run's list and detail requests and
    the run's own other ones (none without a fetch-only run)."""
    fetched = next((r for r in runs if r["method"] == "fetch-only" and "error" not in r), None)
    if fetched is None:
        return
    for run in runs:
        # Each run's own logins (VOXO's): a daemon's cycle reuses the token it holds.
        requests = {**fetched["http"], "other": run["http"].get("other", 0)}
        run["floor"] = floor(
            provider,
            requests,
            latency=bench.options.latency,
            concurrency=bench.options.concurrency,
        )
