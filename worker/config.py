"""Configuration: one YAML file plus ``CAMPAIGN_SYNC_*`` environment overrides.

Validated once at start-up (:func:`load_settings`) and passed explicitly.
Secrets are only ever given by reference, ``{env: NAME}`` or ``{file: PATH}``,
resolved here into ``SecretStr`` so they never print. Options for facts the
providers leave undocumented (PROVIDERS.md section 5) are explicit, with the
default documented beside each.
"""

from __future__ import annotations

import base64
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.domain.timestamps import load_zone
from worker.errors import ConfigError, TimestampError

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


def _resolve_secret(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, dict) and set(value) == {"env"}:
        name = str(value["env"])
        secret = os.environ.get(name)
        if not secret:
            raise ValueError(f"environment variable {name} is not set or empty")
        return SecretStr(secret)
    if isinstance(value, dict) and set(value) == {"file"}:
        path = Path(str(value["file"])).expanduser()
        try:
            secret = path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"secret file {path} cannot be read ({exc.strerror})") from None
        if not secret:
            raise ValueError(f"secret file {path} is empty")
        return SecretStr(secret)
    raise ValueError("give secrets by reference, as {env: NAME} or {file: PATH}, never inline")


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret)]


def _zone_name(value: str) -> str:
    try:
        load_zone(value, "timezone")
    except TimestampError as exc:
        raise ValueError(exc.reason) from None
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Model):
    """How one target talks HTTP: deadlines, retries and limits."""

    deadline: float = Field(30.0, gt=0, description="total seconds for one request, body included")
    attempts: int = Field(5, ge=1, le=20, description="tries per request, first one included")
    retry_timeout: float = Field(
        120.0, gt=0, description="give up retrying after this many seconds"
    )
    wait_initial: float = Field(0.5, ge=0, description="first backoff, doubled on each retry")
    wait_max: float = Field(30.0, ge=0, description="longest backoff between two tries")
    retry_after_max: float = Field(120.0, ge=0, description="clamp for a provider's Retry-After")
    max_body_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="largest response body read (default 32 MiB); a larger one fails the request",
    )
    max_concurrency: int = Field(4, ge=1, description="requests in flight at once for this account")
    rate_per_second: float | None = Field(
        None, gt=0, description="request rate cap for this account; unset means no cap"
    )


class LimitSettings(_Model):
    """Bounds on what one target's provider can make a cycle do."""

    max_pages: int = Field(
        10_000, ge=1, description="pages one listing may take; more fails the cycle (paging loop?)"
    )
    cycle_deadline: float = Field(
        3600.0, gt=0, description="seconds one cycle may take; longer fails it (partial)"
    )
    max_string_chars: int = Field(
        65_536, ge=64, description="longest string a stored record may hold; longer quarantines it"
    )
    max_depth: int = Field(32, ge=4, le=512, description="deepest nesting a stored record may have")
    write_chunk: int = Field(
        1000, ge=1, description="records per write transaction; a longer page is written in chunks"
    )
    max_drift_values: int = Field(
        50,
        ge=1,
        description=(
            "distinct undocumented values reported per field (schema-drift events, "
            "unknown-status notes); the rest are counted, not listed"
        ),
    )


class TargetBase(_Model):
    """What every target has: an account name, a base URL, a poll interval, HTTP settings."""

    account: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    base_url: str = Field(pattern=r"^https?://")
    poll_interval: float = Field(60.0, ge=1, description="seconds between two cycles")
    vanish_after_misses: int = Field(
        1,
        ge=1,
        description=(
            "complete listings in a row that must miss a stored campaign before it "
            "vanishes (default 1); raise it for a provider whose listings flicker"
        ),
    )
    http: HttpSettings = HttpSettings()
    limits: LimitSettings = LimitSettings()

    @property
    def name(self) -> str:
        """``provider/account``, the target's name in logs and tables."""
        return f"{getattr(self, 'provider', '?')}/{self.account}"


class VoxV3Target(TargetBase):
    """vox.ai v3: ``GET /v3/campaigns``, cursor paging, Bearer key."""

    provider: Literal["vox_v3"] = "vox_v3"
    api_key: Secret
    page_size: int = Field(100, ge=1, le=100)


class VoxV2Target(TargetBase):
    """vox.ai v2: ``POST /v2/campaigns/list``, the cursor is the last campaign id."""

    provider: Literal["vox_v2"] = "vox_v2"
    api_key: Secret
    page_size: int = Field(100, ge=1, le=500)
    organization_id: str | None = Field(
        None,
        description=(
            "the organization this key belongs to; when set, a campaign carrying another "
            "`organization_id` is quarantined (a key for the wrong organization); "
            "unset: not checked"
        ),
    )


class VoxoTarget(TargetBase):
    """VOXO: token auth, one unpaged list per tenant, detail per campaign."""

    provider: Literal["voxo"] = "voxo"
    email: str = Field(min_length=3)
    password: Secret
    tenant_id: int = Field(ge=0)
    lastrun_timezone: str = Field(
        "campaign",
        description=(
            "zone that naive `lastrun` values are read in: 'campaign' (default: the "
            "campaign's own `timezone`) or an IANA zone such as 'UTC'; VOXO does not say"
        ),
    )
    fetch_detail: bool = Field(
        True, description="GET each campaign's detail (numbers, destinations) after the list"
    )
    page_size: int = Field(
        100,
        ge=1,
        le=1000,
        description=(
            "records per page handed to the pipeline (default 100); VOXO's list is one "
            "unpaged array, so the adapter splits it and fetches details one page at a time"
        ),
    )

    @field_validator("lastrun_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return value if value == "campaign" else _zone_name(value)


class SarvamTarget(TargetBase):
    """Sarvam scheduling API: ``X-API-Key``, offset paging, detail per campaign."""

    provider: Literal["sarvam"] = "sarvam"
    api_key: Secret
    org_id: str = Field(min_length=1)
    workspace_id: str = Field(min_length=1)
    page_size: int = Field(100, ge=1, le=100)
    fetch_detail: bool = Field(
        True, description="GET each campaign's detail (start/end timestamps, allowed_schedule)"
    )


Target = Annotated[
    VoxV3Target | VoxV2Target | VoxoTarget | SarvamTarget, Field(discriminator="provider")
]


def _webhook_secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    body = text.removeprefix("whsec_")
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        raise ValueError(
            "a webhook secret is base64, optionally after 'whsec_' (Standard Webhooks); "
            "make one with: python -c \"import os,base64;print('whsec_'+"
            'base64.b64encode(os.urandom(32)).decode())"'
        ) from None
    if len(key) < 16:
        raise ValueError("a webhook secret must hold at least 16 bytes (24 base64 characters)")
    return value


class WebhookSettings(_Model):
    """One webhook sink: signed POSTs of the events it asks for, retried, in campaign order."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = Field(pattern=r"^https?://")
    secret: Annotated[Secret, AfterValidator(_webhook_secret)]
    types: tuple[str, ...] | None = Field(None, description="CloudEvents types; unset: all")
    providers: tuple[str, ...] | None = Field(None, description="providers; unset: all")
    timeout: float = Field(10.0, gt=0, description="seconds one attempt may take, body included")
    concurrency: int = Field(4, ge=1, le=64, description="attempts in flight (other campaigns)")
    disable_after: float = Field(
        5 * 86400.0,
        gt=0,
        description="seconds of failures without one success after which the sink is disabled",
    )


class NatsSettings(_Model):
    """The NATS JetStream relay: every event published once, on subjects to filter by."""

    url: str = Field("nats://127.0.0.1:4222", pattern=r"^(nats|tls)://")
    stream: str = Field("CAMPAIGN_SYNC", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    subject_prefix: str = Field("campaign-sync", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    duplicate_window: float = Field(
        120.0, gt=0, description="seconds JetStream remembers a Nats-Msg-Id to drop copies"
    )
    batch_size: int = Field(200, ge=1, le=10_000, description="events read per outbox batch")
    connect_timeout: float = Field(5.0, gt=0, description="seconds to wait for the server")
    publish_timeout: float = Field(10.0, gt=0, description="seconds to wait for one PubAck")
    user: str | None = None
    password: Secret | None = None


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
