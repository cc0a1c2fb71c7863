"""A webhook receiver for the tests: verifies every signature with the ``standardwebhooks``
package, records what it accepted, and can be down, gone, redirecting or slow."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import anyio
from standardwebhooks.webhooks import Webhook
from starlette.types import Receive, Scope, Send

SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-0123456789ab").decode()


@dataclass
class Receiver:
    """An ASGI webhook endpoint. ``mode``: up, down (503), gone (410), moved (302), slow."""

    secret: str = SECRET
    mode: str = "up"
    retry_after: str | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    release: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.attempts += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            status = await self._answer(body, headers)
        finally:
            self.in_flight -= 1
        extra = [] if self.retry_after is None else [(b"retry-after", self.retry_after.encode())]
        if status == 302:
            extra.append((b"location", b"http://elsewhere.test/"))
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b""})

    async def _answer(self, body: bytes, headers: dict[str, str]) -> int:
        if self.mode == "slow":
            await self.release.wait()
        if self.mode == "down":
            return 503
        if self.mode == "gone":
            return 410
        if self.mode == "moved":
            return 302
        payload = Webhook(self.secret).verify(body, headers)  # raises on a bad signature
        self.accepted.append(
            {"webhook-id": headers["webhook-id"], **json.loads(body), **{"_": payload is not None}}
        )
        return 204

    def ids(self) -> list[str]:
        return [a["webhook-id"] for a in self.accepted]

    def subjects(self) -> list[str]:
        return [a["subject"] for a in self.accepted]
