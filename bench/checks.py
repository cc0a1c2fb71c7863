"""What campaign-sync must have written in each phase; any mismatch fails the bench.

Counted in its database before and after the run: new versions (the sum of
``campaigns.version``), history rows, events, and ``campaign.discovered`` events.
"""

from __future__ import annotations

from typing import Any


def check(run: dict[str, Any], changed: list[str] | None) -> list[str]:
    """The problems with one campaign-sync run (empty when it is right)."""
    label = f"{run['provider']} {run['phase']} rep {run['rep']}"
    if "error" in run:
        return [f"{label}: campaign-sync crashed: {run['error']}"]
    problems = []
    if run.get("status") != "succeeded":
        problems.append(f"status {run.get('status')!r} ({run.get('cycle_error')})")
    stored, n = run["stored"], run["n"]
    phase = run["phase"].removeprefix("latency-")
    if phase in ("initial", "rate-limited", "setup"):
        expected = {"versions": n, "campaigns": n, "history": n, "discovered": n}
        if stored["events"] < n:
            problems.append(f"{stored['events']} events for {n} new campaigns")
    elif phase == "no-change":
        expected = {"versions": 0, "history": 0, "events": 0}
        if run["http"].get("detail", 0):
            problems.append(f"{run['http']['detail']} detail requests in a no-change cycle")
    else:
        moved = len(changed or ())
        expected = {"versions": moved, "campaigns": 0, "history": moved, "discovered": 0}
        if stored["events"] < moved:
            problems.append(f"{stored['events']} events for {moved} changed campaigns")
        if run["http"].get("detail", 0) > moved:
            problems.append(f"{run['http']['detail']} detail requests for {moved} changes")
    for name, want in expected.items():
        if stored[name] != want:
            problems.append(f"{name}: {stored[name]} written, {want} expected")
    return [f"{label}: {problem}" for problem in problems]
