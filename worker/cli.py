"""The ``campaign-sync`` command line.

Exit codes: 0 success; 1 a sync target failed; 2 invalid configuration;
3 the database is unusable; 4 a target is being synced elsewhere (its lease is
held by another worker; nothing failed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import anyio

from worker import __version__
from worker.cli_events import add_events_commands, run_events_command
from worker.config import Settings, load_settings
from worker.errors import ConfigError, StorageError, WorkerError
from worker.logs import configure_logging
from worker.redaction import SecretValues

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaign-sync",
        description="Poll voice-AI calling providers' campaigns into PostgreSQL "
        "and emit change events.",
    )
    parser.add_argument("--version", action="version", version=f"campaign-sync {__version__}")
    parser.add_argument(
        "--config", type=Path, help="YAML config file (default: $CAMPAIGN_SYNC_CONFIG, else none)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help="bring the database schema to the newest version")

    once = commands.add_parser("sync-once", help="run one sync cycle of every target, then exit")
    once.add_argument(
        "--target", action="append", help="only this target (provider/account); repeatable"
    )
    once.add_argument(
        "--lease-wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a target that another worker is syncing (default 10)",
    )

    run = commands.add_parser("run", help="run as a daemon: sync every target on its interval")
    run.add_argument(
        "--health-port", type=int, default=8080, help="port of /healthz, /readyz, /metrics (0: off)"
    )
    run.add_argument("--health-host", default="0.0.0.0", help="address of the health endpoints")  # noqa: S104

    demo = commands.add_parser("demo", help="simulators + embedded database + live event feed")
    demo.add_argument(
        "--day-seconds", type=float, default=240.0, help="real seconds per simulated day"
    )
    demo.add_argument("--poll-seconds", type=float, default=2.0, help="real seconds between syncs")
    demo.add_argument("--seed", type=int, default=1, help="simulator seed")
    demo.add_argument(
        "--data-dir", type=Path, help="embedded database dir (default: per-user demo dir)"
    )
    demo.add_argument("--duration", type=float, help="stop after this many real seconds")
    demo.add_argument("--show-progress", action="store_true", help="print progress events too")
    demo.add_argument(
        "--webhook",
        action="store_true",
        help="also deliver events to a local receiver that checks their signatures",
    )

    commands.add_parser("relay", help="only the NATS relay (`nats:` in the config), as a daemon")

    add_events_commands(commands)

    simulate = commands.add_parser("simulate", help="serve one provider simulator on loopback")
    simulate.add_argument("provider", help="provider name, e.g. vox_v3")
    simulate.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    simulate.add_argument(
        "--day-seconds", type=float, default=240.0, help="real seconds per simulated day"
    )
    simulate.add_argument("--seed", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and ``python -m worker``."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"campaign-sync: {exc}", file=sys.stderr)
        return 2
    text_logs = args.command in ("demo", "simulate")
    secrets = SecretValues(settings.secrets())
    configure_logging(
        "WARNING" if text_logs else settings.log_level,
        "text" if text_logs else settings.log_format,
        secrets,
    )
    args.secrets = secrets
    handler = _COMMANDS[args.command]
    try:
        return anyio.run(handler, settings, args)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        print(f"campaign-sync: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"campaign-sync: {exc}", file=sys.stderr)
        return 3
    except WorkerError as exc:
        print(f"campaign-sync: {exc}", file=sys.stderr)
        return 1


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from worker.app import open_database
    from worker.storage import migrate

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
        raise ConfigError(
            "no targets configured; list them under `targets:` in the config file "
            "(see config/example.yaml), or try `campaign-sync demo`"
        )


async def _sync_once(settings: Settings, args: argparse.Namespace) -> int:
    from worker.app import open_runtime

    _require_targets(settings)
    async with open_runtime(settings, secrets=args.secrets) as runtime:
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
    from worker.daemon import run_daemon

    _require_targets(settings)
    await run_daemon(settings, health_host=args.health_host, health_port=args.health_port)
    return 0


async def _relay(settings: Settings, args: argparse.Namespace) -> int:
    from worker.daemon import run_relay

    await run_relay(settings)
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from worker.demo import DemoOptions, run_demo

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
    from worker.demo import serve_simulator

    await serve_simulator(
        args.provider, port=args.port, day_seconds=args.day_seconds, seed=args.seed
    )
    return 0


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "migrate": _migrate,
    "sync-once": _sync_once,
    "run": _run,
    "demo": _demo,
    "simulate": _simulate,
    "events": run_events_command,
    "relay": _relay,
}
