"""What every part of the configuration shares: strict frozen models and secrets by reference."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr

from worker.config.urls import check_http_url
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


def _nats_url(value: str) -> str:
    return check_http_url(value, ("nats", "tls"))


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
NatsUrl = Annotated[str, AfterValidator(_nats_url)]


def zone_name(value: str) -> str:
    try:
        load_zone(value, "timezone")
    except TimestampError as exc:
        raise ValueError(exc.reason) from None
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
