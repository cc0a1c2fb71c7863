"""The worker process's collector settings (``worker.runtime.heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from worker.runtime import heap


@pytest.fixture
def restored_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what settle_heap does to this test process."""
    monkeypatch.setattr(heap, "_settled", False)
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_settling_freezes_start_up_and_raises_the_thresholds_once() -> None:
    heap.settle_heap()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.set_threshold(700, 10, 10)
    gc.collect()  # young garbage a second freeze would keep
    heap.settle_heap()  # a second command in the same process changes nothing
    assert gc.get_threshold() == (700, 10, 10)
    # Not frozen again (that would add every object made since). A frozen object can
    # still be freed meanwhile, by another thread of the test process: "at most".
    assert gc.get_freeze_count() <= frozen


@pytest.mark.usefixtures("restored_collector")
def test_cyclic_garbage_made_after_settling_is_still_collected() -> None:
    heap.settle_heap()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    del a, b
    assert gc.collect() >= 2
