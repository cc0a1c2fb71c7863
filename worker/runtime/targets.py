"""From a configured target to the provider the sync core reads: its source and its dialect.

The source (``worker.providers``) does the HTTP; the dialect
(``worker.domain.dialects``) holds the pure reading rules, built here from the
target's account and its reading settings. Only the composition root and tests
build providers.
"""

from __future__ import annotations

from typing import assert_never

import httpx

from worker.config import SarvamTarget, Target, VoxoTarget, VoxV2Target, VoxV3Target
from worker.domain.dialects import SarvamDialect, VoxoDialect, VoxV2Dialect, VoxV3Dialect
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Dialect, Provider
from worker.providers import SOURCES

__all__ = ["dialect_for", "provider_for"]


def dialect_for(target: Target) -> Dialect:
    """The reading rules of ``target``'s provider, with its account and reading settings."""
    match target:
        case VoxV3Target():
            return VoxV3Dialect(account=target.account)
        case VoxV2Target():
            return VoxV2Dialect(account=target.account, organization_id=target.organization_id)
        case VoxoTarget():
            return VoxoDialect(
                account=target.account,
                tenant_id=target.tenant_id,
                lastrun_timezone=target.lastrun_timezone,
                fetch_detail=target.fetch_detail,
            )
        case SarvamTarget():
            return SarvamDialect(account=target.account, fetch_detail=target.fetch_detail)
        case _:
            assert_never(target)


def provider_for(
    target: Target,
    client: httpx.AsyncClient,
    clock: Clock,
    *,
    secrets: SecretValues | None = None,
) -> Provider:
    """``target``'s provider: its source on ``client`` and its dialect.

    Args:
        client: an ``httpx.AsyncClient`` with the target's ``base_url``; tests pass
            one over ``httpx.ASGITransport`` to a simulator.
        clock: reads "now" for HTTP-date ``Retry-After`` values and token logins.
        secrets: the process's secret values; tokens learned at runtime join it.
    """
    source = SOURCES[target.provider].from_settings(target, client, clock, secrets=secrets)
    return Provider(source=source, dialect=dialect_for(target))
