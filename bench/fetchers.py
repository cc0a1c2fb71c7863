"""The peers' fetch: plain async httpx paging through each provider's endpoints.

The same requests the product makes (list pages, and the detail of every
campaign whose detail is wanted), decoded with orjson, with up to
``concurrency`` detail requests in flight (the product's ``max_concurrency``).
It yields pages of records (a list item merged with its detail) and stores
nothing; the peers decide what to do with them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

import anyio
import httpx
import orjson

from bench.fleet import KEYS, SARVAM_ORG, SARVAM_WORKSPACE, VOXO_EMAIL, VOXO_PASSWORD, VOXO_TENANT

Page = list[dict[str, Any]]
# Which campaigns get a detail GET: all of them, none, or those named.
Wanted = Callable[[str], bool]

ALL: Wanted = lambda _id: True  # noqa: E731
NONE: Wanted = lambda _id: False  # noqa: E731


def only(ids: Collection[str]) -> Wanted:
    chosen = frozenset(ids)
    return chosen.__contains__


class Fetcher:
    """Pages of one bench fleet, counting the requests it sends."""

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        *,
        page_size: int,
        concurrency: int,
        wanted: Wanted = ALL,
    ) -> None:
        self.provider = provider
        self.client = client
        self.page_size = page_size
        self.wanted = wanted
        self.requests = 0
        self._slots = anyio.Semaphore(concurrency)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        response = await self.client.request(method, path, **kwargs)
        response.raise_for_status()
        return orjson.loads(response.content)

    def pages(self) -> AsyncIterator[Page]:
        if self.provider == "vox_v3":
            return self._vox_v3()
        if self.provider == "vox_v2":
            return self._vox_v2()
        if self.provider == "voxo":
            return self._voxo()
        return self._sarvam()

    async def _vox_v3(self) -> AsyncIterator[Page]:
        headers = {"Authorization": f"Bearer {KEYS['vox_v3']}"}
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            body = await self._json("GET", "/v3/campaigns", params=params, headers=headers)
            yield body["items"]
            cursor = body.get("next_cursor")
            if cursor is None:
                return

    async def _vox_v2(self) -> AsyncIterator[Page]:
        headers = {"Authorization": f"Bearer {KEYS['vox_v2']}"}
        cursor = None
        while True:
            request: dict[str, Any] = {"sort_order": "descending", "limit": self.page_size}
            if cursor is not None:
                request["pagination_key"] = cursor
            body = await self._json(
                "POST", "/v2/campaigns/list", content=orjson.dumps(request), headers=headers
            )
            yield body["campaigns"]
            cursor = body.get("next_cursor")
            if cursor is None:
                return

    async def _voxo(self) -> AsyncIterator[Page]:
        login = {"strategy": "local", "email": VOXO_EMAIL, "password": VOXO_PASSWORD}
        token = (await self._json("POST", "/authentication", json=login))["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        items = await self._json(
            "GET", "/v2/call-campaigns", params={"tenantId": VOXO_TENANT}, headers=headers
        )
        # One unpaged array: handed on in pages, as the product writes it.
        for start in range(0, len(items), self.page_size):
            page = items[start : start + self.page_size]
            yield await self._details(
                page, lambda item: f"/v2/call-campaigns/{item['id']}", headers, replace=True
            )

    async def _sarvam(self) -> AsyncIterator[Page]:
        headers = {"X-API-Key": KEYS["sarvam"]}
        path = f"/v1/orgs/{SARVAM_ORG}/workspaces/{SARVAM_WORKSPACE}/campaigns"
        offset = 0
        while True:
            params = {
                "limit": self.page_size,
                "offset": offset,
                "sort_by": "created_at",
                "sort_order": "asc",
            }
            body = await self._json("GET", path, params=params, headers=headers)
            items = body["items"]
            yield await self._details(
                items, lambda item: f"{path}/{item['campaign_id']}", headers, replace=False
            )
            offset += len(items)
            if not items or body.get("next_page_uri") is None or offset >= body["total"]:
                return

    async def _details(
        self,
        items: Page,
        path_of: Callable[[dict[str, Any]], str],
        headers: dict[str, str],
        *,
        replace: bool,
    ) -> Page:
        id_key = "id" if self.provider == "voxo" else "campaign_id"
        records = list(items)

        async def one(index: int) -> None:
            async with self._slots:
                detail = await self._json("GET", path_of(items[index]), headers=headers)
            records[index] = detail if replace else {**items[index], **detail}

        async with anyio.create_task_group() as tg:
            for index, item in enumerate(items):
                if self.wanted(str(item[id_key])):
                    tg.start_soon(one, index)
        return records
