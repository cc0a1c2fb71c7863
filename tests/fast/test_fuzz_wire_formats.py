"""The reading rules against the wire formats: every normalizer, fed each provider's own
formats from the plausible to the absurd (``tests/hostile/wire_formats.py``), returns a
campaign the rest of the page step can handle, or raises the project's normalization
error naming the field; and no number, however long, fails the parsing of a body.

No database, no network: the fast tier. The budget is ``FUZZ_EXAMPLES`` examples per
provider and property (300 by default, about 10 s in all); raise it to search longer.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.wire_formats import SAMPLES, wire_fields
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.domain.diff import StoredHead, StoredState, diff
from worker.domain.poison import OversizedInteger, find_poison
from worker.errors import NormalizationError
from worker.providers.json_array import ArrayReader
from worker.providers.responses import parse_json
from worker.runtime.targets import provider_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
poll_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _read(provider: Any, raw: dict[str, Any], observed_at: datetime) -> Any:
    """The campaign, or the normalization error (anything else fails the example)."""
    try:
        return provider.dialect.normalize(raw, observed_at=observed_at)
    except NormalizationError as exc:
        return exc


def _aware_times(campaign: Any) -> list[datetime]:
    values = [getattr(campaign, name) for name in dir(campaign) if name.endswith("_at")]
    return [v for v in values if isinstance(v, datetime)]


@pytest.mark.parametrize("name", sorted(SAMPLES))
async def test_a_normalizer_reads_any_wire_value_or_names_the_field(name: str) -> None:
    kit = all_kits()[name]
    async with httpx.AsyncClient() as client:  # never used: normalize is pure
        provider = provider_for(kit.target, client, ManualClock(NOW))

    @FUZZ
    @given(fields=wire_fields(name), observed_at=poll_times)
    def check(fields: dict[str, Any], observed_at: datetime) -> None:
        raw = {**SAMPLES[name], **fields}
        campaign = _read(provider, raw, observed_at)
        if isinstance(campaign, NormalizationError):
            assert campaign.field, "a normalization error names its field"
            return
        assert all(t.tzinfo is not None for t in _aware_times(campaign))
        fingerprint = campaign.fingerprint()
        first = diff(None, campaign, observed_at, fingerprint=fingerprint)
        assert first is not None
        head = StoredHead(
            version=1,
            content_hash=fingerprint,
            status=campaign.status,
            status_derived=provider.dialect.reads_clock(raw),
            observed_at=observed_at,
            scheduled_start_at=campaign.scheduled_start_at,
            scheduled_end_at=campaign.scheduled_end_at,
        )
        later = observed_at + timedelta(days=1)
        if provider.dialect.reads_clock(raw):
            provider.dialect.status_again(head, later)
        again = provider.dialect.normalize(raw, observed_at=later)
        diff(StoredState(head=head, campaign=campaign), again, later, fingerprint=fingerprint)

    check()


digits = st.text(alphabet="0123456789", min_size=1, max_size=12_000).filter(
    lambda d: d == "0" or not d.startswith("0")
)


@FUZZ
@given(literal=st.tuples(st.sampled_from(["", "-"]), digits).map("".join))
def test_no_integer_fails_a_body_and_one_too_long_to_read_quarantines_its_record(
    literal: str,
) -> None:
    good = '{"id": "1", "n": 5}'
    bad = f'{{"id": "2", "n": {literal}}}'
    body = f'{{"items": [{good}, {bad}, {good.replace("1", "3")}]}}'.encode()
    reader = ArrayReader(max_element_chars=1_000_000)
    for parsed in (
        parse_json(body)["items"],
        reader.feed(f"[{good}, {bad}]".encode()) + reader.close(),
    ):
        assert parsed[0] == {"id": "1", "n": 5}
        value = parsed[1]["n"]
        if len(literal.lstrip("-")) > 4300:
            assert isinstance(value, OversizedInteger)
            assert find_poison(parsed[1], max_string_chars=100, max_depth=4) == (
                "n",
                f"integer of {len(literal.lstrip('-'))} digits is too long to read",
            )
        else:
            assert value == int(literal)
            assert find_poison(parsed[1], max_string_chars=100, max_depth=4) is None
