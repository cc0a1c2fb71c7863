"""The dialects: each provider's pure reading rules, their registry and how a target builds one.

Field-for-field readings are in the ``test_*_normalize.py`` suites; these tests pin what
every dialect promises the sync core (the ``Dialect`` protocol) and a few rules each.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from worker.config import SarvamTarget, VoxoTarget, VoxV2Target, VoxV3Target
from worker.domain.campaign import Status, TargetKey
from worker.domain.dialects import (
    DIALECTS,
    SarvamDialect,
    VoxoDialect,
    VoxV2Dialect,
    VoxV3Dialect,
)
from worker.domain.diff import StoredHead
from worker.errors import NormalizationError, TimestampError
from worker.ports import Detail, Dialect, RawRecord
from worker.runtime.targets import dialect_for

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# One instance of each dialect, built as a target of each provider would build it.
INSTANCES: dict[str, Any] = {
    "vox_v3": VoxV3Dialect(account="acme"),
    "vox_v2": VoxV2Dialect(account="acme"),
    "voxo": VoxoDialect(account="acme", tenant_id=7),
    "sarvam": SarvamDialect(account="acme"),
}

VOXO_READY = {
    "id": 42,
    "tenantId": 7,
    "name": "spring",
    "state": "READY",
    "dateStart": "2026-03-02",
    "timeStart": "09:00",
    "dateEnd": "2026-03-03",
    "timeEnd": "17:00",
    "timezone": "UTC",
}
VOX_V3_RECORD = {"id": "c1", "status": "ongoing", "created_at": 1_772_452_800_123}


def _protocol_members() -> set[str]:
    """What ``Dialect`` declares: its annotated attributes, methods and properties."""
    declared = set(Dialect.__annotations__)
    declared |= {
        name
        for name, value in vars(Dialect).items()
        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))
    }
    return declared


def test_the_registry_names_the_four_providers() -> None:
    assert set(DIALECTS) == {"vox_v3", "vox_v2", "voxo", "sarvam"}
    assert all(dialect.name == name for name, dialect in DIALECTS.items())
    assert set(INSTANCES) == set(DIALECTS)
    assert all(type(INSTANCES[name]) is dialect for name, dialect in DIALECTS.items())


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_dialect_has_every_member_of_the_protocol(name: str) -> None:
    dialect = INSTANCES[name]
    members = _protocol_members()
    assert {"name", "id_field", "status_table", "normalize", "reads_clock"} <= members
    missing = {m for m in members if not hasattr(dialect, m)}
    assert missing == set()
    for method in ("normalize", "reads_clock", "status_again"):
        assert callable(getattr(dialect, method))
    assert isinstance(dialect.lists_less, bool)
    assert isinstance(dialect.id_field, str)
    assert dialect.documented_keys is not None
    assert dialect.id_field in dialect.documented_keys


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_the_status_table_lists_exactly_a_documented_enum(name: str) -> None:
    dialect = DIALECTS[name]
    assert all(isinstance(status, Status) for status in dialect.status_table.values())
    assert frozenset(dialect.status_table) in set(dialect.enums.values())
    with pytest.raises(TypeError):
        dialect.status_table["archived"] = Status.CANCELED  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_a_dialect_is_a_frozen_value(name: str) -> None:
    dialect = INSTANCES[name]
    with pytest.raises(dataclasses.FrozenInstanceError):
        dialect.account = "other"
    assert dialect == dataclasses.replace(dialect)


def test_vox_v3_times_are_unix_milliseconds() -> None:
    campaign = INSTANCES["vox_v3"].normalize(VOX_V3_RECORD, observed_at=NOW)
    assert campaign.created_at == datetime(2026, 3, 2, 12, 0, 0, 123_000, tzinfo=UTC)
    assert (campaign.status, campaign.status_raw) == (Status.RUNNING, "ongoing")
    with pytest.raises(NormalizationError, match="created_at"):
        INSTANCES["vox_v3"].normalize(
            {**VOX_V3_RECORD, "created_at": "2026-03-02T12:00:00Z"}, observed_at=NOW
        )


def test_vox_v2_times_are_iso_and_its_organization_is_checked() -> None:
    raw = {**VOX_V3_RECORD, "created_at": "2026-03-02T12:00:00Z", "organization_id": "org-a"}
    assert INSTANCES["vox_v2"].normalize(raw, observed_at=NOW).created_at == NOW
    campaign = VoxV2Dialect(account="acme", organization_id="org-a").normalize(raw, observed_at=NOW)
    assert campaign.campaign_id == "c1"
    with pytest.raises(NormalizationError, match=r"^organization_id='org-a': not this target's"):
        VoxV2Dialect(account="acme", organization_id="org-b").normalize(raw, observed_at=NOW)


@pytest.mark.parametrize("name", ["vox_v3", "vox_v2", "sarvam"])
def test_only_voxo_reads_a_status_against_the_clock(name: str) -> None:
    dialect = INSTANCES[name]
    head = _head(Status.RUNNING)
    assert dialect.reads_clock({"status": "ongoing", "state": "READY"}) is False
    assert dialect.status_again(head, NOW + timedelta(days=365)) is Status.RUNNING


@pytest.mark.parametrize(
    ("raw", "reads"),
    [
        (VOXO_READY, True),
        ({**VOXO_READY, "state": "PAUSED"}, False),
        ({**VOXO_READY, "state": "EXPIRED"}, False),
        ({**VOXO_READY, "state": None}, False),
        ("not an object", False),
    ],
)
def test_voxo_reads_ready_against_the_clock(raw: Any, reads: bool) -> None:
    assert INSTANCES["voxo"].reads_clock(raw) is reads


@pytest.mark.parametrize(
    ("observed_at", "status"),
    [
        (datetime(2026, 3, 2, 8, 59, tzinfo=UTC), Status.SCHEDULED),
        (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), Status.RUNNING),
        (datetime(2026, 3, 3, 16, 59, tzinfo=UTC), Status.RUNNING),
        (datetime(2026, 3, 3, 17, 0, tzinfo=UTC), Status.COMPLETED),
    ],
)
def test_voxo_ready_reads_the_same_from_the_record_and_from_the_stored_head(
    observed_at: datetime, status: Status
) -> None:
    voxo = INSTANCES["voxo"]
    campaign = voxo.normalize(VOXO_READY, observed_at=observed_at)
    assert (campaign.status, campaign.status_derived) == (status, True)
    head = _head(
        Status.SCHEDULED,
        start=campaign.scheduled_start_at,
        end=campaign.scheduled_end_at,
    )
    assert voxo.status_again(head, observed_at) is status


def test_voxo_rejects_another_tenant_and_an_unknown_lastrun_zone() -> None:
    with pytest.raises(NormalizationError, match=r"^tenantId=7: not this target's tenant \(8\)"):
        VoxoDialect(account="acme", tenant_id=8).normalize(VOXO_READY, observed_at=NOW)
    with pytest.raises(TimestampError, match="lastrun_timezone"):
        VoxoDialect(account="acme", tenant_id=7, lastrun_timezone="Mars/Olympus")


def test_sarvam_reads_its_window_in_kolkata_unless_told() -> None:
    raw = {
        "campaign_id": "camp-1",
        "status": "active",
        "allowed_schedule": {"allowed_start_time": "09:00", "allowed_end_time": "18:00"},
    }
    window = INSTANCES["sarvam"].normalize(raw, observed_at=NOW).call_window
    assert window is not None and window.timezone == "Asia/Kolkata"


@pytest.mark.parametrize("fetch_detail", [True, False])
def test_the_list_shows_less_only_when_details_are_read(fetch_detail: bool) -> None:
    assert SarvamDialect(account="a", fetch_detail=fetch_detail).lists_less is fetch_detail
    voxo = VoxoDialect(account="a", tenant_id=1, fetch_detail=fetch_detail)
    assert voxo.lists_less is fetch_detail
    assert VoxV3Dialect(account="a").lists_less is False


def test_a_target_builds_its_dialect_with_its_reading_settings() -> None:
    key = SecretStr("k")
    assert dialect_for(
        VoxV3Target(account="a", base_url="http://vox.test", api_key=key)
    ) == VoxV3Dialect(account="a")
    assert dialect_for(
        VoxV2Target(account="a", base_url="http://vox.test", api_key=key, organization_id="o")
    ) == VoxV2Dialect(account="a", organization_id="o")
    voxo = VoxoTarget(
        account="a",
        base_url="https://api.voxo.co",
        email="ops@example.com",
        password=key,
        tenant_id=3,
        lastrun_timezone="UTC",
        fetch_detail=False,
    )
    assert dialect_for(voxo) == VoxoDialect(
        account="a", tenant_id=3, lastrun_timezone="UTC", fetch_detail=False
    )
    sarvam = SarvamTarget(
        account="a",
        base_url="https://apps.sarvam.ai/api/scheduling",
        api_key=key,
        org_id="o",
        workspace_id="w",
        fetch_detail=False,
    )
    assert dialect_for(sarvam) == SarvamDialect(account="a", fetch_detail=False)


class _ListOnce:
    """A source without HTTP: the pages it was given, each item its own detail."""

    def __init__(self, pages: list[list[RawRecord]]) -> None:
        self._pages = pages
        self.target = TargetKey(provider="voxo", account="acme")

    async def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        for page in self._pages:
            yield page

    @asynccontextmanager
    async def listing(self) -> AsyncIterator[AsyncIterator[Sequence[RawRecord]]]:
        yield self.pages()

    pages_ahead = 0

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        return [Detail(record=item) for item in items]


def _head(
    status: Status, *, start: datetime | None = None, end: datetime | None = None
) -> StoredHead:
    return StoredHead(
        version=1,
        content_hash="h",
        status=status,
        status_derived=True,
        observed_at=NOW - timedelta(hours=1),
        scheduled_start_at=start,
        scheduled_end_at=end,
    )
