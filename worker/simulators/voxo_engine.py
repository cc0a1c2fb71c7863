"""The VOXO campaign state machine and token store behind the VOXO simulator.

Deterministic from a seed and driven by an injectable clock: every campaign (a
:class:`~worker.simulators.voxo_requests.VoxoCampaign`) is advanced lazily to
``clock.now()`` on each request, and every dial and state change is stamped
with the exact instant it happened.

Model (docs/providers.md 3.5; [I] marks this simulator's choices where VOXO is silent, 3.7):

* ``state`` is ``READY`` or ``PAUSED`` and changes only through PATCH (or a
  scripted user PATCH, :meth:`VoxoEngine.plan`, at an exact instant).
* A ``READY`` campaign dials while it is *in hours*: inside
  ``[dateStart timeStart, dateEnd timeEnd)`` in its ``timezone`` and, when
  both ``callHoursStart``/``callHoursEnd`` are set, inside that daily window [I].
* Dialing [I]: the first dial happens the instant dialing becomes possible
  (start reached, hours reopen, PATCHed to READY), then one every
  ``callFrequency`` seconds. Each dial takes the next number whose
  ``disposition`` is still ``""`` and gives it an Asterisk-style
  ``DIALSTATUS`` drawn from a hash of the seed, the campaign id and the number's
  position; ``lastrun`` becomes the dial's instant. With every number dialed the
  dialing stops and ``lastrun`` stays put. A dial due at the very instant of a
  pause happens before it; a PATCH of the dates, hours, frequency or numbers
  restarts the rhythm from the PATCH instant.
* After ``dateEnd timeEnd`` the state stays ``READY`` (unknown per
  docs/providers.md 3.6; nothing in VOXO's docs says it changes) and nothing dials.
* Tokens expire ``token_lifetime`` after login on the simulator's clock
  (default one day, FeathersJS's default JWT lifetime) [I].
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from worker.simulators.base import Fleet, seeded_hash
from worker.simulators.clock import Clock
from worker.simulators.voxo_requests import STATES, VoxoCampaign
from worker.simulators.wire.hours import next_change

__all__ = ["DISPOSITIONS", "VoxoEngine", "VoxoUser"]

DISPOSITIONS = ("ANSWER", "ANSWER", "ANSWER", "NOANSWER", "BUSY", "CONGESTION")
# Attributes whose change restarts the dialing rhythm from the PATCH instant [I].
_RESCHEDULING = frozenset(
    {
        "date_start",
        "time_start",
        "date_end",
        "time_end",
        "timezone",
        "call_hours_start",
        "call_hours_end",
        "call_frequency",
        "numbers",
    }
)
_FLIP_SEARCH = 32  # boundaries to try before deciding the dialing never changes


@dataclass
class VoxoUser:
    """A simulated VOXO login; ``tenant_id`` scopes what it may list."""

    id: int
    email: str
    password: str
    tenant_id: int
    first_name: str = "Sim"
    last_name: str = "User"
    last_online: datetime | None = None


class VoxoEngine(Fleet[int, VoxoCampaign]):
    """All campaigns, users and tokens of one simulated VOXO server."""

    def __init__(
        self, clock: Clock, *, seed: int = 0, token_lifetime: timedelta = timedelta(hours=24)
    ) -> None:
        super().__init__(clock, seed=seed)
        self.token_lifetime = token_lifetime
        self.logins = 0
        self._users: dict[str, VoxoUser] = {}
        self._tokens: dict[str, tuple[VoxoUser, datetime]] = {}
        self._plan: list[tuple[datetime, int, int, str]] = []
        self._order = itertools.count()

    # --- users and tokens -------------------------------------------------

    def add_user(self, email: str, password: str, tenant_id: int) -> VoxoUser:
        """Register a login for ``tenant_id``."""
        with self._lock:
            user = VoxoUser(
                id=len(self._users) + 1, email=email, password=password, tenant_id=tenant_id
            )
            self._users[email] = user
            return user

    def login(self, email: Any, password: Any) -> tuple[str, VoxoUser] | None:
        """A fresh token for valid credentials, else None."""
        with self._lock:
            user = self._users.get(email) if isinstance(email, str) else None
            if user is None or user.password != password:
                return None
            self.logins += 1
            now = self.clock.now()
            user.last_online = now
            token = f"voxo-sim.{seeded_hash(self.seed, email, self.logins):016x}"
            self._tokens[token] = (user, now + self.token_lifetime)
            return token, user

    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (tests look for them where they must not be)."""
        with self._lock:
            return list(self._tokens)

    def authenticate(self, token: str) -> tuple[VoxoUser | None, str]:
        """The token's user, or None and why (FeathersJS's wording)."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None, "invalid token"
            user, expires_at = found
            if self.clock.now() >= expires_at:
                return None, "jwt expired"
            return user, ""

    # --- campaigns --------------------------------------------------------

    def next_id(self) -> int:
        """A fresh id past 32 bits, as VOXO's sample (11111111111) is."""
        with self._lock:
            return 11_111_111_111 + len(self._campaigns)

    def _key(self, campaign: VoxoCampaign) -> int:
        return campaign.id

    def campaigns(self, tenant_id: int) -> list[VoxoCampaign]:
        """The tenant's campaigns advanced to now, by id [I]."""
        with self._lock:
            self.advance()
            return sorted(
                (c for c in self._campaigns.values() if c.tenant_id == tenant_id),
                key=lambda c: c.id,
            )

    def plan(self, campaign_id: int, at: datetime, state: str) -> None:
        """Script a user's PATCH of ``state`` at the exact instant ``at`` (demo, tests)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        with self._lock:
            heapq.heappush(self._plan, (at, next(self._order), campaign_id, state))

    def update(self, campaign: VoxoCampaign, changes: dict[str, Any]) -> None:
        """Apply already-validated attribute changes now, after playing up to now."""
        with self._lock:
            self.advance()
            now = self.clock.now()
            for name, value in changes.items():
                if name == "state":
                    self._set_state(campaign, value, now)
                else:
                    setattr(campaign, name, value)
            if _RESCHEDULING.intersection(changes):
                campaign.next_dial_at = None  # the next dial is decided afresh, from now
            self._advance(campaign, now)

    def advance(self) -> None:
        """Play scripted PATCHes and every campaign's dialing forward to the clock's now."""
        with self._lock:
            self._before_settle(self.clock.now())
            super().advance()

    def _before_settle(self, now: datetime) -> None:
        # Scripted PATCHes change a campaign at an instant of their own: play them first.
        while self._plan and self._plan[0][0] <= now:
            at, _, campaign_id, state = heapq.heappop(self._plan)
            campaign = self._campaigns.get(campaign_id)
            if campaign is not None:
                self._advance(campaign, at)
                self._set_state(campaign, state, at)

    def _set_state(self, c: VoxoCampaign, state: str, at: datetime) -> None:
        if state != c.state:
            c.state = state
            c.transitions.append((at, state))
            c.next_dial_at = None
            c.advanced_to = max(at, c.advanced_to or at)

    def _advance(self, c: VoxoCampaign, now: datetime) -> None:
        t = c.advanced_to or now
        while c.state == "READY" and t <= now and c.waiting():
            if not c.in_hours(t):
                opens = self._next_flip(c, t)
                if opens is None or opens > now:
                    break
                t, c.next_dial_at = opens, opens
                continue
            closes = self._next_flip(c, t)
            if c.next_dial_at is None or c.next_dial_at < t:
                c.next_dial_at = t
            self._dial(c, now, closes)
            if closes is None or closes > now:
                break
            t, c.next_dial_at = closes, None
        c.advanced_to = max(now, c.advanced_to or now)

    def _next_flip(self, c: VoxoCampaign, after: datetime) -> datetime | None:
        """The first instant after ``after`` where :meth:`VoxoCampaign.in_hours` changes."""
        state, cursor, end, window = c.in_hours(after), after, c.ends_at, c.window
        if not state and after >= end:
            return None
        for _ in range(_FLIP_SEARCH):
            bounds = (c.starts_at, end, None if window is None else next_change(window, cursor))
            later = [b for b in bounds if b is not None and b > cursor]
            if not later:
                return None
            cursor = min(later)
            if c.in_hours(cursor) != state:
                return cursor
        return None

    def _dial(self, c: VoxoCampaign, now: datetime, closes: datetime | None) -> None:
        """Dial at ``next_dial_at`` and every ``callFrequency`` after, up to now, before close."""
        first, step = c.next_dial_at, timedelta(seconds=c.call_frequency)
        assert first is not None
        if first > now or (closes is not None and first >= closes):
            return
        count = (now - first) // step + 1
        if closes is not None:
            count = min(count, -((first - closes) // step))  # dials strictly before the close
        waiting = c.waiting()
        count = min(count, len(waiting))
        for position in waiting[:count]:
            c.numbers[position]["disposition"] = self._disposition(c, position)
        c.lastrun = first + (count - 1) * step
        c.next_dial_at = first + count * step

    def _disposition(self, c: VoxoCampaign, position: int) -> str:
        first_byte = seeded_hash(self.seed, c.id, position) >> 56
        return DISPOSITIONS[first_byte % len(DISPOSITIONS)]
