"""``campaign-sync events …``: read the change events and manage who receives them.

* ``tail [--follow] [--type T]… [--provider P]… [--since ID|TIME] [--json]``
* ``consumers [--delete C]``: every durable consumer, its cursor and its lag; or
  forget one that no process holds
* ``replay --consumer C --from ID|TIME``: move a consumer's cursor back (a running
  one reads again from there)
* ``dead-letters [--sink S]``: webhook deliveries given up on
* ``redeliver --sink S [--event ID]…``: enable the sink and queue its dead letters again
"""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

from worker.clock import SystemClock
from worker.config import Settings
from worker.domain.timestamps import to_iso8601
from worker.errors import ConfigError

__all__ = ["add_events_commands", "run_events_command"]


def add_events_commands(commands: Any) -> None:
    """Register ``events`` and its subcommands on the top-level subparsers."""
    events = commands.add_parser("events", help="read change events, manage their consumers")
    sub = events.add_subparsers(dest="events_command", required=True, metavar="EVENTS_COMMAND")
    tail = sub.add_parser("tail", help="print committed events (and, with --follow, new ones)")
    tail.add_argument("--follow", action="store_true", help="keep printing until SIGINT/SIGTERM")
    tail.add_argument(
        "--type", action="append", help="only this type (campaign.paused); repeatable"
    )
    tail.add_argument("--provider", action="append", help="only this provider; repeatable")
    tail.add_argument("--since", help="from this event id, or this ISO-8601 time, on")
    tail.add_argument("--json", action="store_true", help="one CloudEvents JSON object per line")
    consumers = sub.add_parser("consumers", help="durable consumers, their cursors and lag")
    consumers.add_argument(
        "--delete", metavar="CONSUMER", help="forget this consumer and its cursor (not running)"
    )
    replay = sub.add_parser("replay", help="move a consumer's cursor back")
    replay.add_argument("--consumer", required=True)
    replay.add_argument("--from", dest="start", required=True, help="event id or ISO-8601 time")
    dead = sub.add_parser("dead-letters", help="webhook deliveries given up on")
    dead.add_argument("--sink", help="only this webhook sink")
    redeliver = sub.add_parser("redeliver", help="queue a sink's dead letters again")
    redeliver.add_argument("--sink", required=True)
    redeliver.add_argument("--event", action="append", help="only this event id; repeatable")
    for command in (tail, consumers, replay, dead, redeliver):
        command.add_argument(
            "--embedded",
            action="store_true",
            help="with no database URL, use the embedded PostgreSQL (local disk; not for a pod)",
        )


async def run_events_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run the ``events`` subcommand in ``args``."""
    from worker.cli.admin import open_admin

    async with open_admin(settings) as admin:
        return await _HANDLERS[args.events_command](admin, args)


async def _tail(admin: Any, args: argparse.Namespace) -> int:
    from worker.cli.describe import describe
    from worker.domain.events import to_cloudevent
    from worker.ports import Position

    after = await admin.position(args.since) if args.since else Position()
    async with anyio.create_task_group() as group:
        if args.follow:
            group.start_soon(_stop_on_signal, group.cancel_scope)
        async with admin.feed(after, types=args.type, providers=args.provider) as feed:
            async for batch in feed.batches(follow=args.follow):
                for stored in batch:
                    if args.json:
                        envelope = to_cloudevent(stored.event, position=stored.row_id)
                        line = json.dumps(envelope, ensure_ascii=False)
                    else:
                        line = describe(stored.event)
                    print(line, flush=True)
        group.cancel_scope.cancel()
    return 0


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def _consumers(admin: Any, args: argparse.Namespace) -> int:
    if args.delete:
        return await _delete(admin, args.delete)
    found = await admin.consumers.list(SystemClock().now())
    print(f"{'consumer':<28} {'cursor':<22} {'lag events':>10} {'lag seconds':>12}  held by")
    for c in found:
        print(
            f"{c.name:<28} {c.cursor!s:<22} {c.lag_events:>10} {c.lag_seconds:>12.0f}  "
            f"{c.owner or '-'}"
        )
    return 0


async def _replay(admin: Any, args: argparse.Namespace) -> int:
    position = await admin.position(args.start)
    if not await admin.consumers.move(args.consumer, position):
        raise ConfigError(
            f"no consumer named {args.consumer!r} (see: campaign-sync events consumers)"
        )
    holders = {c.name: c.owner for c in await admin.consumers.list(SystemClock().now())}
    moved = f"{args.consumer}: cursor moved to {position}"
    again = f"it receives again from {args.start}"
    if holder := holders.get(args.consumer):  # it looks for a replay every poll interval
        print(f"{moved}; it is running (held by {holder}): {again} within its poll interval")
    else:
        print(f"{moved}; {again} when it next starts")
    if args.consumer.startswith("webhook:"):  # its deliveries are unique per (sink, event)
        print("a webhook sink queues each event once: what it queued before is not sent again")
    return 0


async def _delete(admin: Any, name: str) -> int:
    from worker.ports import ConsumerHeld

    # Refused while held: the holder's next claim would recreate it at the first event.
    found = await admin.consumers.delete(name, SystemClock().now())
    if isinstance(found, ConsumerHeld):
        raise ConfigError(
            f"consumer {name!r} is running (held by {found.owner} until "
            f"{to_iso8601(found.expires_at)}); stop it first, or, if that process is gone, "
            "try again once its lease has run out"
        )
    if not found:
        raise ConfigError(f"no consumer named {name!r} (see: campaign-sync events consumers)")
    print(f"{name}: deleted")
    if name.startswith(("nats:", "webhook:")):
        print(
            "a relay or webhook sink still configured under this name starts from the first event"
        )
    return 0


async def _dead_letters(admin: Any, args: argparse.Namespace) -> int:
    letters = await admin.webhooks.dead_letters(args.sink)
    print(f"{'sink':<16} {'event id':<36} {'type':<24} {'campaign':<32} tries  last error")
    for d in letters:
        print(
            f"{d.sink:<16} {d.event_id:<36} {d.type:<24} {d.campaign:<32} {d.attempts:>5}  "
            f"{d.last_error or ''}" + (f" (at {to_iso8601(d.dead_at)})" if d.dead_at else "")
        )
    return 0


async def _redeliver(admin: Any, args: argparse.Namespace) -> int:
    count = await admin.webhooks.redeliver(args.sink, now=SystemClock().now(), event_ids=args.event)
    print(f"{args.sink}: {count} dead letters queued again; the sink is enabled")
    return 0


_HANDLERS: dict[str, Callable[[Any, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "tail": _tail,
    "consumers": _consumers,
    "replay": _replay,
    "dead-letters": _dead_letters,
    "redeliver": _redeliver,
}
