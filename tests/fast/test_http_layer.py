"""The shared HTTP layer: Retry-After parsing and clamping, error translation, secrets kept out."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from worker.config import HttpSettings
from worker.domain.campaign import TargetKey
from worker.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from worker.observability.logs import JsonFormatter, SecretFilter
from worker.providers.base import ProviderHttp, backoff_for
from worker.providers.responses import parse_retry_after
from worker.providers.source import StaticHeaderAuth

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "sk-live-do-not-leak-4242"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_backoff_hook_retries_only_transient_errors_and_clamps_retry_after() -> None:
    assert backoff_for(ProviderUnavailable("x"), retry_after_max=60) is True
    assert backoff_for(ProviderUnavailable("x", retry_after=7), retry_after_max=60) == 7
    assert backoff_for(ProviderUnavailable("x", retry_after=3600), retry_after_max=60) == 60
    assert backoff_for(ProviderRejected("x"), retry_after_max=60) is False
    assert backoff_for(ProviderAuthError("x"), retry_after_max=60) is False
    assert backoff_for(ValueError("x"), retry_after_max=60) is False


def _app() -> Starlette:
    async def echo(request: Request) -> Response:
        status = int(request.query_params.get("status", "200"))
        if status == 200:
            return JSONResponse({"auth": request.headers.get("authorization")})
        if status == 422:
            return JSONResponse(
                {"detail": [{"loc": ["query", "limit"], "msg": "too big"}]}, status_code=422
            )
        return JSONResponse(
            {"error": {"code": "X", "message": f"status {status}"}}, status_code=status
        )

    return Starlette(routes=[Route("/echo", echo)])


def _http(attempts: int = 3) -> ProviderHttp:
    client = httpx.AsyncClient(base_url="http://p.test", transport=httpx.ASGITransport(app=_app()))
    return ProviderHttp(
        client,
        target=TargetKey(provider="vox_v3", account="acme"),
        settings=HttpSettings(attempts=attempts),
        auth=StaticHeaderAuth("Authorization", f"Bearer {SECRET}"),
    )


async def test_auth_header_is_sent_but_never_shown() -> None:
    http = _http()
    assert await http.request_json("GET", "/echo") == {"auth": f"Bearer {SECRET}"}
    assert SECRET not in repr(StaticHeaderAuth("Authorization", f"Bearer {SECRET}"))


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, ProviderAuthError, "vox_v3/acme: GET /echo returned 401: credentials refused"),
        (403, ProviderAuthError, "vox_v3/acme: GET /echo returned 403: credentials refused"),
        (404, ProviderRejected, "vox_v3/acme: GET /echo returned 404 (X: status 404)"),
        (
            422,
            ProviderRejected,
            "GET /echo returned 422 (query.limit: too big)",
        ),
        (500, ProviderUnavailable, "vox_v3/acme: GET /echo returned 500 (X: status 500)"),
        (408, ProviderUnavailable, "GET /echo returned 408"),
    ],
)
async def test_status_codes_map_onto_the_error_tree(
    status: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        await _http().request_json("GET", "/echo", params={"status": status, "token": SECRET})
    assert message in str(info.value)
    assert SECRET not in str(info.value)  # never the query string, never a header


@pytest.mark.parametrize(
    "base_url",
    [
        "http://p.test",
        "http://p.test/",
        "http://p.test:8080/api/scheduling",
        "http://p.test/v1/",
        "http://p.test/v1?region=eu",
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/campaigns",
        "campaigns",
        "/v1/orgs/o%2F1/campaigns/c%20d",
        "/a/b/",
        "/ümlaut/x y",
        "/list?cursor=old&x=1",
    ],
)
@pytest.mark.parametrize("own_params", [None, {"tenant": "t1", "limit": 9}])
async def test_a_path_joins_the_base_url_as_httpx_joins_it(
    base_url: str, path: str, own_params: dict[str, object] | None
) -> None:
    """ProviderHttp joins paths to ``base_url`` itself (cheaper than httpx per request):
    the provider sees the URL httpx would have sent."""
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url=base_url, params=own_params
    ) as client:
        http = ProviderHttp(
            client, target=TargetKey(provider="sarvam", account="ws"), settings=HttpSettings()
        )
        params = {"limit": 5, "cursor": "a b/c=", "on": True, "none": None, "ids": [1, 2]}
        await http.request_json("GET", path, params=params)
        await http.request_json("GET", path)
        expected = [
            client.build_request("GET", path, params=params).url,
            client.build_request("GET", path).url,
        ]
    assert [url.raw_path for url in seen] == [url.raw_path for url in expected]
    assert seen == expected


async def test_connection_failures_are_transient_and_name_no_url() -> None:
    # In process, a transport that fails as a refused connection does, URL and all in its
    # message; tests/acceptance/test_provider_http_refused.py gets a real refusal on loopback.
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"[Errno 111] Connection refused: {request.url}", request=request)

    transport = httpx.MockTransport(refuse)
    async with httpx.AsyncClient(transport=transport, base_url="http://provider.test") as client:
        http = ProviderHttp(
            client, target=TargetKey(provider="sarvam", account="ws"), settings=HttpSettings()
        )
        with pytest.raises(ProviderUnavailable) as info:
            await http.request_json("GET", "/campaigns", params={"key": SECRET})
    assert str(info.value) == "sarvam/ws: GET /campaigns failed: ConnectError"


def test_log_records_have_secrets_blanked(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "worker", logging.WARNING, __file__, 1, "refused %s", (SECRET,), None
    )
    record.event = "sync.failed"
    record.detail = {"header": f"Bearer {SECRET}"}
    assert SecretFilter(frozenset({SECRET})).filter(record)
    line = JsonFormatter().format(record)
    assert SECRET not in line
    assert '"event": "sync.failed"' in line
    assert "[REDACTED]" in line


async def test_httpcore_asks_for_the_event_loop_without_searching_the_path() -> None:
    """httpcore asks sniffio which loop runs several times a request; were sniffio
    missing, every ask would be a failed import that searches sys.path (about 60 µs)."""
    from httpcore._synchronization import current_async_library

    searched: list[str] = []

    class Recorder:
        def find_spec(self, name: str, *_: object) -> None:
            searched.append(name)

    sys.meta_path.insert(0, Recorder())  # type: ignore[arg-type]
    try:
        assert current_async_library() == "asyncio"
    finally:
        del sys.meta_path[0]
    assert searched == []
