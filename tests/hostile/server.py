"""A hostile vox v3 provider: an ASGI app whose every answer the test writes byte for byte.

Records are JSON *text*, so a test can send what ``json.dumps`` never would:
``NaN``, lone surrogates, NUL escapes, numbers past 64 bits, absurd nesting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.config import VoxV3Target

KEY = "hostile-vox-key"
TARGET = VoxV3Target(account="hostile", base_url="http://hostile.test", api_key=SecretStr(KEY))
T_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z


def record(campaign_id: str, **fields: Any) -> str:
    """A well-formed vox v3 campaign as JSON text; ``fields`` override (as Python values)."""
    base: dict[str, Any] = {
        "id": campaign_id,
        "name": f"campaign {campaign_id}",
        "status": "ongoing",
        "agent": {"agent_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "agent_version": "current"},
        "from_number": "0212345678",
        "total_calls": 100,
        "completed_calls": 10,
        "failed_calls": 1,
        "concurrency": 5,
        "active_concurrency": 2,
        "created_at": T_MS,
        "presentation_number": None,
        "scheduled_at": None,
        "finished_at": None,
        "paused_at": None,
        "paused_by": None,
    }
    return json.dumps({**base, **fields})


def with_raw(text: str, key: str, raw_json: str) -> str:
    """``text`` (one record) with ``key`` set to the literal JSON ``raw_json``."""
    return text[:-1] + f', "{key}": {raw_json}}}'


def page(*records: str, next_cursor: str | None = None) -> bytes:
    return (
        '{"items": [' + ", ".join(records) + "], "
        f'"next_cursor": {json.dumps(next_cursor)}, "total_count": {len(records)}}}'
    ).encode()


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


Responder = Callable[[int, str | None], Answer]  # (request number from 1, cursor) -> answer


class HostileVox:
    """Serves ``GET /v3/campaigns`` from ``respond``; counts requests."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.requests += 1
        query = dict(
            part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part
        )
        answer = self.respond(self.requests, query.get("cursor"))
        headers = [(b"content-type", b"application/json"), *answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def pages_of(*bodies: bytes) -> Responder:
    """The same body sequence every cycle: request n of a cycle gets bodies[n]."""

    def respond(number: int, cursor: str | None) -> Answer:
        index = 0 if cursor is None else int(cursor)
        return Answer(body=bodies[index])

    return respond


class Overwrite:
    """ASGI wrapper: the JSON records the app serves (list items and details) get
    ``fields`` merged into them when their ``id`` is ``campaign_id``; a real provider's
    paths and auth, with values the test picks. ``literal`` fields are JSON text, for
    what ``json.dumps`` never writes (an integer of 5 000 digits)."""

    def __init__(
        self,
        app: ASGIApp,
        campaign_id: str,
        fields: dict[str, Any],
        literal: dict[str, str] | None = None,
        *,
        id_field: str = "id",
    ) -> None:
        self.app = app
        self.id_field = id_field
        self.aim(campaign_id, fields, literal)

    def aim(
        self, campaign_id: str, fields: dict[str, Any], literal: dict[str, str] | None = None
    ) -> None:
        """From now on, overwrite ``campaign_id``'s record with ``fields`` (and ``literal``)."""
        self.campaign_id = campaign_id
        self.literal = literal or {}
        self.fields = {**fields, **{k: f"@literal:{k}@" for k in self.literal}}

    def _edit(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._edit(item) for item in value]
        if isinstance(value, dict):
            if str(value.get(self.id_field)) == self.campaign_id:
                return {**value, **self.fields}
            return {k: self._edit(v) for k, v in value.items()}  # a page's envelope
        return value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                body.extend(message.get("body", b""))

        await self.app(scope, receive, keep)
        text = json.dumps(self._edit(json.loads(body))) if body else ""
        for key, literal in self.literal.items():
            text = text.replace(f'"@literal:{key}@"', literal)
        edited = text.encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(edited)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": edited})
