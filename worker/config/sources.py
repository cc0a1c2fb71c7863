"""Where a setting comes from, for the loader and its errors: the environment or the file.

The environment wins over the file (``CAMPAIGN_SYNC_<KEY>`` for a top-level key,
``CAMPAIGN_SYNC_<KEY>__<SUBKEY>`` for a key of a section), so an invalid value
is reported by the variable that gave it; naming the file would send the user
to look for a key that may not even be in it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

__all__ = ["KeysOnly", "setting_variable", "validation_message"]


class KeysOnly(PydanticBaseSettingsSource):
    """Another source's values of some top-level keys only: a command that only touches
    the database ignores ``CAMPAIGN_SYNC_TARGETS`` (and the secrets it references)."""

    def __init__(self, source: PydanticBaseSettingsSource, keys: frozenset[str]) -> None:
        super().__init__(source.settings_cls)
        self._source = source
        self._keys = keys

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ answers for the wrapped source

    def __call__(self) -> dict[str, Any]:
        return {key: value for key, value in self._source().items() if key in self._keys}


def setting_variable(loc: Sequence[int | str], prefix: str) -> str | None:
    """The environment variable that set the value at ``loc``, as spelled, or None.

    The most specific one wins (``CAMPAIGN_SYNC_NATS__URL`` before
    ``CAMPAIGN_SYNC_NATS``), as when the settings merge them; names are matched
    case-insensitively, as pydantic-settings reads them.
    """
    spelled = {name.upper(): name for name in os.environ}
    keys = [str(part).upper() for part in loc]
    for n in range(len(keys), 0, -1):
        found = spelled.get(prefix + "__".join(keys[:n]))
        if found is not None:
            return found
    return None


def validation_message(exc: ValidationError, path: Path | None, prefix: str) -> str:
    """One line: every invalid field by its location, under the variable or file it came from.

    ``invalid configuration in environment variable CAMPAIGN_SYNC_DATABASE_URL:
    database_url: …; in config.yaml: targets.0.vox_v3.base_url: …``. Values are never echoed.
    """
    groups: dict[str, list[str]] = {}
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "config"
        variable = setting_variable(err["loc"], prefix) if err["loc"] else None
        if variable is not None:
            source = f" in environment variable {variable}"
        else:
            source = f" in {path}" if path else ""
        groups.setdefault(source, []).append(f"{where}: {err['msg']}")
    # A problem of no particular source (no file either) goes first, where ":" reads right.
    ordered = sorted(groups.items(), key=lambda group: group[0] != "")
    return "invalid configuration" + "; ".join(
        f"{source.strip() if i else source}: {'; '.join(problems)}"
        for i, (source, problems) in enumerate(ordered)
    )
