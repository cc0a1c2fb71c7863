"""How VOXO's call-campaign records read (docs/providers.md 3.4-3.6; [I] marks our reading).

* **Identity.** ``id`` is an int64 (the sample's 11111111111 is past 32 bits):
  ``campaign_id`` is its decimal string. A record whose integer ``tenantId`` is
  not the target's is rejected: the list is asked per tenant, so another
  tenant's record means the account is misconfigured.
* **Times.** ``dateStart``+``timeStart`` and ``dateEnd``+``timeEnd`` are wall
  times in the campaign's ``timezone`` (DST gaps and folds are resolved by
  ``timestamps`` and noted in ``time_flags``). A null time with a date reads as
  ``00:00``, the convention of VOXO's only sample, and is flagged. ``lastrun``
  is naive; it is read in ``lastrun_timezone`` (default: the campaign's zone).
* **Daily window [I].** ``callHoursStart``/``callHoursEnd`` are the daily window,
  every day, in the campaign's zone. ``timeStart``/``timeEnd`` are *not* a daily
  window: they only complete the start and end instants (with the sample's
  ``00:00``-``00:00`` they could not be one). With no call hours there is no
  window; a half-set window runs from or to the day's edge and is flagged.
* **Status.** ``PAUSED`` is a user pause (only a user can PATCH ``state``, and
  VOXO has no system pause; no ``paused_at`` either, so a pause is dated by the
  poll that saw it). ``READY`` is derived from the dates and the poll
  time: scheduled before the start, running in ``[start, end)``, completed at
  or after the end (``status_derived``). Any other ``state`` is kept raw with
  status ``unknown``; a null ``state`` is ``unknown`` with ``status_raw ''``.
* **Counters.** None: ``numbers[].disposition`` has no documented vocabulary,
  so no count is derived from it; the dispositions stay in the raw payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from worker.domain.campaign import Campaign, PausedBy, Status
from worker.domain.dialects.base import BaseDialect, RawRecord
from worker.domain.diff import StoredHead
from worker.domain.records import MISSING, Record
from worker.domain.timestamps import (
    LocalTime,
    load_zone,
    parse_date_and_time,
    parse_hhmm,
    parse_local_datetime,
)
from worker.domain.windows import EVERY_DAY, CallWindow, WindowRange

__all__ = ["CAMPAIGN_ZONE", "VOXO_KEYS", "VOXO_STATUS", "VoxoDialect"]

# READY's entry is what it means inside its dates; before and after them the
# dates decide (see VoxoDialect.normalize). Only these two values are documented.
VOXO_STATUS: Mapping[str, Status] = MappingProxyType(
    {"READY": Status.RUNNING, "PAUSED": Status.PAUSED}
)
_DATE_DERIVED = frozenset({"READY"})
# The list item and what the detail and PATCH responses add (docs/providers.md 3.3 and 3.4).
VOXO_KEYS = frozenset(
    {
        "id", "tenantId", "name", "type", "dateStart", "dateEnd", "callerId", "callDelay",
        "state", "lastrun", "dialtimeout", "tech", "message", "timeStart", "timeEnd",
        "timezone", "callFrequency", "callHoursStart", "callHoursEnd", "recording",
        "numbers", "destinations", "enableVMDetect", "matchDestinations",
        "notMatchDestinations",
    }
)  # fmt: skip
CAMPAIGN_ZONE = "campaign"  # the lastrun_timezone that means "the campaign's own timezone"


@dataclass(frozen=True, slots=True, kw_only=True)
class VoxoDialect(BaseDialect):
    """Campaigns of one VOXO tenant (see the module docstring for every reading rule).

    Attributes:
        account: the target's account name, stamped on every Campaign.
        tenant_id: the tenant the list is asked for; a record of another is rejected.
        lastrun_timezone: the zone naive ``lastrun`` values are read in, or
            ``"campaign"`` for the campaign's own ``timezone``.
        fetch_detail: the source replaces list items by their details, which show
            more (``numbers``, ``destinations``).

    Raises:
        TimestampError: on construction, for a ``lastrun_timezone`` that is no IANA zone.
    """

    account: str
    tenant_id: int
    lastrun_timezone: str = CAMPAIGN_ZONE
    fetch_detail: bool = True
    _lastrun_zone: ZoneInfo | None = field(init=False, repr=False, compare=False)

    name: ClassVar[str] = "voxo"
    id_field: ClassVar[str] = "id"
    status_table: ClassVar[Mapping[str, Status]] = VOXO_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = MappingProxyType(
        {"state": frozenset(VOXO_STATUS)}
    )
    documented_keys: ClassVar[frozenset[str] | None] = VOXO_KEYS

    def __post_init__(self) -> None:
        zone = (
            None
            if self.lastrun_timezone == CAMPAIGN_ZONE
            else load_zone(self.lastrun_timezone, "lastrun_timezone")
        )
        object.__setattr__(self, "_lastrun_zone", zone)  # frozen: set once, here

    @property
    def lists_less(self) -> bool:
        """The list omits what only the detail shows; it is read with ``fetch_detail``."""
        return self.fetch_detail

    def reads_clock(self, raw: RawRecord) -> bool:
        """READY is read against its dates at the poll time; every other state is not."""
        state = raw.get("state") if isinstance(raw, Mapping) else None
        return isinstance(state, str) and state in _DATE_DERIVED

    def status_again(self, head: StoredHead, observed_at: datetime) -> Status:
        """READY against the stored dates: an unchanged record has the same dates."""
        return _ready_status(head.scheduled_start_at, head.scheduled_end_at, observed_at)

    def status_now(self, raw: RawRecord, observed_at: datetime) -> Status:
        """READY against the record's own dates, read as ``normalize`` reads them.

        Asked of every listed READY record in every cycle, and a fleet shares few
        schedules: the dates of one made of plain strings are read once
        (:func:`_schedule`)."""
        if isinstance(raw, Mapping):
            get = raw.get
            fields = (  # _SCHEDULE_FIELDS, spelled out: this runs per record
                get("dateStart", MISSING),
                get("timeStart", MISSING),
                get("dateEnd", MISSING),
                get("timeEnd", MISSING),
                get("timezone", MISSING),
            )
            try:
                start, end = _schedule(fields)
            except TypeError:  # a list or an object where a string belongs: no key
                pass
            else:
                return _ready_status(start, end, observed_at)
        r = Record(raw)
        start, end = _dates(r, _zone(r)[1], [])
        return _ready_status(start, end, observed_at)

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one list item or detail. Pure; raises NormalizationError."""
        r = Record(raw)
        campaign_id = r.integer("id", required=True, minimum=1)
        tenant_id = r.integer("tenantId", required=True)
        if tenant_id != self.tenant_id:
            raise r.error("tenantId", f"not this target's tenant ({self.tenant_id})")
        zone_name, zone = _zone(r)
        flags: list[str] = []
        start, end = _dates(r, zone, flags)
        state = r.text("state")
        status_raw = "" if state is None else state
        if status_raw in _DATE_DERIVED:
            status = _ready_status(start, end, observed_at)
        else:
            status = VOXO_STATUS.get(status_raw, Status.UNKNOWN)
        return Campaign(
            provider=self.name,
            account=self.account,
            campaign_id=str(campaign_id),
            name=r.text("name"),
            status=status,
            status_raw=status_raw,
            status_derived=status_raw in _DATE_DERIVED,
            paused_by=PausedBy.USER if status_raw == "PAUSED" else None,
            scheduled_start_at=start,
            scheduled_end_at=end,
            last_run_at=self._last_run(r, zone, flags),
            call_window=_call_window(r, zone_name, flags),
            time_flags=tuple(flags),
            raw=raw,
        )

    def _last_run(self, r: Record, zone: ZoneInfo | None, flags: list[str]) -> datetime | None:
        value = r.raw("lastrun")
        if not r.has("lastrun") or value is None:
            return None
        lastrun_zone = self._lastrun_zone or _require_zone(r, zone, "lastrun")
        return _flagged(
            parse_local_datetime(value, lastrun_zone, r.path("lastrun")), "last_run_at", flags
        )


def _require_zone(r: Record, zone: ZoneInfo | None, needed_by: str) -> ZoneInfo:
    if zone is None:
        raise r.error("timezone", f"required to read {needed_by}")
    return zone


def _flagged(local: LocalTime, name: str, flags: list[str]) -> datetime:
    if local.adjustment is not None:
        flags.append(f"{name}: {local.adjustment.value}")
    return local.instant


def _scheduled(
    r: Record,
    zone: ZoneInfo | None,
    date_field: str,
    time_field: str,
    name: str,
    flags: list[str],
) -> datetime | None:
    day = r.text(date_field)
    if day is None:
        return None
    hhmm = r.text(time_field)
    if hhmm is None:
        flags.append(f"{name}: {time_field} null, 00:00 assumed")
        hhmm = "00:00"
    local = parse_date_and_time(
        day,
        hhmm,
        _require_zone(r, zone, date_field),
        date_field=r.path(date_field),
        time_field=r.path(time_field),
    )
    return _flagged(local, name, flags)


def _zone(r: Record) -> tuple[str | None, ZoneInfo | None]:
    zone_name = r.text("timezone")
    return zone_name, None if zone_name is None else load_zone(zone_name, r.path("timezone"))


def _dates(
    r: Record, zone: ZoneInfo | None, flags: list[str]
) -> tuple[datetime | None, datetime | None]:
    """The scheduled start and end in ``zone``; notes on reading them go to ``flags``."""
    start = _scheduled(r, zone, "dateStart", "timeStart", "scheduled_start_at", flags)
    end = _scheduled(r, zone, "dateEnd", "timeEnd", "scheduled_end_at", flags)
    return start, end


_SCHEDULE_FIELDS = ("dateStart", "timeStart", "dateEnd", "timeEnd", "timezone")


@lru_cache(maxsize=4096)
def _schedule(fields: tuple[Any, ...]) -> tuple[datetime | None, datetime | None]:
    """The scheduled start and end of a record whose ``_SCHEDULE_FIELDS`` hold
    ``fields`` (``MISSING`` where absent). Raises as ``_dates`` does, and nothing is
    cached then: a cached key holds strings wherever ``_dates`` read a field, so a
    key equal to it without being it (``1`` and ``True``) differs only where the
    reading never looked."""
    r = Record({k: v for k, v in zip(_SCHEDULE_FIELDS, fields, strict=True) if v is not MISSING})
    return _dates(r, _zone(r)[1], [])


def _ready_status(start: datetime | None, end: datetime | None, observed_at: datetime) -> Status:
    """READY read against its dates at the poll time: an open bound never excludes."""
    if end is not None and observed_at >= end:
        return Status.COMPLETED
    if start is not None and observed_at < start:
        return Status.SCHEDULED
    return Status.RUNNING


def _call_window(r: Record, zone_name: str | None, flags: list[str]) -> CallWindow | None:
    opens, closes = r.text("callHoursStart"), r.text("callHoursEnd")
    if opens is None and closes is None:
        return None
    if zone_name is None:
        raise r.error("timezone", "required to read callHoursStart/callHoursEnd")
    start_min, end_min = 0, 24 * 60
    if opens is None:
        flags.append("call_window: callHoursStart null, 00:00 assumed")
    else:
        start_min = parse_hhmm(opens, r.path("callHoursStart"))
    if closes is None:
        flags.append("call_window: callHoursEnd null, 24:00 assumed")
    else:
        end_min = parse_hhmm(closes, r.path("callHoursEnd"))
    return CallWindow(
        timezone=zone_name,
        ranges=(WindowRange(days=EVERY_DAY, start_min=start_min, end_min=end_min),),
        auto_resume=None,
    )
