"""The NATS JetStream relay: every change event in the outbox, published once, in order.

Subjects are ``{subject_prefix}.{provider}.{account}.{type}``, and every ``type``
is two tokens (``campaign.paused``, ``provider.schema_drift``), so a subject has
five tokens and plain wildcards filter it::

    campaign-sync.vox_v3.>                    everything of one provider
    campaign-sync.vox_v3.acme.>               one account
    campaign-sync.*.*.campaign.paused         one type, from everyone

Tokens are escaped as ``worker.delivery.subjects`` says, so no value adds a token or
a wildcard: account ``eu.acme`` is the token ``eu~2Eacme``.

A message is the event's CloudEvents 1.0 JSON envelope (``Content-Type:
application/cloudevents+json``) with ``Nats-Msg-Id`` = the event id. The relay
is the durable consumer ``nats:{stream}`` of the outbox: it publishes a batch in
the gap-free order, awaiting each PubAck, then moves its PostgreSQL cursor to
the batch's last event. A relay that dies in between publishes the batch again on
takeover, and JetStream drops the copies by ``Nats-Msg-Id`` within its duplicate
window, which must therefore outlast a takeover (``lease_ttl``).

The stream (subjects ``{subject_prefix}.>``) is created when missing; an
existing one is left as it is. One relay at a time holds the consumer; others wait
as standbys. A lost connection is opened again and publishing resumes at the
PostgreSQL cursor; only a failed first connection is fatal (a configuration error).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import anyio
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck

from worker.config import NatsSettings
from worker.delivery.nats_errors import broker_errors, describe
from worker.delivery.subjects import escape_token, subject_for, unescape_token
from worker.delivery.subscribe import FeedFactory, SubscribedEvent, Subscription
from worker.domain.campaign import CampaignKey
from worker.errors import BrokerUnavailable, ConsumerLost, StorageError
from worker.observability import loggers, metrics
from worker.ports import Clock, ConsumerStore

__all__ = ["CONTENT_TYPE", "NatsRelay", "escape_token", "subject_for", "unescape_token"]


log = logging.getLogger(loggers.NATS)

CONTENT_TYPE = "application/cloudevents+json"
_STREAM_NAME_IN_USE = 10058  # JetStream's code when another relay created the stream first


class NatsRelay:
    """Publishes the outbox to a JetStream stream until cancelled.

    Args:
        consumers: where the ``nats:{stream}`` cursor and lease live.
        open_feed: opens the gap-free feed after a position, unfiltered, reading
            ``settings.batch_size`` events at a time.
        owner: this process's name in the consumer's lease.
        lease_ttl: seconds a standby waits after this process dies before taking over.
        poll_interval: seconds between claims while another process holds the consumer.
        reconnect_wait: seconds between connection attempts once a connection was lost.

    Attributes:
        server: ``host:port`` of the server, as messages name it (never the URL).
        published: events the stream stored, since construction.
        duplicates: events the stream dropped as copies of stored ones, since construction.
    """

    def __init__(
        self,
        consumers: ConsumerStore,
        open_feed: FeedFactory,
        settings: NatsSettings,
        *,
        owner: str,
        clock: Clock,
        lease_ttl: float = 30.0,
        poll_interval: float = 1.0,
        reconnect_wait: float = 2.0,
    ) -> None:
        self.settings = settings
        self.consumer = f"nats:{settings.stream}"
        self.published = 0
        self.duplicates = 0
        self._consumers = consumers
        self._open_feed = open_feed
        self._owner = owner
        self._clock = clock
        self._ttl = lease_ttl
        self._poll = poll_interval
        self._reconnect_wait = reconnect_wait
        parts = urlsplit(settings.url)  # the URL may carry user:password
        self.server = f"{parts.hostname}:{parts.port or 4222}"
        self._secrets = {settings.password.get_secret_value()} if settings.password else set()
        self._last_error, self._refused = "", False
        self._connected_once = False

    async def run(self, *, started: anyio.Event | None = None) -> None:
        """Publish every event until cancelled; ``started`` is set once the stream exists
        and this process holds the consumer.

        Raises:
            BrokerUnavailable: the first connection failed (nothing listens, the
                credentials are refused, no JetStream); later losses are retried.
        """
        while True:
            try:
                await self._session(started)
            except BrokerUnavailable as exc:
                if not self._connected_once:
                    raise
                msg = f"{exc}; reconnecting in {self._reconnect_wait:g} s, from the stored cursor"
                self._log(logging.WARNING, "nats.connection_lost", msg)
            await anyio.sleep(self._reconnect_wait)

    async def _session(self, started: anyio.Event | None) -> None:
        """One connection: publish until it is lost (BrokerUnavailable) or cancelled."""
        client = Client()
        closing = False
        with anyio.CancelScope() as connection:

            async def closed() -> None:
                # The server went away: stop whatever waits (a PubAck, the feed) at once.
                if not closing:
                    connection.cancel()

            try:
                await self._connect(client, closed)
                js = client.jetstream(timeout=self.settings.publish_timeout)
                await self._ensure_stream(js)
                self._connected_once = True
                await self._lead(js, started)
            finally:
                closing = True
                with (
                    anyio.move_on_after(self.settings.connect_timeout, shield=True),
                    contextlib.suppress(nats.errors.Error, OSError),  # it is gone either way
                ):
                    await client.close()
        raise BrokerUnavailable(f"lost the connection to NATS at {self.server}{self._cause()}")

    async def _connect(self, client: Client, closed: Callable[[], Awaitable[None]]) -> None:
        s = self.settings
        self._last_error, self._refused = "", False
        try:
            with anyio.fail_after(s.connect_timeout):  # nats-py's timeout is per attempt
                await client.connect(
                    servers=[s.url],
                    name=f"campaign-sync relay {self._owner}",
                    connect_timeout=max(1, math.ceil(s.connect_timeout)),
                    # Reconnecting is run's job, from the PostgreSQL cursor: nats-py's
                    # would buffer publishes while nobody can tell which ones landed.
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    error_cb=self._on_error,
                    closed_cb=closed,
                    user=s.user,
                    password=s.password.get_secret_value() if s.password else None,
                )
        except TimeoutError:
            raise BrokerUnavailable(
                f"cannot connect to NATS at {self.server}: no answer within "
                f"{s.connect_timeout:g} s{self._cause()}"
            ) from None
        except (nats.errors.Error, OSError) as exc:
            if self._refused:
                raise BrokerUnavailable(
                    f"NATS at {self.server} refused the credentials (nats.user, nats.password)"
                ) from None
            why = self._last_error or describe(exc, self._secrets)
            raise BrokerUnavailable(f"cannot connect to NATS at {self.server}: {why}") from exc
        self._log(logging.INFO, "nats.connected", f"connected to NATS at {self.server}")

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        s = self.settings
        subjects = f"{s.subject_prefix}.>"
        with broker_errors(self.settings, self._secrets, f"setting up stream {s.stream}"):
            try:
                info = await js.stream_info(s.stream)
            except nats.js.errors.NotFoundError:
                try:
                    await js.add_stream(
                        name=s.stream, subjects=[subjects], duplicate_window=s.duplicate_window
                    )
                except nats.js.errors.BadRequestError as exc:
                    if exc.err_code != _STREAM_NAME_IN_USE:
                        raise
                    info = await js.stream_info(s.stream)  # another relay was first
                else:
                    msg = f"created stream {s.stream} ({subjects}, window {s.duplicate_window:g} s)"
                    self._log(logging.INFO, "nats.stream_created", msg)
                    return
        # An existing stream is the operators': it is reported on, never changed.
        if not math.isclose(window := info.config.duplicate_window, s.duplicate_window):
            msg = f"stream {s.stream} drops copies within {window:g} s, not {s.duplicate_window:g}"
            self._log(logging.WARNING, "nats.window_differs", f"{msg} s; it is left as it is")

    async def _lead(self, js: JetStreamContext, started: anyio.Event | None) -> None:
        """Hold the consumer (as a standby until it is free) and publish; again if lost."""
        size = self.settings.batch_size
        while True:
            try:
                async with Subscription(
                    self._consumers,
                    self._open_feed,
                    name=self.consumer,
                    owner=self._owner,
                    clock=self._clock,
                    lease_ttl=self._ttl,
                    standby_poll=self._poll,
                ) as events:
                    self._log(logging.INFO, "nats.relaying", f"relaying as {self.consumer}")
                    if started is not None:
                        started.set()
                    async for batch in events.batches():
                        for start in range(0, len(batch), size):
                            await self._publish(js, batch[start : start + size])
            except ConsumerLost as exc:
                self._log(logging.WARNING, "nats.consumer_lost", str(exc))
            except StorageError as exc:
                msg = f"{exc}; trying again in {self._reconnect_wait:g} s"
                self._log(logging.WARNING, "nats.storage_failed", msg)
                await anyio.sleep(self._reconnect_wait)

    async def _publish(self, js: JetStreamContext, events: list[SubscribedEvent]) -> None:
        """Publish a batch, then move the cursor past it.

        In rounds: each round holds at most one event per campaign, published
        concurrently, and waits for all its PubAcks before the next round starts.
        So each campaign's events are stored in order (the promise), while a batch
        of many campaigns costs a few round trips rather than one per event.
        """
        rounds: list[list[SubscribedEvent]] = []
        depth: dict[CampaignKey, int] = {}
        for event in events:
            key = event.stored.event.key
            level = depth.get(key, 0)
            depth[key] = level + 1
            if level == len(rounds):
                rounds.append([])
            rounds[level].append(event)
        acks: list[PubAck] = []

        async def publish(event: SubscribedEvent) -> None:
            acks.append(await self._publish_one(js, event))

        for batch in rounds:
            async with anyio.create_task_group() as group:
                for event in batch:
                    group.start_soon(publish, event)
        copies = sum(1 for ack in acks if ack.duplicate)
        self.duplicates += copies
        self.published += len(acks) - copies
        metrics.NATS_PUBLISHED.labels("stored").inc(len(acks) - copies)
        metrics.NATS_PUBLISHED.labels("duplicate").inc(copies)
        await events[-1].ack()  # cumulative: the whole batch
        if copies:  # published before a restart, or replayed
            msg = f"{copies} of {len(events)} events were stored already; JetStream dropped them"
            self._log(logging.INFO, "nats.duplicates", msg)

    async def _publish_one(self, js: JetStreamContext, event: SubscribedEvent) -> PubAck:
        change = event.stored.event
        key = change.key
        subject = subject_for(self.settings.subject_prefix, key.provider, key.account, change.type)
        with broker_errors(
            self.settings, self._secrets, f"publishing event {change.event_id} to {subject}"
        ):
            return await js.publish(
                subject,
                json.dumps(dict(event), separators=(",", ":")).encode(),
                timeout=self.settings.publish_timeout,
                stream=self.settings.stream,  # refused if the subject lands in another stream
                headers={"Nats-Msg-Id": change.event_id, "Content-Type": CONTENT_TYPE},
            )

    async def _on_error(self, exc: Exception) -> None:
        # Replaces nats-py's default, which logs a traceback per failed attempt; the
        # error is kept for the message of the BrokerUnavailable that follows.
        self._last_error = describe(exc, self._secrets)
        # The server's -ERR; nats-py raises it as a plain Error during the handshake.
        self._refused |= "authorization" in self._last_error.lower()
        self._log(logging.DEBUG, "nats.client_error", f"NATS client: {self._last_error}")

    def _cause(self) -> str:
        return f" ({self._last_error})" if self._last_error else ""

    def _log(self, level: int, event: str, message: str) -> None:
        log.log(level, "%s", message, extra={"event": event, "stream": self.settings.stream})
