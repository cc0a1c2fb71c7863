"""vox.ai v2: ``POST /v2/campaigns/list``, the cursor is the last campaign id, ISO times.

The v2 list is body-filtered (PROVIDERS.md 1.3): the request carries ``limit``
(1-500), ``sort_order`` and ``pagination_key``, and the envelope is
``{campaigns, next_cursor, total_count}`` where ``next_cursor`` is the id of
the page's last campaign, or null on the last page. The adapter sends no
``filter_criteria``: every poll must see the whole fleet to diff it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from worker.config import VoxV2Target
from worker.domain.campaign import Campaign, Status, TargetKey
from worker.domain.records import MISSING, Record
from worker.observability.redaction import SecretValues
from worker.ports import Clock, RawRecord
from worker.providers.base import HttpProvider, StaticHeaderAuth
from worker.providers.paging import cursor_pages
from worker.providers.vox import VOX_ENUMS, VOX_STATUS, VOX_V2_KEYS, read_vox_campaign

__all__ = ["VoxV2Provider"]

LIST_PATH = "/v2/campaigns/list"


class VoxV2Provider(HttpProvider[VoxV2Target]):
    """Campaigns of one vox.ai organization through the v2 API.

    Fields (seed 001, PROVIDERS.md 1.3 and 1.5): ``created_at``, ``scheduled_at``,
    ``finished_at`` and ``paused_at`` are ISO-8601 with ``Z``; ``agent_id`` and
    ``agent_version`` are flat; ``organization_id`` names the tenant the key
    belongs to. ``paused_at``, ``paused_by`` and ``call_time_window`` are in the
    response schema but missing from every v2 sample, so absent reads as null.
    """

    name: ClassVar[str] = "vox_v2"
    id_field: ClassVar[str] = "id"
    status_table: ClassVar[Mapping[str, Status]] = VOX_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = VOX_ENUMS
    documented_keys: ClassVar[frozenset[str] | None] = VOX_V2_KEYS

    @classmethod
    def auth(
        cls, settings: VoxV2Target, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """``Authorization: Bearer <organization key>``."""
        return StaticHeaderAuth("Authorization", f"Bearer {settings.api_key.get_secret_value()}")

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``POST /v2/campaigns/list`` until ``next_cursor`` is null."""

        async def fetch(cursor: str | None) -> Any:
            body: dict[str, Any] = {"sort_order": "descending", "limit": self.settings.page_size}
            if cursor is not None:
                body["pagination_key"] = cursor
            return await self.http.request_json("POST", LIST_PATH, json_body=body)

        return cursor_pages(self.http.target, f"POST {LIST_PATH}", fetch, items_key="campaigns")

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one v2 campaign DTO. Pure; raises NormalizationError."""
        r = Record(raw)
        campaign = read_vox_campaign(
            r, raw, provider=self.name, account=self.settings.account, read_time=Record.iso8601
        )
        # No column holds these, but a wrong type means the DTO is not the one we read,
        # so it fails here rather than later in a reader of ``raw``, which keeps them.
        organization = r.text("organization_id")
        expected = self.settings.organization_id
        if expected is not None and organization != expected:
            raise r.error("organization_id", f"not this target's organization {expected!r}")
        r.text("agent_id")
        _check_agent_version(r)
        return campaign


def _check_agent_version(r: Record) -> None:
    """``agent_version`` is a string or an integer: the v2 sample says ``"production"``,
    the v2 schema says ``integer | null`` (PROVIDERS.md 1.3), so both are accepted."""
    value = r.raw("agent_version")
    if value is MISSING or value is None or isinstance(value, str):
        return
    if isinstance(value, int) and not isinstance(value, bool):
        return
    raise r.error("agent_version", f"expected string or integer, got {type(value).__name__}")
