"""Configuration: one YAML file plus ``CAMPAIGN_SYNC_*`` environment overrides.

Validated once at start-up (:func:`load_settings`) and passed explicitly.
Secrets are only ever given by reference, ``{env: NAME}`` or ``{file: PATH}``,
resolved here into ``SecretStr`` so they never print. Options for facts the
providers leave undocumented (docs/providers.md 5.4) are explicit, with the
default documented beside each.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from worker.config.delivery import HealthSettings, NatsSettings, WebhookSettings
from worker.config.secret_urls import url_secrets
from worker.config.show import show_settings
from worker.config.sources import KeysOnly, validation_message
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
from worker.config.urls import parse_database_url
from worker.errors import ConfigError

__all__ = [
    "HealthSettings",
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
    "show_settings",
]

ENV_PREFIX = "CAMPAIGN_SYNC_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
# Read by the tests and the benchmark, not by the worker.
_NOT_SETTINGS = (CONFIG_ENV, f"{ENV_PREFIX}TEST_", f"{ENV_PREFIX}BENCH_")
# The settings a command that only touches the database needs (``migrate``, ``status``).
DATABASE_KEYS = frozenset(
    {
        "database_url",
        "embedded_database",
        "data_dir",
        "database_pool_size",
        "database_max_overflow",
        "log_level",
        "log_format",
    }
)
_LISTS = frozenset({"targets", "webhooks"})


class Settings(BaseSettings):
    """Everything the worker needs, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL; unset: `demo` and `sync-once` use the embedded server, "
        "every other command that uses the database refuses to start unless "
        "`embedded_database` is true (or it is given --embedded)",
    )
    embedded_database: bool = Field(
        False,
        description="let every command use the embedded PostgreSQL when no database_url is "
        "set, as --embedded does (a laptop, not a pod: its data lives on local disk)",
    )
    data_dir: Path | None = Field(None, description="embedded server data dir; default per user")
    database_pool_size: int = Field(
        5,
        ge=1,
        le=100,
        description="connections each campaign-sync process keeps open to PostgreSQL",
    )
    database_max_overflow: int = Field(
        5,
        ge=0,
        le=100,
        description=(
            "connections a process may open beyond database_pool_size while busy (closed "
            "again when returned); a process holds at most database_pool_size + "
            "database_max_overflow, so max_connections must leave that room per replica"
        ),
    )
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
    shutdown_grace: float = Field(
        25.0,
        ge=0,
        le=3600,
        description=(
            "seconds SIGTERM lets running cycles finish before it cancels them (their runs "
            "are recorded as canceled); keep it below the pod's terminationGracePeriodSeconds"
        ),
    )
    targets: tuple[Target, ...] = ()
    webhooks: tuple[WebhookSettings, ...] = ()
    health: HealthSettings = HealthSettings()
    nats: NatsSettings | None = Field(
        None, description="publish every event to NATS JetStream (the relay); unset: off"
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_database_url(value.get_secret_value())
        return value

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
            found |= parse_database_url(self.database_url.get_secret_value()).secrets()
        for target in self.targets:
            for value in target.__dict__.values():
                if isinstance(value, SecretStr):
                    found.add(value.get_secret_value())
        for sink in self.webhooks:
            found.add(sink.secret.get_secret_value())
        if self.nats is not None and self.nats.password is not None:
            found.add(self.nats.password.get_secret_value())
        found |= url_secrets(*self.targets, *self.webhooks, *filter(None, [self.nats]))
        return frozenset(found)


def load_settings(
    path: Path | None = None, *, database_only: bool = False, **overrides: Any
) -> Settings:
    """Read the YAML file (``path``, else ``$CAMPAIGN_SYNC_CONFIG``, else none) and validate.

    ``CAMPAIGN_SYNC_<KEY>`` overrides a top-level key of the file, and
    ``CAMPAIGN_SYNC_<KEY>__<SUBKEY>`` a key of a section (``CAMPAIGN_SYNC_NATS__URL``).
    Lists (``targets``, ``webhooks``) are overridden whole, as JSON. With
    ``database_only`` (commands that only touch the database) every other key
    is left out, so their secrets need not be set.

    Raises:
        ConfigError: one line naming the file, line and column, the environment
            variable, or every invalid field by its location; values are never echoed.
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    _check_environment()
    data = _read_file(path) if path is not None else {}
    if database_only:
        data = {k: v for k, v in data.items() if k in DATABASE_KEYS}
    data.update(overrides)
    try:
        return (_DatabaseSettings if database_only else Settings)(**data)
    except SettingsError as exc:
        raise ConfigError(_env_error(exc)) from None
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, path, ENV_PREFIX)) from None


class _DatabaseSettings(Settings):
    """Settings of a command that only touches the database: the environment's other keys
    (``CAMPAIGN_SYNC_TARGETS`` and the secrets it references) are left out, as the file's are."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return KeysOnly(env_settings, DATABASE_KEYS), init_settings


def _read_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error(path, exc)) from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded or {}


def _yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "not valid YAML"
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"config file {path}{where}: {problem} (not valid YAML)"


def _check_environment() -> None:
    """Refuse a ``CAMPAIGN_SYNC_*`` variable that is no setting: it would be ignored."""
    known = {name.upper() for name in Settings.model_fields}
    for variable in sorted(os.environ):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(_NOT_SETTINGS):
            continue
        key, nested, _ = upper[len(ENV_PREFIX) :].partition("__")
        if key not in known:
            raise ConfigError(
                f"environment variable {variable} is not a setting; the top-level keys are "
                f"{', '.join(sorted(k.lower() for k in known))} (a target's keys, such as "
                "poll_interval, go under `targets:` in the config file)"
            )
        if nested and key.lower() in _LISTS:
            raise ConfigError(
                f"environment variable {variable}: {key.lower()} is a list; override it whole "
                f"as JSON in {ENV_PREFIX}{key}, or edit the config file"
            )


def _env_error(exc: SettingsError) -> str:
    found = re.search(r'field "([^"]+)"', str(exc))
    field = found.group(1) if found else "?"
    return (
        f"environment variable {ENV_PREFIX}{field.upper()} is not valid JSON "
        "(lists and sections given in the environment are JSON)"
    )
