"""An unpaged JSON array is read element by element, however the network cuts it."""

from __future__ import annotations

import itertools
import json
import random
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.providers.json_array import ArrayReader, ElementTooLarge, MalformedArray, NotAnArray
from worker.providers.responses import JsonTooDeep

TRICKY = (
    '\ufeff [ {"id": 1, "name": "a [b] {c}, \\"d\\" \\\\", "e": [1, [2, {"f": null}]]},'
    ' 12345678901234567890123, -0.5e10 , "caf\u00e9 \U0001f600 \\u00e9 \\ud800",'
    ' true,false ,null, NaN, [], {}, {"": ""}, "]", "," ]\n '
).encode()


def read(body: bytes, sizes: Iterator[int], limit: int = 1 << 20) -> list[Any]:
    reader = ArrayReader(max_element_chars=limit)
    out: list[Any] = []
    at = 0
    while at < len(body):
        size = next(sizes)
        out.extend(reader.feed(body[at : at + size]))
        at += size
    out.extend(reader.close())
    return out


def always(n: int) -> Iterator[int]:
    while True:
        yield n


def expected(body: bytes) -> list[Any]:
    return json.loads(body.decode("utf-8-sig"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 1 << 16])
def test_every_fixed_chunking_gives_what_one_parse_gives(size: int) -> None:
    got = read(TRICKY, always(size))
    assert json.dumps(got) == json.dumps(expected(TRICKY))  # NaN compares unequal to itself


def test_random_chunkings_give_what_one_parse_gives() -> None:
    rng = random.Random(7)
    body = b"[" + b",".join(json.dumps({"i": i, "s": "x]," * i}).encode() for i in range(50)) + b"]"
    for _ in range(200):
        assert read(body, (rng.randint(1, 40) for _ in iter(int, 1))) == expected(body)


@pytest.mark.parametrize("body", [b"[]", b"  [ ]\n", b"\xef\xbb\xbf[]"])
def test_an_empty_array_has_no_elements(body: bytes) -> None:
    assert read(body, always(1)) == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b'{"data": []}', "an object"), (b'"x"', "a string"), (b"7", "a number or something else")],
)
def test_a_body_of_another_kind_is_named(body: bytes, kind: str) -> None:
    with pytest.raises(NotAnArray, match=f"expected a JSON array, got {kind}"):
        read(body, always(64))


@pytest.mark.parametrize("body", [b'[{"a": 1}, {"b"', b"[1, 2", b"[", b"", b'[{"a": "x\\'])
def test_a_body_that_ends_before_its_array_is_truncated(body: bytes) -> None:
    with pytest.raises(MalformedArray):
        read(body, always(3))


@pytest.mark.parametrize(
    "body", [b"[1 2]", b"[1] x", b"[1,]", b"[,1]", b'[{"a" 1}, 2]', b"[tru, 1]"]
)
def test_malformed_arrays_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedArray):
        read(body, always(2))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(MalformedArray, match="not UTF-8"):
        read(b'["\xff\xfe"]', always(64))


def test_an_element_past_the_limit_is_refused_before_it_is_held_whole() -> None:
    reader = ArrayReader(max_element_chars=1000)
    assert reader.feed(b'[{"ok": 1}, "') == [{"ok": 1}]
    for _ in range(9):  # 900 characters held, still within the limit
        assert reader.feed(b"x" * 100) == []
    with pytest.raises(ElementTooLarge, match="passed 1000 characters"):
        reader.feed(b"x" * 1000)


def test_an_element_nested_past_the_parsers_is_too_deep() -> None:
    with pytest.raises(JsonTooDeep):
        read(b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", always(1 << 16))


def peak_bytes(n: int) -> int:
    item = json.dumps({"id": 1, "name": "campaign " * 20, "numbers": list(range(30))}).encode()
    reader = ArrayReader(max_element_chars=1 << 20)
    chunk = b"[" + b",".join([item] * 200)
    tracemalloc.start()
    try:
        reader.feed(chunk)
        for _ in range(n // 200):
            reader.feed(b"," + b",".join([item] * 200))
        reader.feed(b"]")
        reader.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_what_the_reader_holds_does_not_grow_with_the_array() -> None:
    small, large = peak_bytes(1_000), peak_bytes(10_000)  # 10 times the elements
    assert large < 1.5 * small


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.sampled_from('ab{}[],:"\\ é\U0001f600\ud800'), max_size=8)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet="ab}{", max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    elements=st.lists(_VALUES, max_size=12),
    sizes=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
    spaced=st.booleans(),
)
def test_any_array_reads_as_the_standard_library_reads_it_whole(
    elements: list[Any], sizes: list[int], spaced: bool
) -> None:
    """Whatever the elements (objects, NaN, long integers, lone surrogates, brackets in
    strings) and the chunking, the orjson batches and the element-by-element reading
    together give exactly what one standard-library parse gives."""
    text = json.dumps(elements, separators=(", ", ": ") if spaced else (",", ":"))
    body = text.encode("utf-8", "surrogatepass")
    got = read(body, itertools.cycle(sizes))
    assert json.dumps(got) == json.dumps(json.loads(text))
    assert [type(v) for v in got] == [type(v) for v in json.loads(text)]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_number_cut_before_its_fraction_or_exponent_waits_for_the_rest(size: int) -> None:
    body = b"[0.0, -1.5e5, 2E-3, 10, -0]"
    assert read(body, always(size)) == [0.0, -1.5e5, 2e-3, 10, 0]


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_infinities_cut_by_any_chunking_are_read_whole(size: int) -> None:
    body = b"[-Infinity, Infinity, NaN]"
    got = read(body, always(size))
    assert json.dumps(got) == "[-Infinity, Infinity, NaN]"
