"""The Sarvam campaign state machine behind the scheduling-API simulator.

Deterministic from a seed and driven by an injectable clock: state is advanced
lazily to ``clock.now()`` on every request, and every transition is stamped
with the exact instant it happened.

Documented lifecycle (docs/providers.md 4.5; the choices below are summed up
in 4.7): created ``scheduled``; starts at ``start_timestamp``; ``pause`` from
scheduled/active; ``resume`` from paused lands in ``scheduled`` ("activates
automatically if within the campaign window"); ``cancel`` from
scheduled/active/paused; ``ended`` when ``end_timestamp`` passes or (UI guide)
when every contact has been dialed; ``ended`` and ``cancelled`` are terminal.
Choices where the docs are silent, each an option of :class:`SarvamOptions` where that was cheap:

* ``scheduled`` → ``active`` at ``start_timestamp`` when ``allowed_schedule``
  is open then, else at the instant the window next opens.
* ``active`` stays ``active`` while the daily window is closed and simply
  stops dialing (``window_closes_to_scheduled=False``, the default, because
  the UI lifecycle has no active → scheduled edge); with the option set it
  flips to ``scheduled`` at the close and back to ``active`` at the reopening.
* ``resume`` lands in ``scheduled`` (the API page; ``resume_to="active"``
  follows the UI guide instead, unless ``start_timestamp`` is still ahead) and
  the scheduler picks it up ``resume_pickup`` later (default one minute) if the
  window is open, else when it opens.
* ``end_timestamp`` also ends a ``paused`` campaign, at that instant.
* Contacts: each campaign has a contact count dialed at ``contacts_per_hour``
  while ``active`` inside its window; both default to values hashed from the
  seed and the campaign id. It ends the instant the last one is dialed.
* ``updated_at`` moves on every transition, the system's included
  (``stamp_system_transitions``; whether Sarvam does so is unknown), and
  ``updated_by`` only on user actions.
* At most ``max_concurrent`` (10) campaigns may be ``scheduled`` or
  ``active``; checked on create and on resume (the docs say "create … and
  pause"; a pause cannot raise the count, so resume is read).
* Planned user actions (:meth:`SarvamEngine.plan`) run at their exact instants;
  the demo fleet uses them, since Sarvam never pauses a campaign by itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from worker.simulators.base import Fleet, seeded_hash
from worker.simulators.clock import Clock
from worker.simulators.wire.hours import EVERY_DAY, Hours, Span, WeeklyHours, is_open, next_change

__all__ = [
    "ACTIONS",
    "CONCURRENT",
    "DEFAULT_TIMEZONE",
    "EDITABLE",
    "STATUSES",
    "SYSTEM_USER",
    "TERMINAL",
    "IllegalTransition",
    "QuotaExceeded",
    "SarvamCampaign",
    "SarvamEngine",
    "SarvamOptions",
    "all_day",
]

STATUSES = ("ended", "active", "paused", "scheduled", "cancelled")  # the docs' enum order
TERMINAL = frozenset({"ended", "cancelled"})
EDITABLE = frozenset({"scheduled", "paused"})
CONCURRENT = frozenset({"scheduled", "active"})
ACTIONS = ("pause", "resume", "cancel")
SYSTEM_USER = "user@company.com"  # the docs' sample creator
DEFAULT_TIMEZONE = "Asia/Kolkata"  # documented default of allowed_schedule.timezone
_PLANNED = "<planned action>"


class IllegalTransition(Exception):
    """The action is not allowed from the campaign's current status."""


class QuotaExceeded(Exception):
    """Too many campaigns would be scheduled or active at once."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SarvamOptions:
    """Behaviour the Sarvam docs leave open (see the module docstring)."""

    resume_to: Literal["scheduled", "active"] = "scheduled"
    resume_pickup: timedelta = timedelta(minutes=1)
    window_closes_to_scheduled: bool = False
    stamp_system_transitions: bool = True
    max_concurrent: int = 10


@dataclass
class SarvamCampaign:
    """One simulated Sarvam campaign (mutable simulator state, not a domain value)."""

    campaign_id: str
    name: str
    created_at: datetime
    start_timestamp: datetime
    end_timestamp: datetime
    allowed_schedule: WeeklyHours
    app_config: dict[str, Any]
    contacts: int
    contacts_per_hour: int
    description: str | None = None
    created_by: str = SYSTEM_USER
    updated_by: str | None = None
    status: str = "scheduled"
    updated_at: datetime | None = None
    dial_seconds: float = 0.0
    ready_at: datetime | None = None
    advanced_to: datetime | None = None
    planned: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, action, user)
    transitions: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def dialed(self) -> int:
        """Contacts dialed so far."""
        return min(self.contacts, int(self.dial_seconds * self.contacts_per_hour / 3600 + 1e-9))

    def open_at(self, at: datetime) -> bool:
        """Whether the daily window allows dialing at ``at``."""
        return is_open(self.allowed_schedule, at)


class SarvamEngine(Fleet[str, SarvamCampaign]):
    """All campaigns of one simulated Sarvam workspace."""

    def __init__(self, clock: Clock, *, seed: int = 0, options: SarvamOptions | None = None):
        super().__init__(clock, seed=seed)
        self.options = options or SarvamOptions()
        self._issued = 0

    def _key(self, campaign: SarvamCampaign) -> str:
        return campaign.campaign_id

    def _admit(self, campaign: SarvamCampaign) -> None:
        campaign.updated_at = campaign.updated_at or campaign.created_at

    def next_id(self) -> str:
        """A fresh id shaped like the docs' ``camp-a1b2c3d4``, derived from the seed."""
        with self._lock:
            while True:  # eight hex digits can collide in a large fleet; skip taken ones
                self._issued += 1
                campaign_id = f"camp-{seeded_hash(self.seed, 'id', self._issued) % 16**8:08x}"
                if campaign_id not in self._campaigns:
                    return campaign_id

    def default_contacts(self, campaign_id: str) -> tuple[int, int]:
        """(contacts, contacts_per_hour) for a campaign that did not set them."""
        contacts = 200 + seeded_hash(self.seed, "contacts", campaign_id) % 1800
        per_hour = 120 + seeded_hash(self.seed, "rate", campaign_id) % 480
        return contacts, per_hour

    def plan(self, campaign_id: str, at: datetime, action: str, user: str = SYSTEM_USER) -> None:
        """Run a user ``action`` on a campaign at the instant ``at`` (dropped if illegal then)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        with self._lock:
            campaign = self._campaigns[campaign_id]
            campaign.planned = sorted([*campaign.planned, (at, action, user)])

    def campaigns(self) -> list[SarvamCampaign]:
        """Every campaign, advanced to now, in insertion order."""
        with self._lock:
            self.advance()
            return list(self._campaigns.values())

    def check_quota(self) -> None:
        """Raise QuotaExceeded when one more scheduled/active campaign is not allowed."""
        if sum(c.status in CONCURRENT for c in self.campaigns()) >= self.options.max_concurrent:
            raise QuotaExceeded(
                f"Concurrent campaign limit reached: at most {self.options.max_concurrent} "
                "campaigns may be scheduled or active"
            )

    def act(self, campaign: SarvamCampaign, action: str, user: str) -> None:
        """Apply ``pause``, ``resume`` or ``cancel`` now, as ``user``."""
        with self._lock:
            now = self.clock.now()
            self._advance(campaign, now)
            if action == "resume" and campaign.status == "paused":
                self.check_quota()
            self._act(campaign, action, now, user)

    def touch(self, campaign: SarvamCampaign, user: str) -> None:
        """Record a user edit: ``updated_at`` and ``updated_by`` move."""
        campaign.updated_at, campaign.updated_by = self.clock.now(), user

    def _act(self, c: SarvamCampaign, action: str, at: datetime, user: str) -> None:
        allowed = {
            "pause": {"scheduled", "active"},
            "resume": {"paused"},
            "cancel": {"scheduled", "active", "paused"},
        }[action]
        if c.status not in allowed:
            raise IllegalTransition(
                f"Cannot {action} a campaign in status '{c.status}'; "
                f"allowed from: {', '.join(sorted(allowed))}"
            )
        if action == "pause":
            status = "paused"
        elif action == "cancel":
            status = "cancelled"
        elif self.options.resume_to == "active" and c.start_timestamp <= at:
            status = "active"
        else:
            status, c.ready_at = "scheduled", at + self.options.resume_pickup
        self._set(c, at, status, user=user)

    def _set(self, c: SarvamCampaign, at: datetime, status: str, *, user: str | None) -> None:
        c.status = status
        c.transitions.append((at, status))
        if user is not None:
            c.updated_at, c.updated_by = at, user
        elif self.options.stamp_system_transitions:
            c.updated_at = at

    def _advance(self, c: SarvamCampaign, now: datetime) -> None:
        t = c.advanced_to or c.created_at
        while t < now and c.status not in TERMINAL:
            at, change = self._next(c, t)
            stop = min(at, now)
            if c.status == "active" and c.open_at(t):
                c.dial_seconds += (stop - t).total_seconds()
            t = stop
            if at > now or change is None:
                continue
            if change == _PLANNED:
                _, action, user = c.planned.pop(0)
                # A planned action that no longer applies (the campaign moved on) is dropped.
                with contextlib.suppress(IllegalTransition):
                    self._act(c, action, at, user)
            else:
                self._set(c, at, change, user=None)
        c.advanced_to = max(now, c.advanced_to or now)

    def _next(self, c: SarvamCampaign, t: datetime) -> tuple[datetime, str | None]:
        """The next instant at or after ``t`` where something may happen, and the new status.

        ``None`` means only the dialing changes (a window boundary); ties go to
        the end first, then planned actions, then the scheduler.
        """
        window = c.allowed_schedule
        candidates: list[tuple[datetime, int, str | None]] = [(max(t, c.end_timestamp), 0, "ended")]
        if c.planned:
            candidates.append((max(t, c.planned[0][0]), 1, _PLANNED))
        if c.status == "scheduled":
            ready = max(t, c.start_timestamp, c.ready_at or t)
            start = ready if c.open_at(ready) else next_change(window, ready)
            if start is not None:
                candidates.append((start, 2, "active"))
        elif c.status == "active" and c.open_at(t):
            left = c.contacts * 3600 / c.contacts_per_hour - c.dial_seconds
            candidates.append((t + timedelta(seconds=max(0.0, left)), 0, "ended"))
            close = next_change(window, t)
            if close is not None:
                flip = "scheduled" if self.options.window_closes_to_scheduled else None
                candidates.append((close, 3, flip))
        elif c.status == "active":
            if self.options.window_closes_to_scheduled:
                candidates.append((t, 3, "scheduled"))
            elif (reopen := next_change(window, t)) is not None:
                candidates.append((reopen, 3, None))
        at, _, change = min(candidates, key=lambda o: (o[0], o[1]))
        return at, change


def all_day(zone: str = DEFAULT_TIMEZONE) -> Hours:
    """A window open around the clock on every day (equal start and end)."""
    return Hours(timezone=zone, ranges=(Span(days=EVERY_DAY, start_min=0, end_min=0),))
