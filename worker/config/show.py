"""The effective configuration as YAML, every secret hidden (``campaign-sync config show``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from worker.config.urls import parse_database_url

if TYPE_CHECKING:
    from worker.config import Settings

__all__ = ["show_settings"]

HIDDEN = "***"


def show_settings(settings: Settings) -> str:
    """YAML of every key, defaults included; secrets print as ``***``, the database
    URL without its password or parameters, a URL given by reference as its origin
    (``https://host:port/***``)."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    if settings.database_url is not None:
        data["database_url"] = parse_database_url(
            settings.database_url.get_secret_value()
        ).display()
    return yaml.safe_dump(_hide(data), sort_keys=False, allow_unicode=True)


def _hide(value: Any) -> Any:
    # pydantic dumps a SecretStr as a row of asterisks: make it one clear marker.
    if isinstance(value, dict):
        return {k: _hide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide(v) for v in value]
    if isinstance(value, str) and value and set(value) == {"*"}:
        return HIDDEN
    return value
