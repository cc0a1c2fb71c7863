"""``serve`` ends its server whichever way the block ends: an error in the block must not
leave a half-stopped uvicorn answering on connections that were already open."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from worker.runtime.http_server import serve


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


class Boom(Exception):
    pass


@pytest.mark.parametrize("ending", ["normal", "error"])
async def test_the_server_is_gone_once_the_block_ends(ending: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:  # one pooled, kept-alive connection
        try:
            async with serve(hello) as url:
                assert (await client.get(url)).text == "hello"
                if ending == "error":
                    raise Boom
        except* Boom:  # serve() runs the server in a task group
            pass
        with pytest.raises(httpx.TransportError):
            await client.get(url)  # reuses the kept-alive connection if it is still open
