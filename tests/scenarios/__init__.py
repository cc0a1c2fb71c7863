"""Lifecycle scenarios: each provider's simulator driven through whole campaign lives, synced by
the real pipeline, on any store. ``tests/fast/test_lifecycles.py`` runs them on the in-memory
store (no database: the fast tier), ``tests/scenarios/test_on_postgres.py`` on PostgreSQL.

A scenario is ``async def scenario(backend) -> None``: it builds its simulator on a manual
clock, runs cycles through :func:`tests.scenarios.harness.harness` and asserts exact event
sequences through the backend's inspector.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from tests.conformance.backends import Backend

__all__ = ["Scenario", "all_scenarios"]

Scenario = Callable[[Backend], Awaitable[None]]


def all_scenarios() -> dict[str, Scenario]:
    """Every scenario, by ``<provider>-<what happens>``."""
    from tests.kits import all_kits
    from tests.scenarios import sarvam, vanishing, vox_v2, vox_v3, voxo

    scenarios: dict[str, Scenario] = {
        "vox_v3-window_closes_and_reopens": vox_v3.window_closes_and_reopens,
        "vox_v3-bad_records_are_quarantined": vox_v3.bad_records_are_quarantined,
        "vox_v2-whole_lifecycles": vox_v2.whole_lifecycles,
        "voxo-runs_pauses_resumes_and_completes": voxo.runs_pauses_resumes_and_completes,
        "sarvam-whole_lifecycle": sarvam.whole_lifecycle,
    }
    for name, kit in all_kits().items():
        scenarios[f"{name}-vanishes_and_reappears"] = partial(vanishing.vanishes_and_reappears, kit)
    return scenarios
