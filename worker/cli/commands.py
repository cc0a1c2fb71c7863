"""The ``campaign-sync`` command line.

Exit codes: 0 success; 1 a sync target failed; 2 invalid configuration;
3 the database is unusable; 4 a target is being synced elsewhere (its lease is
held by another worker; nothing failed); 130 interrupted; 141 stdout's reader
stopped reading (``… | head``), as a shell reports it for ``cat``: quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio

from worker.cli.events import run_events_command
from worker.cli.output import CliOutput, reader_gone
from worker.cli.parser import UsageError, build_parser
from worker.config import Settings, load_settings, show_settings
from worker.errors import ConfigError, StorageError, WorkerError
from worker.observability.logs import configure_logging
from worker.observability.redaction import SecretValues

__all__ = ["main"]


# Commands that only touch the database (none polls a provider): the rest of the config,
# and its secrets, is not read. `config check` still resolves every reference.
_DATABASE_ONLY = frozenset({"migrate", "status", "grant-reader", "grant-subscriber", "events"})
_TEXT_COMMANDS = frozenset({"demo", "simulate"})
_EXIT_CODES: tuple[tuple[type[WorkerError], int], ...] = ((ConfigError, 2), (StorageError, 3))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and ``python -m worker``.

    Every failure ends in one line on stderr (one JSON object in JSON log mode)
    and an exit code; only a bug prints a traceback, and in JSON mode that is a
    field of its line.
    """
    secrets = SecretValues()
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return CliOutput(_initial_format(""), secrets).fail(str(exc), 2)
    output = CliOutput(_initial_format(args.command), secrets)
    if args.command == "config" and args.action == "example":
        return _print_example(output)
    try:
        settings = load_settings(args.config, database_only=args.command in _DATABASE_ONLY)
    except ConfigError as exc:
        return output.fail(str(exc), 2)
    for value in settings.secrets():
        secrets.add(value)
    text_logs = args.command in _TEXT_COMMANDS
    output.format = "text" if text_logs else settings.log_format
    configure_logging("WARNING" if text_logs else settings.log_level, output.format, secrets)
    args.secrets = secrets
    handler = _COMMANDS[args.command]
    try:
        code = anyio.run(handler, settings, args)
        sys.stdout.flush()  # now, not at exit: a reader gone (`| head`) is handled below
        return code
    except KeyboardInterrupt:
        return 130
    except WorkerError as exc:
        code = next((c for kind, c in _EXIT_CODES if isinstance(exc, kind)), 1)
        return output.fail(str(exc), code)
    except Exception as exc:  # noqa: BLE001 - a bug: one line (or one JSON object), then exit
        if reader_gone(exc):  # `… | head`: the reader has what it wanted
            return output.pipe_closed()
        return output.crash(exc)


def _initial_format(command: str) -> str:
    """The log format before the config is read: what the environment asks, else JSON."""
    if command in _TEXT_COMMANDS:
        return "text"
    asked = os.environ.get("CAMPAIGN_SYNC_LOG_FORMAT", "").strip().lower()
    return asked if asked in ("json", "text") else "json"


def _require_database(settings: Settings, args: argparse.Namespace) -> None:
    """Only a command that makes its own data (``demo``, ``sync-once``) falls back to a
    database on this machine's disk unasked: elsewhere a missing URL is a mistake."""
    if settings.database_url is None and not (settings.embedded_database or args.embedded):
        raise ConfigError(
            "no database configured: set CAMPAIGN_SYNC_DATABASE_URL (or database_url in the "
            "config file); to use the embedded PostgreSQL on this machine's disk instead, "
            "pass --embedded or set embedded_database: true"
        )


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from worker.runtime.database import open_database
    from worker.storage import migrate

    _require_database(settings, args)
    async with open_database(settings, migrate_embedded=False) as engine:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine)
        after = await migrate.current_revision(engine)
    message = (
        f"schema already at {after}"
        if before == after
        else f"schema migrated {before or 'none'} -> {after}"
    )
    print(message)
    return 0


def _require_targets(settings: Settings) -> None:
    if not settings.targets:
        # Not a path: a wheel install (the image) has no config/ directory.
        raise ConfigError(
            "no targets configured; list them under `targets:` in the config file "
            "(`campaign-sync config example` prints a commented example), or try "
            "`campaign-sync demo`"
        )


def _print_example(output: CliOutput) -> int:
    """``config example``: the file needs no valid config to print, so none is read."""
    from worker.config.example import example_config

    try:
        print(example_config(), end="", flush=True)
    except ConfigError as exc:
        return output.fail(str(exc), 2)
    except BrokenPipeError as exc:  # `config example | head`
        if reader_gone(exc):
            return output.pipe_closed()
        raise
    return 0


async def _sync_once(settings: Settings, args: argparse.Namespace) -> int:
    from worker.runtime.app import open_runtime
    from worker.runtime.heap import settle_heap

    _require_targets(settings)
    async with open_runtime(settings, secrets=args.secrets) as runtime:
        settle_heap()
        wanted = args.target or list(runtime.providers)
        unknown = sorted(set(wanted) - set(runtime.providers))
        if unknown:
            raise ConfigError(
                f"unknown target(s): {', '.join(unknown)}; known: {', '.join(runtime.providers)}"
            )
        results = {
            name: await runtime.sync_target(name, lease_wait=args.lease_wait) for name in wanted
        }
    for name, summary in results.items():
        if summary.status == "busy":
            print(f"{name}: not synced: {summary.error}")
            continue
        line = (
            f"{name}: {summary.status}, {summary.records} records, {summary.changed} changed, "
            f"{summary.events} events, {summary.rejected} rejected, {summary.vanished} vanished"
        )
        print(line + (f" ({summary.error})" if summary.error else ""))
    statuses = {s.status for s in results.values()}
    if statuses <= {"succeeded"}:
        return 0
    return 4 if statuses <= {"succeeded", "busy"} else 1


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from worker.runtime.daemon import run_daemon

    _require_targets(settings)
    _require_database(settings, args)
    await run_daemon(settings, health_host=args.health_host, health_port=args.health_port)
    return 0


async def _relay(settings: Settings, args: argparse.Namespace) -> int:
    from worker.runtime.daemon import run_relay

    _require_database(settings, args)
    await run_relay(settings)
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from worker.cli.demo import DemoOptions, run_demo

    options = DemoOptions(
        day_seconds=args.day_seconds,
        poll_seconds=args.poll_seconds,
        seed=args.seed,
        data_dir=args.data_dir or settings.data_dir,
        duration=args.duration,
        show_progress=args.show_progress,
        webhook=args.webhook,
    )
    await run_demo(options)
    return 0


async def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from worker.cli.simulate import serve_simulator

    await serve_simulator(
        args.provider, port=args.port, day_seconds=args.day_seconds, seed=args.seed
    )
    return 0


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    from worker.cli.status import render_status_table, status_json
    from worker.runtime.database import open_database, require_schema
    from worker.storage.reporting import target_status

    _require_database(settings, args)
    async with open_database(settings) as engine:
        await require_schema(engine)
        rows = await target_status(engine)
    if args.json:
        print(status_json(rows))
    else:
        now = rows[0].as_of if rows else datetime.now(UTC)
        print(render_status_table(rows, now))
    return 0


_GRANTED = {
    "grant-reader": "can read every campaign-sync table and view, and write none",
    "grant-subscriber": "can read the change events and keep durable consumers' cursors "
    "(event_consumers), and write nothing else",
}


async def _grant(settings: Settings, args: argparse.Namespace) -> int:
    from worker.runtime.database import open_database, require_schema
    from worker.storage.roles import grant_reader, grant_subscriber

    _require_database(settings, args)
    grant = grant_reader if args.command == "grant-reader" else grant_subscriber
    async with open_database(settings) as engine:
        await require_schema(engine)
        await grant(engine, args.role)
    print(f"role {args.role} {_GRANTED[args.command]}")
    return 0


async def _events(settings: Settings, args: argparse.Namespace) -> int:
    _require_database(settings, args)
    return await run_events_command(settings, args)


async def _config(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "show":
        print(show_settings(settings), end="")
    else:
        targets = ", ".join(t.name for t in settings.targets) or "none"
        print(f"configuration is valid; targets: {targets}")
    return 0


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "migrate": _migrate,
    "sync-once": _sync_once,
    "run": _run,
    "demo": _demo,
    "simulate": _simulate,
    "events": _events,
    "relay": _relay,
    "config": _config,
    "status": _status,
    "grant-reader": _grant,
    "grant-subscriber": _grant,
}
