"""The vox.ai campaign state machine behind the v2 and v3 simulators.

Deterministic from a seed and driven by an injectable clock: state is advanced
lazily to ``clock.now()`` on every request, and every transition is stamped
with the exact instant it happened, not the instant it was noticed.

Lifecycle (docs/providers.md 1.5; the [I] choices are this simulator's, listed in 1.7):

* ``draft`` → ``pending`` at ``scheduled_at``;
* ``pending`` → ``ongoing`` once the dispatcher starts (``dispatch_delay`` later)
  and the call window is open;
* ``ongoing`` → ``paused`` with ``paused_by=system`` and ``paused_at`` at the
  instant the call window closes;
* ``paused`` (system) → ``ongoing`` when the window reopens, if ``auto_resume``;
  ``paused_at``/``paused_by`` are cleared, as the docs say they are null unless paused;
* ``ongoing`` → ``success`` or ``fail`` (``fail`` when no call succeeded) when
  the tasks run out, with ``finished_at``;
* ``/pause`` (user), ``/resume`` and ``/cancel`` from the API; cancel sets
  ``finished_at`` (undocumented; chosen so the finish time is known).

Counters advance while ongoing inside the window: ``concurrency`` lines each
finish one call per ``seconds_per_call``; each call's outcome is a hash of the
seed, the campaign id and the call number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from worker.simulators.base import Fleet, call_succeeds
from worker.simulators.clock import Clock
from worker.simulators.wire.hours import WeeklyHours, is_open, next_change

__all__ = ["IllegalTransition", "VoxCampaign", "VoxEngine"]

TERMINAL = frozenset({"success", "fail", "canceled"})
EDITABLE = frozenset({"draft", "pending", "paused"})
_FAR = timedelta(days=3650)


class IllegalTransition(Exception):
    """The requested action is not allowed in the campaign's current status."""


@dataclass
class VoxCampaign:
    """One simulated vox campaign (mutable simulator state, not a domain value)."""

    id: str
    name: str
    created_at: datetime
    total_calls: int
    status: str = "draft"
    scheduled_at: datetime | None = None
    concurrency: int = 5
    agent_id: str = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    agent_version: str | int = "current"
    from_number: str = "0212345678"
    presentation_number: str | None = None
    organization_id: str = "550e8400-e29b-41d4-a716-446655440001"
    call_window: WeeklyHours | None = None
    seconds_per_call: float = 120.0
    success_percent: int = 80
    completed_calls: int = 0
    failed_calls: int = 0
    paused_at: datetime | None = None
    paused_by: str | None = None
    finished_at: datetime | None = None
    dial_seconds: float = 0.0
    pending_since: datetime | None = None
    advanced_to: datetime | None = None
    transitions: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def dialed(self) -> int:
        """Calls finished so far, successful or not."""
        return self.completed_calls + self.failed_calls

    def window_open(self, at: datetime) -> bool:
        """Whether dialing is allowed at ``at`` (no window means always)."""
        return self.call_window is None or is_open(self.call_window, at)

    def active_concurrency(self, at: datetime) -> int:
        """Lines dialing right now."""
        if self.status != "ongoing" or not self.window_open(at):
            return 0
        return min(self.concurrency, self.total_calls - self.dialed)


class VoxEngine(Fleet[str, VoxCampaign]):
    """All campaigns of one simulated vox organization."""

    def __init__(
        self, clock: Clock, *, seed: int = 0, dispatch_delay: timedelta = timedelta(minutes=1)
    ):
        super().__init__(clock, seed=seed)
        self.dispatch_delay = dispatch_delay

    def _key(self, campaign: VoxCampaign) -> str:
        return campaign.id

    def _admit(self, campaign: VoxCampaign) -> None:
        # Created with no schedule: it waits to run at once (the v2 create sample's "pending").
        if campaign.scheduled_at is None and campaign.status == "draft":
            campaign.status, campaign.pending_since = "pending", campaign.created_at

    def next_id(self) -> str:
        """A fresh numeric-string id, as vox's look."""
        with self._lock:
            return str(100_000 + len(self._campaigns) + 1)

    def campaigns(self) -> list[VoxCampaign]:
        """Every campaign, advanced to now, newest first (vox's default desc order)."""
        with self._lock:
            self.advance()
            return sorted(
                self._campaigns.values(), key=lambda c: (c.created_at, c.id), reverse=True
            )

    def pause(self, campaign: VoxCampaign) -> None:
        """User pause: only from ``ongoing``."""
        self._require(campaign, {"ongoing"}, "pause")
        now = self.clock.now()
        self._set(campaign, now, "paused")
        campaign.paused_at, campaign.paused_by = now, "user"

    def resume(self, campaign: VoxCampaign) -> None:
        """Resume a paused campaign (user or system pause)."""
        self._require(campaign, {"paused"}, "resume")
        self._set(campaign, self.clock.now(), "ongoing")
        campaign.paused_at = campaign.paused_by = None

    def cancel(self, campaign: VoxCampaign) -> None:
        """Cancel from any non-terminal status; the waiting tasks are dropped."""
        self._require(campaign, {"draft", "pending", "ongoing", "paused"}, "cancel")
        now = self.clock.now()
        self._set(campaign, now, "canceled")
        campaign.finished_at = now

    def _require(self, campaign: VoxCampaign, allowed: Iterable[str], action: str) -> None:
        self._advance(campaign, self.clock.now())
        if campaign.status not in allowed:
            raise IllegalTransition(f"cannot {action} a campaign in status {campaign.status!r}")

    def _set(self, campaign: VoxCampaign, at: datetime, status: str) -> None:
        campaign.status = status
        campaign.transitions.append((at, status))
        if status == "pending":
            campaign.pending_since = at

    def _advance(self, c: VoxCampaign, now: datetime) -> None:
        t = c.advanced_to or c.created_at
        while t < now and c.status not in TERMINAL:
            if c.status == "draft":
                if c.scheduled_at is None or c.scheduled_at > now:
                    break
                t = max(t, c.scheduled_at)
                self._set(c, t, "pending")
            elif c.status == "pending":
                start = max(t, (c.pending_since or t) + self.dispatch_delay)
                if not c.window_open(start):
                    start = self._next_change(c, start) or now + _FAR
                if start > now:
                    break
                t = start
                self._set(c, t, "ongoing")
            elif c.status == "ongoing":
                t = self._dial(c, t, now)
            elif c.status == "paused" and c.paused_by == "system" and c.call_window is not None:
                if not c.call_window.auto_resume:
                    break
                reopen = t if c.window_open(t) else self._next_change(c, t)
                if reopen is None or reopen > now:
                    break
                t = reopen
                self._set(c, t, "ongoing")
                c.paused_at = c.paused_by = None
            else:
                break
        # Every transition above happened at or before now; nothing else can until later.
        c.advanced_to = max(now, c.advanced_to or now)

    def _next_change(self, c: VoxCampaign, after: datetime) -> datetime | None:
        return None if c.call_window is None else next_change(c.call_window, after)

    def _dial(self, c: VoxCampaign, t: datetime, now: datetime) -> datetime:
        """Dial from ``t`` until the window closes, the tasks run out, or ``now``."""
        if not c.window_open(t):
            self._set(c, t, "paused")
            c.paused_at, c.paused_by = t, "system"
            return t
        per_second = c.concurrency / c.seconds_per_call
        finish = t + timedelta(seconds=(c.total_calls / per_second) - c.dial_seconds)
        close = self._next_change(c, t) or now + _FAR
        until = min(finish, close, now)
        c.dial_seconds += (until - t).total_seconds()
        self._record_calls(c, min(c.total_calls, int(c.dial_seconds * per_second + 1e-9)))
        if until == finish and finish <= now:
            self._record_calls(c, c.total_calls)
            self._set(c, finish, "success" if c.completed_calls > 0 else "fail")
            c.finished_at = finish
        elif until == close and close <= now:
            self._set(c, close, "paused")
            c.paused_at, c.paused_by = close, "system"
        return until

    def _record_calls(self, c: VoxCampaign, dialed: int) -> None:
        for number in range(c.dialed, dialed):
            if call_succeeds(self.seed, c.id, number, c.success_percent):
                c.completed_calls += 1
            else:
                c.failed_calls += 1
