"""Reading a JSON array body element by element, as it streams in.

A provider that lists everything in one unpaged array (VOXO) would otherwise be
held whole: the body and every parsed record at once, growing with the fleet.
:class:`ArrayReader` keeps only the text not yet parsed, so what it holds is
bounded by one element plus one network chunk.

Each element is parsed by the standard library's decoder, which reads what
:func:`~worker.providers.responses.parse_json` reads (``NaN``, integers past 64
bits, lone surrogates), so a bad value still costs one record downstream. The
common case goes faster: the elements up to the text's last ``}`` are first
offered to orjson in one call, wrapped in brackets. That text parses as an array
only if it ends where an element ends, and orjson refuses what it would read
differently (``NaN``, lone surrogates, deep nesting; a run of 19 digits, which it
may read as a float, is not offered), so whatever it refuses is read element by
element as before.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import anyio
import orjson

from worker.errors import ProviderError, ProviderRejected, ProviderUnavailable
from worker.providers.base import ProviderHttp
from worker.providers.responses import JsonTooDeep, may_hold_long_integer, read_integer

__all__ = ["ArrayReader", "ElementTooLarge", "MalformedArray", "NotAnArray", "array_pages"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_START = frozenset("-0123456789")
_NUMBER_PART = frozenset("0123456789.eE+-")
_KINDS = {"{": "an object", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}

_TRUNCATED = "the body ended before its array did (truncated?)"

_BEFORE: Final = 0  # nothing read yet: the opening bracket comes next
_FIRST: Final = 1  # after "[": an element or "]"
_ELEMENT: Final = 2  # after ",": an element
_AFTER: Final = 3  # after an element: "," or "]"
_DONE: Final = 4  # after the closing "]": whitespace only


class MalformedArray(ValueError):
    """The body is not one well-formed JSON array, or it ended before the array did."""


class NotAnArray(ValueError):
    """The body is JSON of another kind (``kind``: "an object", "a string", ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"expected a JSON array, got {kind}")
        self.kind = kind


class ElementTooLarge(ValueError):
    """One element ran past the size the reader may hold."""


class ArrayReader:
    """Feed it the body's chunks; it returns each element once it is complete.

    Args:
        max_element_chars: the longest element it holds unparsed; a longer one
            raises :class:`ElementTooLarge`.
    """

    def __init__(self, *, max_element_chars: int) -> None:
        self._limit = max_element_chars
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._scan = json.JSONDecoder(parse_int=read_integer).raw_decode
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0  # characters parsed and let go, for positions in messages
        self._wait_for = 0  # characters held before an unfinished element is tried again
        self._state = _BEFORE

    def feed(self, chunk: bytes) -> list[Any]:
        """The elements this chunk completes (often none, often many)."""
        return self._take(self._text(chunk, final=False), final=False)

    def close(self) -> list[Any]:
        """The last elements; raises :class:`MalformedArray` if the array never closed."""
        elements = self._take(self._text(b"", final=True), final=True)
        if self._state != _DONE:
            raise MalformedArray(_TRUNCATED)
        return elements

    def _text(self, chunk: bytes, *, final: bool) -> str:
        try:
            return self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            raise MalformedArray(f"the body is not UTF-8 ({exc.reason})") from None

    def _take(self, text: str, *, final: bool) -> list[Any]:
        self._parts.append(text)
        self._size += len(text)
        if self._size < self._wait_for and not final:
            return []
        buf = "".join(self._parts)
        elements: list[Any] = []
        at = self._read(buf, elements, final=final)
        rest = buf[at:]
        self._dropped += at
        self._parts = [rest]
        self._size = len(rest)
        return elements

    def _read(self, buf: str, elements: list[Any], *, final: bool) -> int:
        """Parse what ``buf`` completes into ``elements``; return where to resume."""
        at, end = 0, len(buf)
        self._wait_for = 0
        while True:
            at = _WHITESPACE.match(buf, at).end()  # type: ignore[union-attr]  # always matches
            if at == end:
                return at
            char = buf[at]
            if self._state == _BEFORE:
                if char != "[":
                    raise NotAnArray(_KINDS.get(char, "a number or something else"))
                self._state, at = _FIRST, at + 1
            elif self._state == _AFTER or (self._state == _FIRST and char == "]"):
                if char not in ",]":
                    raise MalformedArray(f"expected ',' or ']' between elements, got {char!r}")
                self._state, at = (_ELEMENT if char == "," else _DONE), at + 1
            elif self._state == _DONE:
                raise MalformedArray("the body goes on after its array")
            else:
                batch = self._batch(buf, at)
                if batch is not None:
                    values, at = batch
                    elements.extend(values)
                    self._state = _AFTER
                    continue
                parsed = self._element(buf, at, final=final)
                if parsed is None:
                    return at
                value, at = parsed
                elements.append(value)
                self._state = _AFTER

    def _batch(self, buf: str, at: int) -> tuple[list[Any], int] | None:
        """The elements from ``at`` up to the last ``}`` of ``buf`` in one orjson call,
        and where they end; ``None``: read them one by one (see the module docstring)."""
        end = buf.rfind("}", at) + 1
        if end == 0 or end - at > self._limit:  # so no element of it can pass the limit
            return None
        data = buf[at:end].encode()  # decoded UTF-8, so no lone surrogate to refuse
        if may_hold_long_integer(data):
            return None
        try:
            values = orjson.loads(b"[" + data + b"]")
        except orjson.JSONDecodeError:
            return None
        return values, end

    def _element(self, buf: str, at: int, *, final: bool) -> tuple[Any, int] | None:
        """One element starting at ``at`` and where it ends, or None while it is unfinished."""
        held = len(buf) - at
        try:
            value, end = self._scan(buf, at)
        except RecursionError:
            raise JsonTooDeep("nested deeper than Python's recursion limit") from None
        except json.JSONDecodeError as exc:
            if not _unfinished(exc, len(buf)):
                where = self._dropped + at
                raise MalformedArray(
                    f"element at character {where} is not JSON: {exc.msg}"
                ) from None
            if final:
                raise MalformedArray(_TRUNCATED) from None
            value, end = None, len(buf)
        # A number cut short may read as a shorter one ("0" of "0.5"): after a whole
        # number, valid JSON has a delimiter, never one of these characters.
        cut_number = end < len(buf) and buf[at] in _NUMBER_START and buf[end] in _NUMBER_PART
        unfinished = (end == len(buf) or cut_number) and not final
        if (held if unfinished else end - at) > self._limit:
            raise ElementTooLarge(
                f"one element passed {self._limit} characters and was not read further"
            )
        if unfinished:
            # It may go on in the next chunk (a number, or text cut short): wait for more.
            self._wait_for = max(2 * held, held + 1)
            return None
        return value, end


# The longest token the decoder may refuse for being cut short: ``-Infinity`` (which
# it reads, as ``parse_json`` does; ``\uXXXX`` is six).
_LONGEST_TOKEN = len("-Infinity")


def _unfinished(exc: json.JSONDecodeError, length: int) -> bool:
    """True when the text may just have run out; a bad character far from its end is not.

    A wrong guess only waits for the next chunk: the element is judged again then.
    """
    return exc.pos >= length - _LONGEST_TOKEN or exc.msg.startswith("Unterminated string")


async def array_pages(
    http: ProviderHttp,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    page_size: int,
) -> AsyncIterator[list[Any]]:
    """The elements of one JSON array response, ``page_size`` at a time, as it streams.

    Opening the request is retried like any request. Once elements have been
    handed out a failure cannot be retried: it ends the listing (the cycle
    fails, and the next one starts over). ``http.deadline`` bounds the time
    spent waiting on the network, not the time the caller spends on each page,
    and ``http.max_body_bytes`` bounds one element, not the whole body.
    """
    where = f"{method} {path}"
    async for attempt in http.retrying():
        with attempt:
            response = await http.open_stream(method, path, params=params)
    target, deadline = str(http.target), http.settings.deadline
    reader = ArrayReader(max_element_chars=http.settings.max_body_bytes)
    chunks = response.aiter_bytes()
    waited = 0.0
    page: list[Any] = []
    pages = 0
    try:
        while True:
            started = time.monotonic()
            with http.translate(where), anyio.fail_after(max(deadline - waited, 0.0)):
                chunk = await anext(chunks, None)
            waited += time.monotonic() - started
            try:
                elements = reader.close() if chunk is None else reader.feed(chunk)
            except ValueError as exc:
                raise _refusal(f"{where} returned {response.status_code}", exc, target) from None
            page.extend(elements)
            while len(page) >= page_size:
                yield page[:page_size]
                del page[:page_size]
                pages += 1
            if chunk is None:
                break
    finally:
        await response.aclose()
    if page or not pages:
        yield page  # the last, short page; one empty page for an empty array


def _refusal(answered: str, exc: ValueError, target: str) -> ProviderError:
    if isinstance(exc, JsonTooDeep):
        return ProviderRejected(
            f"{answered} with a JSON body nested deeper than about 1000 levels", target=target
        )
    if isinstance(exc, NotAnArray | ElementTooLarge):
        limit = " (http.max_body_bytes)" if isinstance(exc, ElementTooLarge) else ""
        return ProviderRejected(f"{answered}: {exc}{limit}", target=target)
    # Truncated or garbled: often a connection cut mid-body, so worth another cycle.
    return ProviderUnavailable(
        f"{answered} with a body that is not valid JSON: {exc}", target=target
    )
