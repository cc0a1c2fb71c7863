"""Targets: one provider account each, with its HTTP settings and limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from worker.config.base import HttpUrl, Model, Secret, zone_name

__all__ = [
    "HttpSettings",
    "LimitSettings",
    "SarvamTarget",
    "Target",
    "TargetBase",
    "VoxV2Target",
    "VoxV3Target",
    "VoxoTarget",
]


class HttpSettings(Model):
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


_BATCH_WAIT = 1.0


class LimitSettings(Model):
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
    prefetch_pages: int = Field(
        10,
        ge=0,
        le=64,
        description="list pages fetched ahead while one is written (memory: this + 2 pages)",
    )
    write_chunk: int = Field(
        1000,
        ge=1,
        description=(
            "records per write transaction: the records left to store of consecutive "
            "pages are written together, up to this many"
        ),
    )
    batch_wait: float = Field(
        _BATCH_WAIT,
        ge=0,
        le=60,
        description=(
            "seconds of listing one write transaction may span: a page observed this "
            "long after the batch's first record's page starts a new one (0: page by page)"
        ),
    )
    max_drift_values: int = Field(
        50,
        ge=1,
        description=(
            "distinct undocumented values reported per field (schema-drift events, "
            "unknown-status notes); the rest are counted, not listed"
        ),
    )
    max_remembered_campaigns: int = Field(
        2_000_000,
        ge=0,
        description=(
            "campaigns per target whose list-item digest a replica remembers between "
            "cycles (about 17 bytes a slot, 23 to 34 bytes a campaign), so an unchanged "
            "record is skipped without reading the database; past it the rest are "
            "checked against the stored heads; 0 remembers none"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _batch_wait_default(cls, data: Any) -> Any:
        """An unset ``batch_wait`` is half a ``cycle_deadline`` shorter than its default."""
        if isinstance(data, dict) and "batch_wait" not in data:
            deadline = data.get("cycle_deadline")
            if isinstance(deadline, int | float) and 0 < deadline <= _BATCH_WAIT:
                return {**data, "batch_wait": deadline / 2}
        return data

    @model_validator(mode="after")
    def _batch_within_deadline(self) -> LimitSettings:
        if self.batch_wait >= self.cycle_deadline:
            # A batch still held when the deadline stops the cycle is not written.
            raise ValueError(
                f"limits.batch_wait ({self.batch_wait:g} s) must be shorter than "
                f"limits.cycle_deadline ({self.cycle_deadline:g} s)"
            )
        return self


class TargetBase(Model):
    """What every target has: an account name, a base URL, a poll interval, HTTP settings."""

    account: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    base_url: HttpUrl
    poll_interval: float = Field(60.0, ge=1, description="seconds between two cycles")
    vanish_after_misses: int = Field(
        1,
        ge=1,
        description=(
            "complete listings in a row that must miss a stored campaign before it "
            "vanishes (default 1); raise it for a provider whose listings flicker"
        ),
    )
    detail_refresh_interval: float = Field(
        86_400.0,
        ge=0,
        description=(
            "seconds between cycles that read every campaign's detail, changed or not "
            "(VOXO, Sarvam: what only a detail shows is picked up at least this often); "
            "0 never"
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
        return value if value == "campaign" else zone_name(value)


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
