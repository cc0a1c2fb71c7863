"""Every provider's lifecycle scenarios (``tests/scenarios``) on the in-memory store: the real
pipeline, the providers' HTTP sources and their simulators in-process, no database."""

from __future__ import annotations

import pytest

from tests.conformance.backends import memory_backend
from tests.conformance.memory_inspector import integrity_violations
from tests.scenarios import Scenario, all_scenarios
from worker.memory import MemoryStore

SCENARIOS = all_scenarios()


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
async def test_lifecycle_on_the_memory_store(scenario: Scenario) -> None:
    backend = memory_backend()
    await scenario(backend)
    assert isinstance(backend.store, MemoryStore)
    assert integrity_violations(backend.store.state) == []
