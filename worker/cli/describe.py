"""One human line per change event, as ``demo`` and ``events tail`` print them."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from worker.domain.events import ChangeEvent

__all__ = ["describe"]


def describe(event: ChangeEvent) -> str:
    """One human line per event: simulated time, type, campaign and what changed."""
    data = event.data
    details = {
        "discovered": lambda: f"{data['campaign']['name']!r} status={data['campaign']['status']}",
        "status_changed": lambda: (
            f"{data['before']['status']} -> {data['after']['status']}"
            f" (provider: {data['after']['status_raw']})"
        ),
        "paused": lambda: (
            f"paused_by={data['paused_by']}" + (" (inferred)" if data["inferred"] else "")
        ),
        "resumed": lambda: f"was paused_by={data['paused_by']}, now {data['status_raw']}",
        "finished": lambda: f"outcome={data['outcome']}",
        "progress": lambda: _progress(data["after"]),
        "updated": lambda: "changed " + ", ".join(sorted(data["changes"]) or data["raw_changed"]),
        "vanished": lambda: f"gone from the listing (was {data['status']})",
        "reappeared": lambda: f"listed again, status={data['campaign']['status']}",
    }.get(event.kind.value, lambda: "")()
    source = f"{event.key.provider}/{event.key.account}"
    when = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    campaign = f"#{event.key.campaign_id}"
    return f"{when:<24} {event.type:<24} {source:<14} {campaign:<13} {details}"


def _progress(after: dict[str, Any]) -> str:
    if after.get("total_calls") is not None:
        ok, failed, total = after["completed_calls"], after["failed_calls"], after["total_calls"]
        return f"{ok} ok + {failed} failed of {total}"
    return f"last run {after.get('last_run_at')}"
