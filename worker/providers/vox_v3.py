"""vox.ai v3: ``GET /v3/campaigns``, cursor paging, unix-millisecond times."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from worker.config import VoxV3Target
from worker.domain.campaign import Campaign, Status, TargetKey
from worker.domain.records import Record
from worker.observability.redaction import SecretValues
from worker.ports import Clock, RawRecord
from worker.providers.base import HttpProvider, StaticHeaderAuth
from worker.providers.paging import cursor_pages
from worker.providers.vox import VOX_ENUMS, VOX_STATUS, VOX_V3_KEYS, read_vox_campaign

__all__ = ["VoxV3Provider"]


class VoxV3Provider(HttpProvider[VoxV3Target]):
    """Campaigns of one vox.ai organization through the v3 API.

    Fields (PROVIDERS.md 1.5): every ``*_at`` is integer unix milliseconds;
    ``active_concurrency`` is the number of dials in progress.
    """

    name: ClassVar[str] = "vox_v3"
    id_field: ClassVar[str] = "id"
    status_table: ClassVar[Mapping[str, Status]] = VOX_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = VOX_ENUMS
    documented_keys: ClassVar[frozenset[str] | None] = VOX_V3_KEYS

    @classmethod
    def auth(
        cls, settings: VoxV3Target, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """``Authorization: Bearer <organization key>``."""
        return StaticHeaderAuth("Authorization", f"Bearer {settings.api_key.get_secret_value()}")

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``GET /v3/campaigns?limit=&cursor=`` until ``next_cursor`` is null."""

        async def fetch(cursor: str | None) -> Any:
            params: dict[str, Any] = {"limit": self.settings.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            return await self.http.request_json("GET", "/v3/campaigns", params=params)

        return cursor_pages(self.http.target, "GET /v3/campaigns", fetch, items_key="items")

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one v3 campaign object. Pure; raises NormalizationError."""
        return read_vox_campaign(
            Record(raw),
            raw,
            provider=self.name,
            account=self.settings.account,
            read_time=Record.unix_ms,
        )
