"""One kit per provider: how the shared contract tests build its simulator and target.

A kit knows how to stand up the provider's simulator on a given clock and fault
settings, how to add running campaigns to it, and which Target settings point
the adapter at it. The contract suites in ``tests/contract`` run every test
against every kit, so each adapter meets the same contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp

from worker.clock import ManualClock
from worker.config import Target
from worker.simulators.faults import Faults


@dataclass(frozen=True)
class ProviderKit:
    """How to test one provider adapter against its simulator.

    Attributes:
        name: the provider name (registry key).
        target: settings for an account whose key the simulator accepts.
        bad_target: the same account with a key (or password) the simulator refuses.
        build: ``(clock, faults, seed) -> (app, state)``; ``state`` is the simulator's
            state object (engine) that ``populate`` adds campaigns to.
        populate: ``(state, n) -> ids``; adds ``n`` campaigns that are running now.
        auth_status: the HTTP status the simulator answers a bad credential with.
        malformations: the ``Faults.malformed`` kinds the simulator supports.
        paged_target: ``target`` reading 2 campaigns per page.
        second_page: ``(method, path) -> bool`` matching the requests that fetch the
            listing's pages, and how many of them ``paged_target`` sends for the
            first page (failing the ones after breaks the listing mid-way).
        key: the simulator's key of a campaign id (VOXO's are integers).
    """

    name: str
    target: Target
    bad_target: Target
    build: Callable[[ManualClock, Faults, int], tuple[ASGIApp, Any]]
    populate: Callable[[Any, int], list[str]]
    auth_status: int
    malformations: tuple[str, ...]
    paged_target: Target
    second_page: tuple[Callable[[str, str], bool], int]
    key: Callable[[str], Any] = str


def all_kits() -> dict[str, ProviderKit]:
    """Every provider's kit, by provider name."""
    from tests.kits import sarvam, vox_v2, vox_v3, voxo

    kits = [
        vox_v3.KIT,
        vox_v2.KIT,
        voxo.KIT,
        sarvam.KIT,
    ]
    return {kit.name: kit for kit in kits}
