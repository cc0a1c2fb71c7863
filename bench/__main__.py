"""campaign-sync against its peers and the fetch ceilings, side by side in one run.

    python -m bench --n 100000            # the full run (RESULTS.md); --reps 3 by default
    python -m bench --n 2000 --reps 1 --no-dlt   # the CI smoke
    python -m bench --n 1000000 --no-peers --reps 1   # the 1 000 000 memory run
    CAMPAIGN_SYNC_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python -m bench --autovacuum off --db-prefix bench_lead   # on a server

Each provider gets its own fleet of ``--n`` campaigns (``bench.fleet``: the
project's simulators, seeded, on loopback, one process each) and every method
gets a database of its own on one server (embedded PostgreSQL unless
``CAMPAIGN_SYNC_BENCH_DATABASE_URL`` is set). For each provider, each phase runs
every method, ``--reps`` times (see ``bench.phases``), then the rate-limited
and latency phases on small fleets of their own. Figures go to
``--out`` as ``results.json`` and ``results.md``; the table is printed.

The exit status is 1 when campaign-sync crashed or wrote the wrong numbers of
rows or events (see ``bench.checks``); timings never fail the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.infra import Fleet, Server
from bench.latency import latency_phases
from bench.phases import METHODS, PEERS, PROVIDERS, Bench, Options
from bench.report import markdown, summarize


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="campaigns per provider")
    parser.add_argument("--reps", type=int, default=3, help="runs of each method and phase")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--no-dlt", action="store_true", help="leave the dlt methods out")
    parser.add_argument(
        "--peers", action=argparse.BooleanOptionalAction, default=True, help="run the peers"
    )
    parser.add_argument(
        "--peers-on",
        default=",".join(PROVIDERS),
        help="comma-separated providers whose phases run the peers (default: all; 'none')",
    )
    parser.add_argument("--page-size", type=int, default=100, help="list page size")
    parser.add_argument("--concurrency", type=int, default=4, help="detail requests in flight")
    parser.add_argument("--dlt-cap", type=float, default=600.0, help="seconds per dlt run")
    parser.add_argument("--rate", type=float, default=5.0, help="requests/s, rate-limited phase")
    parser.add_argument("--rate-n", type=int, default=100, help="campaigns, rate-limited phase")
    parser.add_argument("--rate-page-size", type=int, default=5, help="page size, rate phase")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds, latency phases")
    parser.add_argument(
        "--latency-n",
        type=int,
        default=None,
        help="campaigns, latency phases (default: a tenth of --n, at most 10 000; 0: none)",
    )
    parser.add_argument(
        "--autovacuum",
        choices=("on", "off"),
        default="on",
        help="off: autovacuum off on every table the bench writes (and on the embedded server)",
    )
    parser.add_argument(
        "--db-prefix", default="bench", help="names of the databases the bench creates"
    )
    parser.add_argument(
        "--keep-databases",
        action="store_true",
        help="leave the databases on CAMPAIGN_SYNC_BENCH_DATABASE_URL's server (default: drop)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record campaign-sync's runs with py-spy into this directory (the bench extra)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="results directory")
    return parser


def _machine() -> dict[str, object]:
    import os

    memory = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


async def _run(args: argparse.Namespace, command: str) -> int:
    providers = [p for p in args.providers.split(",") if p]
    methods = [m for m in args.methods.split(",") if m]
    if args.no_dlt:
        methods = [m for m in methods if not m.startswith("dlt")]
    if not args.peers:
        methods = [m for m in methods if m not in PEERS]
    peers_on = [p for p in args.peers_on.split(",") if p and p != "none"]
    unknown = sorted({*providers, *peers_on} - set(PROVIDERS)) + sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"unknown provider or method: {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    latency_n = min(10_000, args.n // 10) if args.latency_n is None else args.latency_n
    server = Server(autovacuum=args.autovacuum == "on")
    with server, tempfile.TemporaryDirectory(prefix="campaign-sync-bench-") as tmp:
        await server.read_settings()
        fleets = {p: Fleet(p, args.n, args.seed) for p in providers}
        rate_fleets = {p: Fleet(p, args.rate_n, args.seed) for p in providers}
        latency_fleets = {p: Fleet(p, latency_n, args.seed) for p in providers if latency_n > 0}
        small = [*rate_fleets.values(), *latency_fleets.values()]
        try:
            for fleet in [*fleets.values(), *small]:
                fleet.wait_ready()
            options = Options(
                n=args.n,
                reps=args.reps,
                methods=tuple(methods),
                page_size=args.page_size,
                concurrency=args.concurrency,
                dlt_cap=args.dlt_cap,
                rate=args.rate,
                rate_n=args.rate_n,
                rate_page_size=args.rate_page_size,
                profile=args.profile,
                peers_on=tuple(peers_on),
                latency=args.latency,
                latency_n=latency_n,
                db_prefix=args.db_prefix,
                autovacuum=args.autovacuum == "on",
            )
            bench = Bench(server, options, Path(tmp))
            await bench.prepare()
            for provider in providers:
                await bench.provider_phases(fleets[provider])
            for provider in providers:
                await bench.rate_phase(rate_fleets[provider])
            for fleet in latency_fleets.values():
                await latency_phases(bench, fleet)
        finally:
            for fleet in [*fleets.values(), *small]:
                fleet.stop()
            if server.external and not args.keep_databases:
                await server.drop_created()
        database = {
            "kind": server.label,
            **server.settings(),
            "bench_tables_autovacuum": args.autovacuum,
        }
    results = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "database": database,
        "options": vars(args) | {"out": str(args.out)},
        "latency_n": latency_n,
        "runs": bench.runs,
        "failures": bench.failures,
    }
    results["summary"] = summarize(results)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)
    for failure in bench.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if bench.failures else 0


def main() -> None:
    args = _parser().parse_args()
    command = "python -m bench " + " ".join(sys.argv[1:])
    sys.exit(asyncio.run(_run(args, command)))


if __name__ == "__main__":
    main()
