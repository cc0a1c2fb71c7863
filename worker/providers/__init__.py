"""Provider sources: the HTTP half of each provider, one module per API, and their registry.

``SOURCES`` maps a provider name (as used in config and tables) to its source
class. Every source implements ``worker.ports.Source`` (pages, details, auth)
and has a ``from_settings(settings, client, clock)`` constructor for the
composition root. How records read is each provider's dialect, in
``worker.domain.dialects``; ``worker.runtime.targets`` pairs the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from worker.providers.sarvam import SarvamSource
from worker.providers.source import HttpSource
from worker.providers.vox_v2 import VoxV2Source
from worker.providers.vox_v3 import VoxV3Source
from worker.providers.voxo import VoxoSource

__all__ = ["SOURCES", "HttpSource", "build_registry"]


def build_registry(*sources: type[HttpSource[Any]]) -> Mapping[str, type[HttpSource[Any]]]:
    """A read-only name -> source map; a name registered twice is an error."""
    registry: dict[str, type[HttpSource[Any]]] = {}
    for source in sources:
        if source.name in registry:
            raise ValueError(f"provider {source.name!r} registered twice")
        registry[source.name] = source
    return MappingProxyType(registry)


SOURCES = build_registry(VoxV3Source, VoxV2Source, VoxoSource, SarvamSource)
