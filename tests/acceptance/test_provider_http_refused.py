"""The shared HTTP layer against a real refusal: a loopback port nobody listens on."""

from __future__ import annotations

import socket

import httpx
import pytest

from worker.config import HttpSettings
from worker.domain.campaign import TargetKey
from worker.errors import ProviderUnavailable
from worker.providers.base import ProviderHttp

SECRET = "sk-live-do-not-leak-4242"


async def test_connection_failures_are_transient_and_name_no_url() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on: a real refusal
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        http = ProviderHttp(
            client, target=TargetKey(provider="sarvam", account="ws"), settings=HttpSettings()
        )
        with pytest.raises(ProviderUnavailable) as info:
            await http.request_json("GET", "/campaigns", params={"key": SECRET})
    assert str(info.value) == "sarvam/ws: GET /campaigns failed: ConnectError"
    assert str(port) not in str(info.value)
