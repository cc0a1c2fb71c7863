"""The ``campaign-sync`` command line's grammar: every command, option and default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from worker.cli.events import add_events_commands
from worker.version import __version__

__all__ = ["UsageError", "build_parser"]


class UsageError(Exception):
    """A command line argparse refused: reported as one line like every other user error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints its usage and exits; this CLI's errors are one line (one JSON
        # object in JSON mode), so the message travels to main() instead.
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """Every command, option and default of ``campaign-sync``."""
    parser = _Parser(
        prog="campaign-sync",
        description="Poll voice-AI calling providers' campaigns into PostgreSQL "
        "and emit change events.",
    )
    parser.add_argument("--version", action="version", version=f"campaign-sync {__version__}")
    parser.add_argument(
        "--config", type=Path, help="YAML config file (default: $CAMPAIGN_SYNC_CONFIG, else none)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="bring the database schema to the newest version")
    _embedded_flag(migrate)

    status = commands.add_parser(
        "status", help="each target: last success, age, last error, campaigns, lease, backlog"
    )
    status.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    _embedded_flag(status)
    grant = commands.add_parser(
        "grant-reader", help="create or update the read-only role for reporting"
    )
    grant.add_argument("role", nargs="?", default="campaign_sync_reader", help="role name")
    _embedded_flag(grant)
    subscriber = commands.add_parser(
        "grant-subscriber",
        help="create or update the role of a Python API subscriber (reads events, keeps cursors)",
    )
    subscriber.add_argument("role", nargs="?", default="campaign_sync_subscriber", help="role name")
    _embedded_flag(subscriber)

    config = commands.add_parser("config", help="check the configuration, or show it")
    config.add_argument(
        "action",
        choices=("check", "show", "example"),
        help="check: validate and exit 0 or 2; show: print the effective config, secrets "
        "hidden; example: print a commented example config (reads no config)",
    )

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
    _embedded_flag(run)

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

    relay = commands.add_parser(
        "relay", help="only the NATS relay (`nats:` in the config), as a daemon"
    )
    _embedded_flag(relay)

    add_events_commands(commands)

    simulate = commands.add_parser("simulate", help="serve one provider simulator on loopback")
    simulate.add_argument("provider", help="provider name, e.g. vox_v3")
    simulate.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    simulate.add_argument(
        "--day-seconds", type=float, default=240.0, help="real seconds per simulated day"
    )
    simulate.add_argument("--seed", type=int, default=1)
    return parser


def _embedded_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--embedded",
        action="store_true",
        help="with no database URL, use the embedded PostgreSQL (local disk; not for a pod)",
    )
