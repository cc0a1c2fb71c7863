"""Hypothesis strategies for each provider's wire formats: the values a provider could send in
the fields the worker reads, from the plausible to the absurd.

Built from the formats themselves, never from the worker's readers: unix milliseconds
across and past datetime's range (vox v3), ISO-8601 with every offset and fraction from
year 1 to 9999 (vox v2, Sarvam), dates, ``HH:MM`` and naive date-times in every IANA
zone, including the wall-clock times that DST skips or repeats (VOXO), minute windows
(vox), integers huge and negative, and odd strings. A strategy draws a few fields of a
real sample record and replaces them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES: dict[str, dict[str, Any]] = {
    "vox_v3": json.loads((FIXTURES / "vox_v3" / "campaign_seed.json").read_text()),
    "vox_v2": json.loads((FIXTURES / "vox_v2" / "list_response.json").read_text())["campaigns"][0],
    "voxo": json.loads((FIXTURES / "voxo" / "detail.json").read_text()),
    "sarvam": json.loads((FIXTURES / "sarvam" / "detail_q1_payment_reminders.json").read_text()),
}
ZONES = sorted(available_timezones())
# Zones whose DST is unusual: half-hour shifts, negative DST, a skipped day, southern summers.
ODD_DST_ZONES = [
    "America/Chicago", "Europe/London", "Europe/Dublin", "Australia/Lord_Howe",
    "Pacific/Apia", "America/Sao_Paulo", "Asia/Tehran", "Africa/Casablanca",
]  # fmt: skip
ODD_STRINGS = [
    "", " ", "null", "0", "-1", "24:00", "23:60", "99:99", "9:5", "2026-02-30", "0000-01-01",
    "10000-01-01", "2026-13-45T99:99:99Z", "\ud800", "a\x00b", "x" * 5000, "١٢:٣٠",
    "2026-03-08 02:30:00", "Mars/Olympus", "UTC", "+05:30", "America/", "../../etc/passwd",
]  # fmt: skip
BIG = 10**4300 - 1  # the longest integer Python reads in decimal by default

integers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, BIG, -BIG]),
)
odd_strings = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=30))
scalars = st.one_of(
    st.none(), st.booleans(), integers, st.floats(allow_nan=True, allow_infinity=True), odd_strings
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# Walls at datetime's ends: a zone's offset carries them out of range.
EDGE_WALLS = [
    datetime(1, 1, 1), datetime(1, 1, 1, 13, 30), datetime(1, 1, 2, 0, 15),
    datetime(9999, 12, 31, 23, 59, 59), datetime(9999, 12, 31, 9, 0), datetime(9999, 12, 30, 23),
]  # fmt: skip
naive_datetimes = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.sampled_from(EDGE_WALLS),
)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
zones = st.one_of(st.sampled_from(ZONES), st.sampled_from(ODD_DST_ZONES), odd_strings)


@cache
def dst_edges() -> tuple[tuple[str, datetime], ...]:
    """(zone, naive wall time) pairs just inside a DST gap or fold, found by scanning."""
    edges: list[tuple[str, datetime]] = []
    for name in ODD_DST_ZONES:
        zone = ZoneInfo(name)
        at = datetime(2009, 1, 1, tzinfo=UTC)
        previous = at.astimezone(zone).utcoffset()
        while at.year < 2013:
            at += timedelta(hours=6)
            offset = at.astimezone(zone).utcoffset()
            if offset != previous and offset is not None and previous is not None:
                wall = at.astimezone(zone).replace(tzinfo=None, minute=0, second=0)
                edges.extend((name, wall + timedelta(minutes=m)) for m in (-61, -31, -1, 0, 1, 29))
            previous = offset
    return tuple(edges)


@st.composite
def zoned_walls(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a naive wall-clock time in it: anywhere in years 1..9999, or at DST's edges."""
    kind = draw(st.sampled_from(["dst", "edge", "edge", "any"]))
    if kind == "dst":
        return draw(st.sampled_from(dst_edges()))
    if kind == "edge":
        return draw(st.sampled_from(ZONES)), draw(st.sampled_from(EDGE_WALLS))
    return draw(zones), draw(naive_datetimes)


def unix_ms() -> st.SearchStrategy[Any]:
    """vox v3 ``*_at``: integer unix ms, from far before 1970 to far after 9999."""
    limit = 253_402_300_800_000  # 10000-01-01T00:00:00Z
    return st.one_of(
        st.integers(min_value=-limit * 2, max_value=limit * 2),
        st.sampled_from([limit - 1, limit, -62_135_596_800_000, -62_135_596_800_001]),
        scalars,
    )


@st.composite
def iso8601(draw: st.DrawFn) -> Any:
    """vox v2 and Sarvam ``*_at``: ISO-8601 with ``Z`` or any offset, fractions, year 1..9999."""
    if draw(st.integers(0, 5)) == 0:
        return draw(scalars)
    wall = draw(naive_datetimes)
    text = wall.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    if draw(st.booleans()):
        text += "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=1, max_size=9)))
    minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    offset = draw(st.sampled_from(["Z", "z", f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", ""]))
    return text + offset


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def voxo_fields(draw: st.DrawFn) -> dict[str, Any]:
    """VOXO's schedule: dateStart/dateEnd + timeStart/timeEnd in ``timezone``, ``lastrun``
    as a naive date-time, call hours as ``HH:MM``."""
    zone, wall = draw(zoned_walls())
    fields: dict[str, Any] = {"timezone": zone}
    choice = draw(st.sampled_from(["dateStart", "dateEnd", "lastrun", "callHours", "several"]))
    if choice in ("dateStart", "several"):
        fields["dateStart"] = wall.strftime("%Y-%m-%d").rjust(10, "0")
        fields["timeStart"] = wall.strftime("%H:%M")
    if choice in ("dateEnd", "several"):
        end = draw(zoned_walls())[1] if choice == "several" else wall
        fields["dateEnd"] = end.strftime("%Y-%m-%d").rjust(10, "0")
        fields["timeEnd"] = end.strftime("%H:%M")
    if choice in ("lastrun", "several"):
        fields["lastrun"] = wall.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0")
    if choice in ("callHours", "several"):
        minutes = st.integers(min_value=0, max_value=24 * 60 - 1).map(hhmm)
        fields["callHoursStart"] = draw(minutes | odd_strings | st.none())
        fields["callHoursEnd"] = draw(minutes | odd_strings | st.none())
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        fields[name] = draw(scalars)  # a field of the wrong type or shape
    return fields


@st.composite
def minute_window(draw: st.DrawFn) -> Any:
    """vox ``call_time_window``: minute ranges over weekdays in an IANA zone."""
    if draw(st.integers(0, 6)) == 0:
        return draw(any_json)
    minutes = st.one_of(st.integers(min_value=0, max_value=1440), integers)
    days = st.lists(
        st.sampled_from(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                         "sunday", "Funday"]) | scalars,
        max_size=8,
    )  # fmt: skip
    window = st.fixed_dictionaries({"start_min": minutes, "end_min": minutes, "days": days})
    return {
        "windows": draw(st.lists(window, max_size=3)),
        "timezone": draw(zones),
        "auto_resume": draw(st.booleans() | scalars),
    }


VOX_TIMES = ["created_at", "scheduled_at", "paused_at", "finished_at"]
COUNTERS = ["total_calls", "completed_calls", "failed_calls", "concurrency", "active_concurrency"]


@st.composite
def wire_fields(draw: st.DrawFn, provider: str) -> dict[str, Any]:
    """Fields, in ``provider``'s wire format, to merge over a sample record."""
    if provider == "voxo":
        fields = draw(voxo_fields())
        if draw(st.booleans()):
            fields[draw(st.sampled_from(["callDelay", "dialtimeout", "tenantId"]))] = draw(integers)
        return fields
    if provider == "sarvam":
        names = ["created_at", "updated_at", "start_timestamp", "end_timestamp"]
        fields = {
            n: draw(iso8601())
            for n in draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        }
        if draw(st.booleans()):
            fields["allowed_schedule"] = {
                "timezone": draw(zones),
                "allowed_start_time": draw(st.integers(0, 1439).map(hhmm) | odd_strings),
                "allowed_end_time": draw(st.integers(0, 1439).map(hhmm) | odd_strings),
                "allowed_days": draw(
                    st.lists(odd_strings | st.sampled_from(["Monday", "Sunday"]), max_size=3)
                ),
            }
        return fields
    times = unix_ms() if provider == "vox_v3" else iso8601()
    fields = {
        n: draw(times) for n in draw(st.lists(st.sampled_from(VOX_TIMES), min_size=1, unique=True))
    }
    for name in draw(st.lists(st.sampled_from(COUNTERS), max_size=2, unique=True)):
        fields[name] = draw(integers | scalars)
    if draw(st.booleans()):
        fields["call_time_window"] = draw(minute_window())
    return fields
