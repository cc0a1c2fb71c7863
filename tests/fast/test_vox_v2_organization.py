"""vox v2: an optional organization check catches a key configured for the wrong org."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from worker.config import VoxV2Target
from worker.errors import NormalizationError
from worker.ports import Dialect
from worker.runtime.targets import dialect_for

NOW = datetime(2026, 3, 2, tzinfo=UTC)
ITEM = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "vox_v2" / "list_response.json").read_text()
)["campaigns"][0]


def provider(organization_id: str | None) -> Dialect:
    settings = VoxV2Target(
        account="acme",
        base_url="http://vox.test",
        api_key=SecretStr("k"),
        organization_id=organization_id,
    )
    return dialect_for(settings)


def test_unset_organization_is_not_checked() -> None:
    assert (
        provider(None)
        .normalize({**ITEM, "organization_id": "anything"}, observed_at=NOW)
        .campaign_id
        == ITEM["id"]
    )


def test_matching_organization_passes() -> None:
    assert (
        provider(ITEM["organization_id"]).normalize(ITEM, observed_at=NOW).campaign_id == ITEM["id"]
    )


def test_another_organization_is_quarantined_naming_the_field() -> None:
    with pytest.raises(NormalizationError) as info:
        provider("org-mine").normalize(ITEM, observed_at=NOW)
    assert (
        str(info.value)
        == f"organization_id={ITEM['organization_id']!r}: not this target's organization 'org-mine'"
    )
