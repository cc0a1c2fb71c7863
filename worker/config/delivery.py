"""Delivery settings: webhook sinks and the NATS JetStream relay."""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from worker.config.base import HttpUrl, Model, NatsUrl, Secret

__all__ = ["NatsSettings", "WebhookSettings"]


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


class WebhookSettings(Model):
    """One webhook sink: signed POSTs of the events it asks for, retried, in campaign order."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: HttpUrl
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


class NatsSettings(Model):
    """The NATS JetStream relay: every event published once, on subjects to filter by."""

    url: NatsUrl = "nats://127.0.0.1:4222"
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


class HealthSettings(Model):
    """When ``/healthz`` calls the process stuck, and how often backlog metrics refresh."""

    stall_seconds: float = Field(
        30.0, gt=1, description="the event loop not ticking this long fails /healthz"
    )
    deadline_slack: float = Field(
        60.0,
        ge=0,
        description="a cycle still running this long after its limits.cycle_deadline fails "
        "/healthz",
    )
    backlog_seconds: float = Field(
        15.0, gt=0, description="seconds between two reads of the outbox backlog for /metrics"
    )
