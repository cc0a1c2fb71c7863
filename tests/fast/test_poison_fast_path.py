"""``find_poison``'s fast test (one orjson call and byte counts) never passes a record that
the full walk would quarantine, whatever it holds: NULs, lone surrogates, non-finite floats,
integers past 64 bits, long strings and keys, deep nesting."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.domain.poison import OversizedInteger, _plainly_storable, _walk, find_poison

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
texts = st.text(
    alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0xDFFF), max_size=12
)
oversized = st.builds(OversizedInteger, st.integers(4301, 10**6), st.just("0" * 16))
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts | oversized
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(value=values, max_chars=st.integers(1, 40), max_depth=st.integers(0, 6))
def test_the_fast_test_passes_only_what_the_walk_passes(
    value: Any, max_chars: int, max_depth: int
) -> None:
    if _plainly_storable(value, max_chars, max_depth):
        assert _walk(value, max_chars, max_depth) is None


def test_each_kind_of_poison_is_still_found() -> None:
    cases = {
        "nul": ({"a": "x\x00"}, "string contains a NUL character"),
        "nan": ({"a": float("nan"), "b": None}, "number nan is not finite"),
        "inf": ({"a": [1.5, float("inf")]}, "number inf is not finite"),
        "surrogate": ({"a": "\ud800"}, "string contains a lone UTF-16 surrogate"),
        "long": ({"a": "x" * 11}, "string is 11 characters long, over the limit of 10"),
        "oversized": (
            {"a": OversizedInteger(4301, "0" * 16)},
            "integer of 4301 digits is too long to read",
        ),
    }
    for name, (raw, reason) in cases.items():
        found = find_poison(raw, max_string_chars=10, max_depth=4)
        assert found is not None and found[1] == reason, name
    deep: Any = "x"
    for _ in range(6):
        deep = [deep]
    assert find_poison({"a": deep}, max_string_chars=10, max_depth=4) is not None
    assert (
        find_poison({"a": "\\u0000", "b": None, "c": 1.5}, max_string_chars=10, max_depth=4) is None
    )
