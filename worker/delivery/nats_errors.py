"""nats-py's errors translated at the boundary: one BrokerUnavailable, secrets blanked."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator

import nats.errors
import nats.js.errors

from worker.config import NatsSettings
from worker.errors import BrokerUnavailable
from worker.observability.redaction import redact

__all__ = ["broker_errors", "describe"]


def describe(exc: BaseException, secrets: Collection[str]) -> str:
    """One line for a client error: an OS error by its name, else nats-py's first line."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    text = str(exc).removeprefix("nats: ").strip() or type(exc).__name__
    return str(redact(text.splitlines()[0], secrets))


@contextlib.contextmanager
def broker_errors(settings: NatsSettings, secrets: Collection[str], action: str) -> Iterator[None]:
    """Translate nats-py errors into BrokerUnavailable, naming ``action``."""
    try:
        yield
    except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError) as exc:
        raise BrokerUnavailable(
            f"{action} failed: no JetStream stream answered (is JetStream enabled, and "
            f"does stream {settings.stream} take {settings.subject_prefix}.>?)"
        ) from exc
    except nats.js.errors.APIError as exc:
        raise BrokerUnavailable(
            f"{action} failed: JetStream refused it: "
            f"{redact(exc.description or '', secrets)} (code {exc.err_code})"
        ) from exc
    except TimeoutError as exc:  # nats-py's TimeoutError is one too
        raise BrokerUnavailable(
            f"{action} failed: no answer within {settings.publish_timeout:g} s"
        ) from exc
    except (nats.errors.Error, OSError) as exc:
        raise BrokerUnavailable(f"{action} failed: {describe(exc, secrets)}") from exc
