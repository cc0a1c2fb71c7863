"""Webhooks: each sink gets the events it asks for as signed POSTs, at least once, in
each campaign's order, retried on a schedule, with dead letters kept.

Signing follows the Standard Webhooks spec: ``webhook-id`` is the event id
(the same on every retry, so a receiver deduplicates by it), ``webhook-timestamp``
the attempt's Unix time, and ``webhook-signature`` is ``v1,`` and the base64
HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` under the secret's bytes (the
secret is base64, optionally after ``whsec_``).

Two loops per sink:

* the *enqueuer* is the durable consumer ``webhook:<name>`` of the outbox (one
  replica at a time): it writes one delivery row per event, then acknowledges;
* the *sender* (every replica) claims due deliveries (the oldest pending one of
  each campaign, so a slow campaign holds back only itself) and sends them.

A 2xx is a delivery. Anything else is a failure, retried after 0 s, 5 s, 5 min,
30 min, 2 h, 5 h, 10 h and 10 h (each ±10 %, never sooner than a ``Retry-After``);
after the last one the delivery is a dead letter. A success shows that the
receiver answers again: the sink's deliveries that failed before it are tried
at once (each campaign still in order) rather than at their next slot; such an
early try that fails keeps the slot and uses none of the retries. A failure
with a Retry-After is never brought forward. Redirects are not followed
(a 3xx is a failure), and each attempt has a total deadline. A 410 disables
the sink at once, as does failing without a success for ``disable_after``
(default 5 days); a disabled sink's deliveries are dead letters until
``campaign-sync events redeliver`` enables it again.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

import anyio
import httpx

from worker.clock import SystemClock
from worker.config import WebhookSettings
from worker.delivery.signing import RETRY_SCHEDULE, next_attempt, sign, signing_key
from worker.delivery.subscribe import FeedFactory, Subscription
from worker.domain.poison import safe_text
from worker.domain.retry_after import parse_retry_after
from worker.errors import ConsumerLost, StorageError, WorkerError
from worker.observability import loggers, metrics
from worker.observability.redaction import redact
from worker.ports import Clock, ConsumerStore, DueDelivery, WebhookStore

__all__ = ["RETRY_SCHEDULE", "WebhookSink"]

log = logging.getLogger(loggers.WEBHOOK)

CLAIM_ROUNDS = 8  # deliveries claimed per round: this many times the concurrency


class WebhookSink:
    """One configured sink: its enqueuer and its sender.

    Args:
        client: the HTTP client for attempts (``follow_redirects=False``; tests
            may mount a receiver with ``httpx.ASGITransport``).
        clock: when attempts are due (tests move it); signatures use wall time.
        retry_seconds: the wait after the database was lost, before trying again.
    """

    def __init__(
        self,
        settings: WebhookSettings,
        store: WebhookStore,
        consumers: ConsumerStore,
        open_feed: FeedFactory,
        client: httpx.AsyncClient,
        *,
        clock: Clock,
        owner: str,
        poll_interval: float = 1.0,
        retry_seconds: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._store = store
        self._consumers = consumers
        self._open_feed = open_feed
        self._client = client
        self._clock = clock
        self._wall = SystemClock()
        self._owner = owner
        self._poll = poll_interval
        self._retry_seconds = retry_seconds
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._key = signing_key(settings.secret.get_secret_value())
        self._secret = settings.secret.get_secret_value()
        self._queued = anyio.Event()

    async def register(self) -> None:
        """Make sure the sink has its row (with the configured URL)."""
        await self._store.register(self.name, self.settings.url, self._clock.now())

    async def run(self) -> None:
        """Enqueue and send until cancelled."""
        await self.register()
        async with anyio.create_task_group() as group:
            group.start_soon(self.enqueue_forever)
            group.start_soon(self.send_forever)

    async def enqueue_forever(self) -> None:
        """Be the sink's consumer of the outbox: one delivery row per event. A lost
        database or consumer lease is logged and retried, from the stored cursor."""
        while True:
            try:
                await self.enqueue(follow=True)
            except (StorageError, ConsumerLost) as exc:
                self._retrying("enqueueing", exc)
            await anyio.sleep(self._retry_seconds)

    async def enqueue(self, *, follow: bool = False) -> int:
        """Queue a delivery for each new event (only what is there, unless ``follow``)."""
        queued = 0
        async with Subscription(
            self._consumers,
            self._open_feed,
            name=f"webhook:{self.name}",
            owner=self._owner,
            clock=self._clock,
            types=self.settings.types,
            providers=self.settings.providers,
            standby_poll=self._poll,
        ) as events:
            async for batch in events.batches(follow=follow):
                state = await self._store.state(self.name)
                queued += await self._store.enqueue(
                    self.name,
                    [e.stored for e in batch],
                    now=self._clock.now(),
                    dead=state.disabled_at is not None,
                )
                await batch[-1].ack()
                self._queued.set()
        return queued

    async def send_forever(self) -> None:
        """Send due deliveries; wait for new ones or the poll interval when there are none."""
        while True:
            # A fresh wake-up before looking: one that comes while we look is kept.
            self._queued = anyio.Event()
            try:
                if await self.send_due():
                    continue
            except StorageError as exc:  # claimed deliveries wait out their hold, then resend
                self._retrying("sending", exc)
                await anyio.sleep(self._retry_seconds)
                continue
            with anyio.move_on_after(self._poll):
                await self._queued.wait()

    async def send_due(self) -> int:
        """One round: claim due deliveries and attempt them, ``concurrency`` at a time."""
        # Claim a few rounds' worth at once: the claim is the costly statement.
        due = await self._store.claim_due(
            self.name,
            now=self._clock.now(),
            limit=self.settings.concurrency * CLAIM_ROUNDS,
            hold=(self.settings.timeout + 5) * CLAIM_ROUNDS,
        )
        slots = anyio.CapacityLimiter(self.settings.concurrency)
        lost: list[StorageError] = []

        async def attempt(delivery: DueDelivery) -> None:
            async with slots:
                try:
                    await self._attempt(delivery)
                except StorageError as exc:  # the others still get their attempt
                    lost.append(exc)

        async with anyio.create_task_group() as group:
            for delivery in due:
                group.start_soon(attempt, delivery)
        if lost:
            raise lost[0]
        return len(due)

    def _retrying(self, doing: str, exc: WorkerError) -> None:
        log.warning(
            "webhook %s: %s stopped: %s; trying again in %g s",
            self.name,
            doing,
            exc,
            self._retry_seconds,
            extra={"event": "webhook.storage_failed", "sink": self.name},
        )

    async def _attempt(self, delivery: DueDelivery) -> None:
        timestamp = int(self._wall.now().timestamp())
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._key, delivery.event_id, timestamp, delivery.body),
        }
        status: int | None = None
        retry_after: float | None = None
        try:
            with anyio.fail_after(self.settings.timeout):
                response = await self._client.post(
                    self.settings.url, content=delivery.body.encode(), headers=headers
                )
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._wall.now())
            error = f"returned {status}"
        except TimeoutError:
            error = f"timed out after {self.settings.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"failed: {type(exc).__name__}"
        now = self._clock.now()
        if status is not None and 200 <= status < 300:
            await self._store.delivered(self.name, delivery, now=now, status=status)
            metrics.WEBHOOK_DELIVERIES.labels(self.name, "delivered").inc()
            return
        if status == 410:
            await self._disable(now, "the endpoint answered 410 Gone")
            return
        await self._failed(delivery, now, status, error, retry_after)

    async def _failed(
        self,
        delivery: DueDelivery,
        now: datetime,
        status: int | None,
        error: str,
        retry_after: float | None,
    ) -> None:
        if delivery.early and delivery.due_at is not None:
            # Brought forward by another delivery's success: its own slot stands.
            retry_at: datetime | None = delivery.due_at
            if retry_after is not None:
                retry_at = max(delivery.due_at, now + timedelta(seconds=retry_after))
            attempt = f"an early try; attempt {delivery.attempts + 1} stays due"
        else:
            retry_at = next_attempt(delivery.attempts + 1, now, retry_after, self._rng)
            attempt = f"attempt {delivery.attempts + 1}"
        error = safe_text(redact(error, {self._secret}), 500)
        state = await self._store.failed(
            self.name,
            delivery,
            now=now,
            status=status,
            error=error,
            retry_at=retry_at,
            asked_to_wait=bool(retry_after),
        )
        metrics.WEBHOOK_DELIVERIES.labels(self.name, "failed" if retry_at else "dead").inc()
        log.warning(
            "webhook %s: event %s %s (%s)%s",
            self.name,
            delivery.event_id,
            error,
            attempt,
            "; it is a dead letter now" if retry_at is None else "",
            extra={"event": "webhook.failed", "sink": self.name},
        )
        failing = state.failing_since
        if failing is not None and (now - failing).total_seconds() > self.settings.disable_after:
            await self._disable(
                now, f"no success for {self.settings.disable_after:g} s (disable_after)"
            )

    async def _disable(self, now: datetime, reason: str) -> None:
        dead = await self._store.disable(self.name, now=now, reason=reason)
        metrics.WEBHOOK_DELIVERIES.labels(self.name, "disabled").inc()
        log.error(
            "webhook %s disabled: %s; %d pending deliveries are dead letters "
            "(campaign-sync events redeliver --sink %s sends them again)",
            self.name,
            reason,
            dead,
            self.name,
            extra={"event": "webhook.disabled", "sink": self.name},
        )
