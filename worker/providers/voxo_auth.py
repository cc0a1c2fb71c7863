"""VOXO's token login: ``POST /authentication``, then ``Authorization: Bearer <accessToken>``.

The login body is ``{"strategy": "local", "email", "password"}`` and its answer
carries ``accessToken`` (docs/providers.md 3.1). The token's lifetime is
undocumented, so it is kept until VOXO answers 401; then the flow logs in once
more and retries once. A second 401, or a refused login, is a
``ProviderAuthError``; a login answering 408/425/429/5xx or a cut body is
``ProviderUnavailable``, and ``ProviderHttp`` retries the whole request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import httpx
from pydantic import SecretStr

from worker.domain.campaign import TargetKey
from worker.errors import ProviderRejected
from worker.observability.redaction import SecretValues
from worker.ports import Clock
from worker.providers.responses import decode_response

__all__ = ["LOGIN_PATH", "VoxoTokenAuth"]

LOGIN_PATH = "/authentication"


class VoxoTokenAuth(httpx.Auth):
    """Logs in with email and password, then sends the access token as a Bearer header.

    One login is shared by every request of the target; an ``anyio.Lock``
    makes concurrent requests that find no token (or a refused one) wait for a
    single login instead of each logging in.
    """

    def __init__(
        self,
        *,
        base_url: str,
        email: str,
        password: SecretStr,
        target: TargetKey,
        clock: Clock,
        secrets: SecretValues,
    ) -> None:
        self._secrets = secrets
        self._login_url = base_url.rstrip("/") + LOGIN_PATH
        self._email = email
        self._password = password
        self._target = str(target)
        self._clock = clock
        self._token: str | None = None
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"VoxoTokenAuth({self._login_url!r}, token={'set' if self._token else 'unset'})"

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        refused: str | None = None
        for _ in range(2):  # the request with the current token, then once with a fresh one
            # The lock is held across the login's round trip on purpose: httpx
            # always closes an auth flow (aclose), which releases it.
            async with self._lock:
                if self._token is None or self._token == refused:
                    self._token = None
                    login = yield self._login_request()
                    await login.aread()
                    self._token = self._accept_login(login)
                    self._secrets.add(self._token)  # redacted everywhere from now on
                token = self._token
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401:
                return
            refused = token
        # Refused twice, the second time with a fresh token: ProviderHttp turns
        # this last 401 into a ProviderAuthError.

    def _login_request(self) -> httpx.Request:
        body = {
            "strategy": "local",
            "email": self._email,
            "password": self._password.get_secret_value(),
        }
        return httpx.Request("POST", self._login_url, json=body)

    def _accept_login(self, response: httpx.Response) -> str:
        """The access token of a successful login.

        Raises:
            ProviderAuthError: the email and password were refused (401/403).
            ProviderUnavailable: 408/425/429/5xx (with Retry-After), or a 2xx whose
                body is not JSON (truncated?); ProviderHttp retries the request.
            ProviderRejected: any other refusal, or a login answer without a token.
        """
        where = f"POST {LOGIN_PATH}"
        body = decode_response(
            where,
            response,
            target=self._target,
            now=self._clock.now(),
            refused="VOXO refused this target's email and password",
            secrets=self._secrets,
        )
        token = body.get("accessToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderRejected(
                f"{where} returned {response.status_code} without an accessToken",
                target=self._target,
            )
        return token
