"""The NATS JetStream relay, against a real nats-server and a real PostgreSQL: subjects
that wildcards filter, the gap-free order, no copy reaching a consumer after a crash
(JetStream drops it by Nats-Msg-Id), reconnection, and clear failures."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import anyio
import nats.errors
import pytest
from cloudevents.core.formats.json import JSONFormat
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from tests.delivery.nats_server import (  # the fixtures are used by their names
    Names,
    NatsServer,
    connect,
    free_port,
    js_fixture,  # noqa: F401
    names_fixture,  # noqa: F401
    nats_binary,
    nats_url_fixture,  # noqa: F401
    own_nats_fixture,  # noqa: F401
)
from tests.delivery.outbox import ACME, GLOBEX, Writer, campaign, out_of_order, writers
from tests.helpers import claim
from worker.clock import ManualClock, SystemClock
from worker.config import NatsSettings
from worker.delivery.nats import NatsRelay, escape_token, subject_for, unescape_token
from worker.domain.campaign import TargetKey
from worker.domain.events import to_cloudevent
from worker.errors import BrokerUnavailable
from worker.ports import (
    Clock,
    ConsumerHeld,
    ConsumerLease,
    CursorMoved,
    OutboxEvent,
    Position,
    RunSummary,
)
from worker.storage.consumers import PostgresConsumers
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore

DOTTED = TargetKey(provider="vox_v3", account="eu.acme")


# --- subjects -----------------------------------------------------------------------------


def test_plain_tokens_are_kept_and_everything_else_is_escaped() -> None:
    assert escape_token("vox_v3") == "vox_v3"
    assert escape_token("Acme-01") == "Acme-01"
    assert escape_token("eu.acme") == "eu~2Eacme"
    assert escape_token("a~b") == "a~7Eb"
    assert escape_token("*") == "~2A"
    assert escape_token(">") == "~3E"
    assert escape_token("a b\tc") == "a~20b~09c"
    assert escape_token("é") == "~C3~A9"  # UTF-8 bytes, uppercase hex


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        escape_token("")


def test_subjects_have_five_tokens_whatever_the_account() -> None:
    assert (
        subject_for("campaign-sync", "vox_v3", "acme", "campaign.paused")
        == "campaign-sync.vox_v3.acme.campaign.paused"
    )
    subject = subject_for("campaign-sync", "vox_v3", "eu.acme~2", "campaign.paused")
    assert subject == "campaign-sync.vox_v3.eu~2Eacme~7E2.campaign.paused"
    assert subject.split(".")[2] == "eu~2Eacme~7E2"
    assert unescape_token(subject.split(".")[2]) == "eu.acme~2"
    assert subject_for("p", "x", "a", "provider.schema_drift") == "p.x.a.provider.schema_drift"


@given(st.text(min_size=1))
def test_escaping_is_reversible_and_leaves_no_separator_or_wildcard(text: str) -> None:
    token = escape_token(text)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-~")
    assert unescape_token(token) == text


def test_unescaping_refuses_what_escaping_never_makes() -> None:
    for bad in ("", "a~", "a~2", "a~zz", "~2e", "~41", "a.b", "a b", "~FF"):
        with pytest.raises(ValueError, match="not an escaped subject token"):
            unescape_token(bad)


# --- helpers ------------------------------------------------------------------------------


def settings_for(url: str | dict[str, str], names: Names, **more: Any) -> NatsSettings:
    return NatsSettings(
        url=url,
        stream=names.stream,
        subject_prefix=names.prefix,
        connect_timeout=2,
        publish_timeout=5,
        **more,
    )


def relay_for(
    engine: AsyncEngine,
    settings: NatsSettings,
    clock: Clock,
    *,
    consumers: Any = None,
    owner: str = "relay-1",
) -> NatsRelay:
    def open_feed(after: Position) -> EventFeed:
        return EventFeed(engine, after=after, poll_interval=0.1, batch_size=settings.batch_size)

    return NatsRelay(
        consumers or PostgresConsumers(engine),
        open_feed,
        settings,
        owner=owner,
        clock=clock,
        poll_interval=0.1,
        reconnect_wait=0.1,
    )


@asynccontextmanager
async def running(relay: NatsRelay) -> AsyncIterator[NatsRelay]:
    """The relay publishing in the background (its stream exists, it holds the consumer)."""
    started = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(partial(relay.run, started=started))
        with anyio.fail_after(15):
            await started.wait()
        yield relay
        group.cancel_scope.cancel()


async def take(js: JetStreamContext, subject: str, names: Names, n: int) -> list[Msg]:
    """The first ``n`` messages a new consumer of ``subject`` gets, acknowledged, in order;
    then nothing is left for it."""
    sub = await js.pull_subscribe(subject, stream=names.stream)
    got: list[Msg] = []
    with anyio.fail_after(20):
        while len(got) < n:
            try:
                got += await sub.fetch(n - len(got), timeout=5)
            except TimeoutError:  # nats.errors.TimeoutError, or asyncio's own from inside fetch
                continue
    for msg in got:
        await msg.ack()
    assert (await sub.consumer_info()).num_pending == 0, "more messages than expected"
    await sub.unsubscribe()
    return got


async def outbox(engine: AsyncEngine) -> list[OutboxEvent]:
    """Every stored event, in the gap-free order."""
    async with EventFeed(engine) as feed:
        return [e async for batch in feed.batches(follow=False) for e in batch]


async def stored_count(js: JetStreamContext, names: Names) -> int:
    return int((await js.stream_info(names.stream)).state.messages)


def ids(messages: Sequence[Msg]) -> list[str]:
    return [(m.headers or {})["Nats-Msg-Id"] for m in messages]


# --- publishing ---------------------------------------------------------------------------


async def test_every_event_arrives_on_subjects_wildcards_filter(
    engine: AsyncEngine, js: JetStreamContext, nats_url: str, names: Names, clock: ManualClock
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, globex):
        dotted = Writer(store, await claim(store, DOTTED, acme.at))
        await acme.write(campaign(ACME, "1"), campaign(ACME, "2"))
        await globex.write(campaign(GLOBEX, "g"))
        await dotted.write(campaign(DOTTED, "d"))
        await acme.write(campaign(ACME, "1", completed=5))  # a progress event
        await store.finish(dotted.lease, dotted.at, RunSummary(status="succeeded"))
    expected = await outbox(engine)
    async with running(relay_for(engine, settings_for(nats_url, names), clock)):
        everything = await take(js, f"{names.prefix}.>", names, len(expected))
    p = names.prefix

    assert ids(everything) == [e.event.event_id for e in expected]  # the outbox's order
    for msg, stored in zip(everything, expected, strict=True):
        key = stored.event.key
        assert msg.subject == subject_for(p, key.provider, key.account, stored.event.type)
        assert (msg.headers or {})["Content-Type"] == "application/cloudevents+json"
        envelope = json.loads(msg.data)
        parsed = JSONFormat().read(None, msg.data)  # the CloudEvents SDK (2.x) accepts it
        assert parsed.get_id() == stored.event.event_id
        assert parsed.get_type() == stored.event.type
        assert parsed.get_source() == f"campaign-sync/{key.provider}/{key.account}"
        assert envelope == json.loads(
            json.dumps(to_cloudevent(stored.event, position=stored.row_id))
        )
    assert f"{p}.vox_v3.eu~2Eacme.campaign.discovered" in {m.subject for m in everything}

    def subjects(messages: list[Msg]) -> list[str]:
        return [json.loads(m.data)["subject"] for m in messages]

    vox_v3 = await take(js, f"{p}.vox_v3.>", names, 4)
    assert subjects(vox_v3) == ["1", "2", "d", "1"]
    assert subjects(await take(js, f"{p}.vox_v3.acme.>", names, 3)) == ["1", "2", "1"]
    assert subjects(await take(js, f"{p}.*.eu~2Eacme.>", names, 1)) == ["d"]
    progress = await take(js, f"{p}.*.*.campaign.progress", names, 1)
    assert [json.loads(m.data)["type"] for m in progress] == ["campaign.progress"]
    assert len(await take(js, f"{p}.*.*.campaign.discovered", names, 4)) == 4
    assert await stored_count(js, names) == len(expected)


async def test_two_transactions_committing_out_of_order_are_published_once_in_outbox_order(
    engine: AsyncEngine, js: JetStreamContext, nats_url: str, names: Names, clock: ManualClock
) -> None:
    store = PostgresStore(engine)
    relay = relay_for(engine, settings_for(nats_url, names), clock)
    async with writers(store) as (acme, globex), running(relay):
        sub = await js.pull_subscribe(f"{names.prefix}.>", stream=names.stream)

        async def between() -> None:
            # The later id committed first: nothing may be published while the earlier
            # transaction can still commit.
            with pytest.raises(nats.errors.TimeoutError):
                await sub.fetch(1, timeout=0.5)

        await out_of_order(acme, globex, between)
        got = await take(js, f"{names.prefix}.>", names, 2)
    assert [json.loads(m.data)["subject"] for m in got] == ["early", "late"]
    assert ids(got) == [e.event.event_id for e in await outbox(engine)]
    assert await stored_count(js, names) == 2
    assert relay.duplicates == 0


class DiesBeforeAck:
    """The real consumer store, in a process that is killed while its ``dies_at``-th ack is
    on its way: that batch is published but the cursor does not move, and nothing is
    released (the lease runs out by itself)."""

    def __init__(self, real: PostgresConsumers, *, dies_at: int) -> None:
        self.real = real
        self.dies_at = dies_at
        self.acks = 0
        self.dying = anyio.Event()

    async def claim(self, name: str, **kwargs: Any) -> ConsumerLease | ConsumerHeld:
        return await self.real.claim(name, **kwargs)

    async def renew(self, lease: ConsumerLease, now: Any) -> bool:
        return await self.real.renew(lease, now)

    async def ack(self, lease: ConsumerLease, position: Position, now: Any) -> CursorMoved | None:
        self.acks += 1
        if self.acks == self.dies_at:
            self.dying.set()
            await anyio.sleep_forever()
        return await self.real.ack(lease, position, now)

    async def moved(self, lease: ConsumerLease) -> CursorMoved | None:
        return await self.real.moved(lease)

    async def release(self, lease: ConsumerLease) -> None:
        return None


async def test_a_relay_killed_before_its_ack_publishes_the_batch_again_and_no_copy_is_stored(
    engine: AsyncEngine, js: JetStreamContext, nats_url: str, names: Names, clock: ManualClock
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        for i in range(5):
            await acme.write(campaign(ACME, str(i)))
    events = await outbox(engine)
    settings = settings_for(nats_url, names, batch_size=2)
    consumers = PostgresConsumers(engine)
    dying = DiesBeforeAck(consumers, dies_at=2)
    # Batches [0 1] [2 3] [4]: the first is acknowledged; the relay dies acknowledging the second.
    async with running(relay_for(engine, settings, clock, consumers=dying)):
        with anyio.fail_after(15):
            await dying.dying.wait()
    assert await stored_count(js, names) == 4
    (info,) = await consumers.list(clock.now())
    assert (info.name, info.cursor) == (f"nats:{names.stream}", events[1].position)

    clock.advance(timedelta(seconds=31))  # the dead relay's lease has run out
    restarted = relay_for(engine, settings, clock, owner="relay-2")
    async with running(restarted):
        got = await take(js, f"{names.prefix}.>", names, 5)
        assert restarted.duplicates == 2  # events 2 and 3, dropped by JetStream
    assert ids(got) == [e.event.event_id for e in events]  # each exactly once, in order
    assert await stored_count(js, names) == 5


async def test_a_replayed_cursor_publishes_only_copies_the_stream_drops(
    engine: AsyncEngine, js: JetStreamContext, nats_url: str, names: Names, clock: ManualClock
) -> None:
    store = PostgresStore(engine)
    settings = settings_for(nats_url, names)
    async with writers(store) as (acme, _):
        for i in range(3):
            await acme.write(campaign(ACME, str(i)))
        async with running(relay_for(engine, settings, clock)):
            await take(js, f"{names.prefix}.>", names, 3)
        assert await PostgresConsumers(engine).move(f"nats:{names.stream}", Position())
        replaying = relay_for(engine, settings, clock, owner="relay-2")
        async with running(replaying):
            await acme.write(campaign(ACME, "new"))
            got = await take(js, f"{names.prefix}.>", names, 4)
            assert replaying.duplicates == 3
    assert [json.loads(m.data)["subject"] for m in got] == ["0", "1", "2", "new"]
    assert ids(got) == [e.event.event_id for e in await outbox(engine)]
    assert await stored_count(js, names) == 4


@pytest.mark.slow
async def test_a_replay_and_a_delete_reach_the_running_relay(
    db_url: URL,
    engine: AsyncEngine,
    js: JetStreamContext,
    nats_url: str,
    names: Names,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = PostgresStore(engine)
    settings = settings_for(nats_url, names)
    # Real time: the events commands read the relay's lease against their own clock.
    relay = relay_for(engine, settings, SystemClock())
    dropped = anyio.Event()

    class Dropped(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "event", "") == "nats.duplicates" and relay.duplicates >= 3:
                dropped.set()

    caplog.set_level(logging.INFO, logger="worker.delivery.nats")
    watcher = Dropped(logging.INFO)
    logging.getLogger("worker.delivery.nats").addHandler(watcher)
    try:
        await replay_and_delete(relay, store, js, names, db_url, dropped)
    finally:
        logging.getLogger("worker.delivery.nats").removeHandler(watcher)
    assert await stored_count(js, names) == 4


async def replay_and_delete(
    relay: NatsRelay,
    store: PostgresStore,
    js: JetStreamContext,
    names: Names,
    db_url: URL,
    dropped: anyio.Event,
) -> None:
    consumer = f"nats:{names.stream}"
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    async with writers(store) as (acme, _), running(relay):
        for i in range(3):
            await acme.write(campaign(ACME, str(i)))
        first = await take(js, f"{names.prefix}.>", names, 3)
        since = json.loads(first[0].data)["sequence"]
        replayed = await cli("events", "replay", "--consumer", consumer, "--from", since, env=env)
        assert replayed.returncode == 0, replayed.stderr
        assert "it is running (held by relay-1)" in replayed.stdout
        with anyio.fail_after(10):  # the running relay publishes the three again, unrestarted
            await dropped.wait()
        await acme.write(campaign(ACME, "new"))
        got = await take(js, f"{names.prefix}.>", names, 4)  # JetStream kept one copy of each
        assert [json.loads(m.data)["subject"] for m in got] == ["0", "1", "2", "new"]
        assert relay.duplicates == 3
        refused = await cli("events", "consumers", "--delete", consumer, env=env)
        message = json.loads(refused.stderr.strip().splitlines()[-1])["message"]
        assert refused.returncode == 2
        assert message.startswith(f"consumer '{consumer}' is running (held by relay-1 until ")


async def test_an_existing_stream_is_left_alone_but_a_different_window_is_logged(
    engine: AsyncEngine,
    js: JetStreamContext,
    nats_url: str,
    names: Names,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await js.add_stream(name=names.stream, subjects=[f"{names.prefix}.>"], duplicate_window=7)
    caplog.set_level(logging.INFO, logger="worker.delivery.nats")
    settings = settings_for(nats_url, names, duplicate_window=120)
    async with running(relay_for(engine, settings, clock)):
        pass
    (warning,) = [r for r in caplog.records if getattr(r, "event", "") == "nats.window_differs"]
    assert warning.levelno == logging.WARNING
    assert "within 7 s, not 120 s" in warning.getMessage()
    assert (await js.stream_info(names.stream)).config.duplicate_window == 7


async def test_a_created_stream_has_the_configured_window(
    engine: AsyncEngine, js: JetStreamContext, nats_url: str, names: Names, clock: ManualClock
) -> None:
    settings = settings_for(nats_url, names, duplicate_window=42)
    async with running(relay_for(engine, settings, clock)):
        pass
    config = (await js.stream_info(names.stream)).config
    assert (config.subjects, config.duplicate_window) == ([f"{names.prefix}.>"], 42)


# --- connections --------------------------------------------------------------------------


class Reconnecting(logging.Handler):
    """Sets ``failed`` once the relay logs a reconnection attempt that failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failed = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "event", "") == "nats.connection_lost" and (
            "cannot connect" in record.getMessage()
        ):
            self.failed.set()


async def test_a_lost_connection_is_logged_and_publishing_resumes_from_the_cursor(
    engine: AsyncEngine,
    own_nats: NatsServer,
    names: Names,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="worker.delivery.nats")
    reconnecting = Reconnecting()
    logging.getLogger("worker.delivery.nats").addHandler(reconnecting)
    store = PostgresStore(engine)
    relay = relay_for(engine, settings_for(own_nats.url, names), clock)
    try:
        async with writers(store) as (acme, _), running(relay):
            await acme.write(campaign(ACME, "before"))
            nc = await connect(own_nats.url)
            await take(nc.jetstream(), f"{names.prefix}.>", names, 1)
            await nc.close()
            await anyio.to_thread.run_sync(own_nats.stop)
            await acme.write(campaign(ACME, "while down"))
            with anyio.fail_after(10):
                await reconnecting.failed.wait()  # it noticed, and tried again in vain
            await anyio.to_thread.run_sync(own_nats.start)  # the same port and store
            nc = await connect(own_nats.url)
            js = nc.jetstream()
            got = await take(js, f"{names.prefix}.>", names, 2)
            assert await stored_count(js, names) == 2
            await nc.close()
    finally:
        logging.getLogger("worker.delivery.nats").removeHandler(reconnecting)
    assert [json.loads(m.data)["subject"] for m in got] == ["before", "while down"]
    # NATS may stop between "before"'s PubAck and the commit of the cursor past it; then
    # the relay sends it again from the stored cursor and JetStream drops the copy (the
    # stream holds 2, above). It is never stored or delivered twice.
    assert relay.duplicates in (0, 1)
    lost = [r for r in caplog.records if getattr(r, "event", "") == "nats.connection_lost"]
    assert lost[0].levelno == logging.WARNING
    assert (
        lost[0].getMessage().startswith(f"lost the connection to NATS at 127.0.0.1:{own_nats.port}")
    )
    assert (
        lost[1]
        .getMessage()
        .startswith(f"cannot connect to NATS at 127.0.0.1:{own_nats.port}: connection refused")
    )
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_relay_where_nothing_listens_fails_at_once_with_a_clear_message(
    engine: AsyncEngine,
    names: Names,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CS_TEST_NATS_PASSWORD", "hunter2-secret")
    port = free_port()
    # A URL with credentials is a secret: given by reference, as inline it is refused.
    monkeypatch.setenv("CS_TEST_NATS_URL", f"nats://relay:hunter2-secret@127.0.0.1:{port}")
    settings = settings_for(
        {"env": "CS_TEST_NATS_URL"},
        names,
        user="relay",
        password={"env": "CS_TEST_NATS_PASSWORD"},
    )
    caplog.set_level(logging.DEBUG)
    started = anyio.Event()
    with anyio.fail_after(settings.connect_timeout + 2), pytest.raises(BrokerUnavailable) as info:
        await relay_for(engine, settings, clock).run(started=started)
    assert str(info.value) == f"cannot connect to NATS at 127.0.0.1:{port}: connection refused"
    assert not started.is_set()
    assert "hunter2" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)  # no traceback logged on the way
    assert await PostgresConsumers(engine).list(clock.now()) == []  # no consumer was claimed


async def test_refused_credentials_say_so_without_the_password(
    engine: AsyncEngine,
    names: Names,
    clock: ManualClock,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    binary = nats_binary()
    if binary is None:
        pytest.skip("no nats-server binary on PATH to start a server with a password")
    server = NatsServer(binary, tmp_path / "nats", args=["--user", "relay", "--pass", "right-one"])
    server.start()
    try:
        monkeypatch.setenv("CS_TEST_NATS_PASSWORD", "wrong-secret")
        settings = settings_for(
            server.url, names, user="relay", password={"env": "CS_TEST_NATS_PASSWORD"}
        )
        caplog.set_level(logging.DEBUG)
        with (
            anyio.fail_after(settings.connect_timeout + 2),
            pytest.raises(BrokerUnavailable) as info,
        ):
            await relay_for(engine, settings, clock).run()
    finally:
        server.stop()
    assert str(info.value) == (
        f"NATS at 127.0.0.1:{server.port} refused the credentials (nats.user, nats.password)"
    )
    assert "wrong-secret" not in caplog.text
