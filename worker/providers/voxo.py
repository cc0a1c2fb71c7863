"""VOXO: token login, one unpaged ``GET /v2/call-campaigns`` per tenant, a detail per campaign.

Facts and choices (PROVIDERS.md section 2; [I] marks this adapter's own reading):

* **Auth.** Email and password log in for a Bearer token, re-login once on a
  401: :class:`~worker.providers.voxo_auth.VoxoTokenAuth`.
* **Paging.** The list is a bare JSON array with no paging. The adapter reads
  it as it streams, element by element (:mod:`~worker.providers.json_array`), in
  pages of ``page_size`` records, so memory is bounded by a page. With
  ``fetch_detail`` it replaces a list item that is new or changed by its
  ``GET /v2/call-campaigns/{id}`` detail, concurrently (``ProviderHttp``
  bounds the requests in flight).
  ``numbers[].disposition`` moves only in the detail; a dial moves ``lastrun``
  in the list [I], so a campaign that dials is fetched again.
* **Detail fallbacks.** A detail that fails after retries, or answers 404 for
  a campaign the list still shows, costs that campaign alone: its stored state
  is kept this cycle (a new campaign is stored from its list item). An item
  whose ``id`` is not a positive integer is not fetched at all; it goes on as
  listed so :meth:`VoxoProvider.normalize` quarantines it.
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

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from worker.config import VoxoTarget
from worker.domain.campaign import Campaign, PausedBy, Status, TargetKey
from worker.domain.diff import StoredHead
from worker.domain.records import Record
from worker.domain.timestamps import (
    LocalTime,
    load_zone,
    parse_date_and_time,
    parse_hhmm,
    parse_local_datetime,
)
from worker.domain.windows import EVERY_DAY, CallWindow, WindowRange
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Detail, RawRecord
from worker.providers.base import HttpProvider, ProviderHttp
from worker.providers.json_array import array_pages
from worker.providers.paging import fetch_details
from worker.providers.voxo_auth import VoxoTokenAuth

__all__ = ["LIST_PATH", "VOXO_STATUS", "VoxoProvider"]

LIST_PATH = "/v2/call-campaigns"

# READY's entry is what it means inside its dates; before and after them the
# dates decide (see VoxoProvider.normalize). Only these two values are documented.
VOXO_STATUS = MappingProxyType({"READY": Status.RUNNING, "PAUSED": Status.PAUSED})
_DATE_DERIVED = frozenset({"READY"})
# The list item and what the detail and PATCH responses add (PROVIDERS.md 2.3).
VOXO_KEYS = frozenset(
    {
        "id", "tenantId", "name", "type", "dateStart", "dateEnd", "callerId", "callDelay",
        "state", "lastrun", "dialtimeout", "tech", "message", "timeStart", "timeEnd",
        "timezone", "callFrequency", "callHoursStart", "callHoursEnd", "recording",
        "numbers", "destinations", "enableVMDetect", "matchDestinations",
        "notMatchDestinations",
    }
)  # fmt: skip


class VoxoProvider(HttpProvider[VoxoTarget]):
    """Campaigns of one VOXO tenant (see the module docstring for every reading rule)."""

    name: ClassVar[str] = "voxo"
    id_field: ClassVar[str] = "id"
    enums: ClassVar[Mapping[str, frozenset[str]]] = MappingProxyType(
        {"state": frozenset(VOXO_STATUS)}
    )
    documented_keys: ClassVar[frozenset[str] | None] = VOXO_KEYS
    status_table: ClassVar[Mapping[str, Status]] = VOXO_STATUS

    def __init__(self, http: ProviderHttp, settings: VoxoTarget) -> None:
        super().__init__(http, settings)
        self._lastrun_zone: ZoneInfo | None = (
            None
            if settings.lastrun_timezone == "campaign"
            else load_zone(settings.lastrun_timezone, "lastrun_timezone")
        )

    @classmethod
    def auth(
        cls, settings: VoxoTarget, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """Token auth: log in with email and password, re-login once on a 401.

        Each access token joins ``secrets`` as it arrives.
        """
        return VoxoTokenAuth(
            base_url=settings.base_url,
            email=settings.email,
            password=settings.password,
            target=target,
            clock=clock,
            secrets=secrets,
        )

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``page_size`` list items from the tenant's one list response.

        An empty list is one empty page. Details come from :meth:`details`.
        """
        return self._pages()

    async def _pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        # The array is read as it streams: what is held is one page, not the tenant.
        async for page in array_pages(
            self.http,
            "GET",
            LIST_PATH,
            params={"tenantId": self.settings.tenant_id},
            page_size=self.settings.page_size,
        ):
            yield page

    @property
    def lists_less(self) -> bool:
        """The list omits what only the detail shows; read with ``fetch_detail``."""
        return self.settings.fetch_detail

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        """``GET /v2/call-campaigns/{id}`` in place of each list item (``fetch_detail``)."""
        if not self.settings.fetch_detail:
            return await super().details(items)
        return await fetch_details(self.http, items, path_of=_detail_path, merge=_detail_wins)

    def reads_clock(self, raw: RawRecord) -> bool:
        """READY is read against its dates at the poll time; every other state is not."""
        state = raw.get("state") if isinstance(raw, Mapping) else None
        return isinstance(state, str) and state in _DATE_DERIVED

    def status_again(self, head: StoredHead, observed_at: datetime) -> Status:
        """READY against the stored dates: an unchanged record has the same dates."""
        return _ready_status(head.scheduled_start_at, head.scheduled_end_at, observed_at)

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one list item or detail. Pure; raises NormalizationError."""
        r = Record(raw)
        campaign_id = r.integer("id", required=True, minimum=1)
        tenant_id = r.integer("tenantId", required=True)
        if tenant_id != self.settings.tenant_id:
            raise r.error("tenantId", f"not this target's tenant ({self.settings.tenant_id})")
        zone_name = r.text("timezone")
        zone = None if zone_name is None else load_zone(zone_name, r.path("timezone"))
        flags: list[str] = []
        start = _scheduled(r, zone, "dateStart", "timeStart", "scheduled_start_at", flags)
        end = _scheduled(r, zone, "dateEnd", "timeEnd", "scheduled_end_at", flags)
        state = r.text("state")
        status_raw = "" if state is None else state
        if status_raw in _DATE_DERIVED:
            status = _ready_status(start, end, observed_at)
        else:
            status = VOXO_STATUS.get(status_raw, Status.UNKNOWN)
        return Campaign(
            provider=self.name,
            account=self.settings.account,
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


def _detail_path(item: Any) -> str | None:
    campaign_id = item.get("id") if isinstance(item, Mapping) else None
    if isinstance(campaign_id, int) and not isinstance(campaign_id, bool) and campaign_id > 0:
        return f"{LIST_PATH}/{campaign_id}"
    return None


def _detail_wins(item: Any, detail: Any) -> Any:
    return detail


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
