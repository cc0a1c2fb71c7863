"""Configuration: one YAML file plus ``CAMPAIGN_SYNC_*`` environment overrides.

Validated once at start-up (:func:`load_settings`) and passed explicitly.
Secrets are only ever given by reference, ``{env: NAME}`` or ``{file: PATH}``,
resolved here into ``SecretStr`` so they never print. Options for facts the
providers leave undocumented (PROVIDERS.md section 5) are explicit, with the
default documented beside each.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.config.delivery import NatsSettings, WebhookSettings
from worker.config.targets import (
    HttpSettings,
    LimitSettings,
    SarvamTarget,
    Target,
    TargetBase,
    VoxoTarget,
    VoxV2Target,
    VoxV3Target,
)
from worker.errors import ConfigError

__all__ = [
    "HttpSettings",
    "LimitSettings",
    "NatsSettings",
    "SarvamTarget",
    "Settings",
    "Target",
    "TargetBase",
    "VoxV2Target",
    "VoxV3Target",
    "VoxoTarget",
    "WebhookSettings",
    "load_settings",
]

CONFIG_ENV = "CAMPAIGN_SYNC_CONFIG"


class Settings(BaseSettings):
    """Everything the worker needs, validated once at start-up."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGN_SYNC_", extra="forbid", frozen=True)

    database_url: SecretStr | None = Field(
        None, description="PostgreSQL URL; unset runs the embedded server"
    )
    data_dir: Path | None = Field(None, description="embedded server data dir; default per user")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    lease_ttl: float = Field(
        30.0,
        ge=2,
        le=3600,
        description=(
            "seconds a target's lease lasts unless renewed (renewed every third of it); "
            "a replica that dies loses its targets this long after its last renewal"
        ),
    )
    targets: tuple[Target, ...] = ()
    webhooks: tuple[WebhookSettings, ...] = ()
    nats: NatsSettings | None = Field(
        None, description="publish every event to NATS JetStream (the relay); unset: off"
    )

    @model_validator(mode="after")
    def _unique_targets(self) -> Settings:
        dupes = [n for n, k in Counter(t.name for t in self.targets).items() if k > 1]
        if dupes:
            raise ValueError(f"duplicate targets: {', '.join(sorted(dupes))}")
        sinks = [n for n, k in Counter(w.name for w in self.webhooks).items() if k > 1]
        if sinks:
            raise ValueError(f"duplicate webhook names: {', '.join(sorted(sinks))}")
        if self.nats is not None and self.nats.duplicate_window <= self.lease_ttl:
            # A standby relay republishes after lease_ttl; JetStream must still know the ids.
            raise ValueError(
                f"nats.duplicate_window ({self.nats.duplicate_window:g} s) must be longer than "
                f"lease_ttl ({self.lease_ttl:g} s)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (which arrives as init values).
        return env_settings, init_settings

    def secrets(self) -> frozenset[str]:
        """Every resolved secret value, to blank out of logs and stored errors."""
        found: set[str] = set()
        if self.database_url is not None:
            password = _url_password(self.database_url.get_secret_value())
            if password:
                found.add(password)
        for target in self.targets:
            for value in target.__dict__.values():
                if isinstance(value, SecretStr):
                    found.add(value.get_secret_value())
        for sink in self.webhooks:
            found.add(sink.secret.get_secret_value())
        if self.nats is not None and self.nats.password is not None:
            found.add(self.nats.password.get_secret_value())
        return frozenset(found)


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (``path``, else ``$CAMPAIGN_SYNC_CONFIG``, else none) and validate.

    Raises:
        ConfigError: listing every invalid field by its location; values are never echoed.
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        data = loaded or {}
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        source = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{source}: {problems}") from None
