"""Provider adapters, one module per upstream API, and their registry.

``PROVIDERS`` maps a provider name (as used in config and tables) to its
adapter class. Every adapter implements ``worker.ports.Provider`` and has a
``from_settings(settings, client, clock)`` constructor for the composition root.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from worker.providers.sarvam import SarvamProvider
from worker.providers.vox_v2 import VoxV2Provider
from worker.providers.vox_v3 import VoxV3Provider
from worker.providers.voxo import VoxoProvider

__all__ = ["PROVIDERS", "build_registry"]


def build_registry(*adapters: Any) -> Mapping[str, Any]:
    """A read-only name -> adapter map; a name registered twice is an error."""
    registry: dict[str, Any] = {}
    for adapter in adapters:
        if adapter.name in registry:
            raise ValueError(f"provider {adapter.name!r} registered twice")
        registry[adapter.name] = adapter
    return MappingProxyType(registry)


PROVIDERS = build_registry(
    VoxV3Provider,
    VoxV2Provider,
    VoxoProvider,
    SarvamProvider,
)
