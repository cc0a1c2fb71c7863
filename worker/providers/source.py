"""What every provider's HTTP source shares: its settings, its HTTP session and its target.

A source is the I/O half of a provider (``worker.ports.Source``): it pages
through the provider's list, reads details and authenticates. How a record
reads is its dialect's business (``worker.domain.dialects``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from typing import ClassVar, Generic, Self, TypeVar

import httpx

from worker.config import TargetBase
from worker.domain.campaign import TargetKey
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Detail, RawRecord
from worker.providers.base import ProviderHttp

__all__ = ["HttpSource", "StaticHeaderAuth"]


class StaticHeaderAuth(httpx.Auth):
    """Sends one fixed credential header (``Authorization: Bearer …``, ``X-API-Key: …``)."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request

    def __repr__(self) -> str:
        return f"StaticHeaderAuth({self._header!r}, '***')"


S = TypeVar("S", bound=TargetBase)


class HttpSource(Generic[S]):
    """The base of every provider's source.

    A subclass names its provider (``name``), says how it authenticates
    (:meth:`auth`) and implements ``pages`` (and ``details`` when its list shows
    less than the record).
    """

    name: ClassVar[str]

    def __init__(self, http: ProviderHttp, settings: S) -> None:
        self.http = http
        self.settings = settings

    @classmethod
    def auth(
        cls, settings: S, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """The credentials flow for this provider; the only secret-touching hook.

        Credentials obtained at runtime (tokens) go into ``secrets``.
        """
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls,
        settings: S,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        secrets: SecretValues | None = None,
    ) -> Self:
        """Wire the source to its HTTP session (composition root)."""
        secrets = secrets if secrets is not None else SecretValues()
        target = TargetKey(provider=cls.name, account=settings.account)
        http = ProviderHttp(
            client,
            target=target,
            settings=settings.http,
            auth=cls.auth(settings, target, clock, secrets),
            clock=clock,
            secrets=secrets,
        )
        return cls(http, settings)

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Raw records page by page (``worker.ports.Source.pages``); each source has its own."""
        raise NotImplementedError

    @asynccontextmanager
    async def listing(self) -> AsyncIterator[AsyncIterator[Sequence[RawRecord]]]:
        """The pages of one listing, as :meth:`pages` yields them, with any requests
        ahead owned by this context: enter and leave it in one task; the pages may be
        iterated from another (the sync core's prefetch task).

        By default :meth:`pages` itself; a source whose list can be requested ahead
        (Sarvam's offsets) keeps its next pages in flight here, which a generator
        cannot (docs/providers.md 5.6).
        """
        yield self.pages()

    @property
    def pages_ahead(self) -> int:
        """List requests sent before the page in hand is handed on: none by default
        (cursor paging, one array); a source that requests ahead says how many."""
        return 0

    @property
    def target(self) -> TargetKey:
        """The provider account this source reads."""
        return self.http.target

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        """No detail endpoint: each list item is the whole record."""
        return [Detail(record=item) for item in items]
