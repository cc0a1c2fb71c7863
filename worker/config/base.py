"""What every part of the configuration shares: strict frozen models and secrets by reference."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    SecretStr,
)

from worker.config.secret_urls import printable_url, url_setting
from worker.domain.timestamps import load_zone
from worker.errors import TimestampError

__all__ = ["HttpUrl", "Model", "NatsUrl", "Secret", "zone_name"]


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


def _http_url(value: Any) -> str:
    return url_setting(value, ("http", "https"), _resolve_secret)


def _nats_url(value: Any) -> str:
    return url_setting(value, ("nats", "tls"), _resolve_secret)


# Inline: public, refused with a credential in it. By reference: a SecretUrl, dumped as its origin.
_SHOWN = PlainSerializer(printable_url, when_used="json")
HttpUrl = Annotated[str, PlainValidator(_http_url), _SHOWN]
NatsUrl = Annotated[str, PlainValidator(_nats_url), _SHOWN]


def zone_name(value: str) -> str:
    try:
        load_zone(value, "timezone")
    except TimestampError as exc:
        raise ValueError(exc.reason) from None
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
