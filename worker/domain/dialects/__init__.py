"""Each provider API's reading rules, pure: one module per provider family, and their registry.

A dialect turns one raw record into a ``Campaign`` and says what the provider
documents (status table, enums, keys) and which statuses are read against the
poll time. It never performs I/O and never reads a clock. The HTTP half of each
provider (pages, details, auth) is its source under ``worker.providers``.

``DIALECTS`` maps a provider name (as used in config and tables) to its dialect
class; an instance is built per target with that target's account and reading
settings (``worker.runtime.targets.dialect_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from worker.domain.dialects.base import BaseDialect, RawRecord
from worker.domain.dialects.sarvam import SarvamDialect
from worker.domain.dialects.vox import VoxV2Dialect, VoxV3Dialect
from worker.domain.dialects.voxo import VoxoDialect

__all__ = [
    "DIALECTS",
    "BaseDialect",
    "RawRecord",
    "SarvamDialect",
    "VoxV2Dialect",
    "VoxV3Dialect",
    "VoxoDialect",
]


def _registry(*dialects: type[BaseDialect]) -> Mapping[str, type[BaseDialect]]:
    """A read-only name -> dialect map; a name registered twice is an error."""
    registry: dict[str, type[BaseDialect]] = {}
    for dialect in dialects:
        if dialect.name in registry:
            raise ValueError(f"dialect {dialect.name!r} registered twice")
        registry[dialect.name] = dialect
    return MappingProxyType(registry)


DIALECTS = _registry(VoxV3Dialect, VoxV2Dialect, VoxoDialect, SarvamDialect)
