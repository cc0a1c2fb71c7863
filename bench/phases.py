# longer than 300 lines: every phase of the bench in one place, in the order it runs
"""The phases and how one run of one method is measured.

Per provider, in order, each phase running every method ``reps`` times:

* ``initial``: every method starts from an empty database (dropped and created
  again each rep) and reads the whole fleet, details included;
* ``no-change``: the same again, with nothing changed at the provider;
* ``change-1`` and ``change-10``: before each rep the fleet changes 1 % or 10 %
  of its campaigns (half of them change status, vox pauses being
  ``paused_by=system``), then every method runs once over the same state.
  The fetch-only ceiling fetches the details of the changed campaigns only
  (what the product needs); the peers, knowing no better, fetch them all;
* ``rate-limited``: on a small fleet of its own, campaign-sync's initial sync
  with ``http.rate_per_second`` set, against the floor: the requests the
  fetch-only client needs for the same data, less the one-second burst the
  limiter allows, divided by the rate;
* ``latency-no-change`` and ``latency-change-1``: on a fleet of its own whose
  simulator answers every request after ``--latency`` seconds (``bench.latency``),
  campaign-sync and fetch-only against the floor the provider's paging allows.

``copy-3`` and ``copy-lean`` (``bench.copy3``) run in the initial phase only.

campaign-sync's runs of the ``STEADY`` phases are a daemon's cycles: its child
first runs the cycle before, untimed, in the same process, and the fleet
changes only then, so the timed cycle starts with the digest table and the
token that cycle kept (``worker.sync.remembering``). The untimed cycle of a
no-change run is the first cycle of a process, the table loaded from the
store: it is reported as ``no-change-first`` (wall and client CPU only). Its
py-spy profile covers both cycles.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from bench.checks import check
from bench.children import run_child
from bench.fleet import KEYS, SARVAM_ORG, SARVAM_WORKSPACE, VOXO_EMAIL, VOXO_PASSWORD, VOXO_TENANT
from bench.infra import Fleet, Server
from bench.measure import (
    PostgresCpu,
    delta,
    process_cpu,
    reset_statements,
    statements,
    table_writes,
    top_statements,
)

PROVIDERS = ("vox_v3", "vox_v2", "voxo", "sarvam")
PEERS = ("copy", "copy-3", "copy-lean", "naive", "dlt-merge", "dlt-scd2")
METHODS = ("campaign-sync", "fetch-only", *PEERS)
INITIAL_ONLY = (
    "copy-3",
    "copy-lean",
)  # its keys refuse "insert everything again" (see bench.copy3)
# Phases whose campaign-sync run is a daemon's cycle, the one before it in the same process.
STEADY = ("no-change", "change-1", "change-10", "latency-no-change", "latency-change-1")
DATA_TABLES = ("campaigns", "campaign_history", "campaign_events")
SECRETS_ENV = {
    "BENCH_VOX_V3_KEY": KEYS["vox_v3"],
    "BENCH_VOX_V2_KEY": KEYS["vox_v2"],
    "BENCH_SARVAM_KEY": KEYS["sarvam"],
    "BENCH_VOXO_PASSWORD": VOXO_PASSWORD,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    n: int
    reps: int
    methods: tuple[str, ...]
    page_size: int
    concurrency: int
    dlt_cap: float
    rate: float
    rate_n: int
    rate_page_size: int
    profile: Path | None = None
    peers_on: tuple[str, ...] = PROVIDERS  # providers whose phases run the peers too
    latency: float = 0.1  # seconds each request waits in the latency phases
    latency_n: int = 0  # campaigns in the latency phases' fleets (0: no latency phases)
    db_prefix: str = "bench"  # every database the bench creates is named from it
    autovacuum: bool = True  # False: off on every table the bench measures (see Server)


def _target(provider: str, base_url: str, page_size: int, http: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = {
        "provider": provider,
        "account": "bench",
        "base_url": base_url,
        "page_size": page_size,
        "http": http,
        "limits": {"max_pages": 1_000_000, "cycle_deadline": 86_400},
    }
    if provider == "voxo":
        target |= {
            "email": VOXO_EMAIL,
            "password": {"env": "BENCH_VOXO_PASSWORD"},
            "tenant_id": VOXO_TENANT,
        }
    elif provider == "sarvam":
        target |= {
            "api_key": {"env": "BENCH_SARVAM_KEY"},
            "org_id": SARVAM_ORG,
            "workspace_id": SARVAM_WORKSPACE,
        }
    else:
        target["api_key"] = {"env": f"BENCH_{provider.upper()}_KEY"}
    return target


class Bench:
    """Runs the phases; ``runs`` holds every measured run, ``failures`` what was wrong."""

    def __init__(self, server: Server, options: Options, workdir: Path) -> None:
        self.server = server
        self.options = options
        self.workdir = workdir
        self.runs: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._pg_cpu = PostgresCpu(None)

    @property
    def template(self) -> str:
        return f"{self.options.db_prefix}_template_campaign_sync"

    async def prepare(self) -> None:
        """Migrate one template database; each campaign-sync database is copied from it."""
        await self.server.recreate(self.template)
        config = self._config("vox_v3", "http://127.0.0.1:1", self.template, self.options.page_size)
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", "--config", str(config), "migrate", env=self._env()
        )
        if await migrate.wait() != 0:
            raise SystemExit("campaign-sync migrate failed on the bench database")
        if not self.options.autovacuum:
            await self.server.quiet(self.template)  # its copies inherit the table options
        admin = await self.server.admin()
        try:
            self._pg_cpu = await PostgresCpu.find(admin)
        finally:
            await admin.close()

    def _env(self) -> dict[str, str]:
        return {**os.environ, **SECRETS_ENV, "PYTHONPATH": os.getcwd()}

    def _config(
        self, provider: str, base_url: str, database: str, page_size: int, **http: Any
    ) -> Path:
        http.setdefault("max_concurrency", self.options.concurrency)
        settings = {
            "database_url": self.server.url_of(database),
            "log_level": "WARNING",
            "log_format": "text",
            "targets": [_target(provider, base_url, page_size, http)],
        }
        path = self.workdir / f"{database}.yaml"
        path.write_text(yaml.safe_dump(settings))
        return path

    def database(self, method: str, provider: str) -> str:
        return f"{self.options.db_prefix}_{method.replace('-', '_')}_{provider}"

    async def reset(self, method: str, provider: str) -> None:
        database = self.database(method, provider)
        if method in ("campaign-sync", *INITIAL_ONLY):  # these write campaign-sync's own tables
            await self.server.recreate(database, template=self.template)
        elif method in ("copy", "naive"):
            await self.server.peer_table(database, primary_key=method == "naive")
        elif method.startswith("dlt"):
            await self.server.recreate(database)

    async def provider_phases(self, fleet: Fleet) -> None:
        provider, opts = fleet.provider, self.options
        methods = [m for m in opts.methods if m not in PEERS or provider in opts.peers_on]
        for rep in range(opts.reps):
            for method in methods:
                await self.reset(method, provider)
                await self.measure(fleet, "initial", method, rep, details="all")
        methods = [m for m in methods if m not in INITIAL_ONLY]
        for rep in range(opts.reps):
            for method in methods:
                await self.measure(fleet, "no-change", method, rep, details="none")
        for percent in (1, 10):
            for rep in range(opts.reps):
                await self.change_phase(
                    fleet,
                    f"change-{percent}",
                    methods,
                    rep,
                    percent=percent,
                    seed=percent * 100 + rep,
                )

    async def change_phase(
        self, fleet: Fleet, phase: str, methods: list[str], rep: int, *, percent: float, seed: int
    ) -> list[dict[str, Any]]:
        """One rep of a change phase: ``percent`` % of the fleet changes, then each method
        runs over that state. campaign-sync runs first, its fleet changed between its
        two cycles (``measure``); fetch-only reads the changed campaigns' details only."""
        changed: list[str] = []
        ids = self.workdir / f"changed-{fleet.provider}-{phase}-{rep}.txt"

        async def change() -> None:
            changed.extend(await fleet.mutate(percent, seed))
            ids.write_text("\n".join(changed))

        runs: list[dict[str, Any]] = []
        for method in sorted(methods, key=lambda m: m != "campaign-sync"):
            between = None
            if not runs and method == "campaign-sync":
                between = change
            elif not runs:
                await change()
            details = str(ids) if method == "fetch-only" else "all"
            runs.append(
                await self.measure(
                    fleet, phase, method, rep, details=details, changed=changed, between=between
                )
            )
        return runs

    async def rate_phase(self, fleet: Fleet) -> None:
        if "campaign-sync" not in self.options.methods:
            return
        opts = self.options
        for rep in range(opts.reps):
            floor = await self.measure(
                fleet, "rate-limited", "fetch-only", rep, details="all", page=opts.rate_page_size
            )
            await self.reset("campaign-sync", fleet.provider)
            run = await self.measure(
                fleet, "rate-limited", "campaign-sync", rep, details="all",
                page=opts.rate_page_size, rate=opts.rate,
            )  # fmt: skip
            # The product's limiter lets a burst of one second's worth through at once.
            run["floor"] = max(floor["requests"] - opts.rate, 0) / opts.rate

    async def measure(
        self,
        fleet: Fleet,
        phase: str,
        method: str,
        rep: int,
        *,
        details: str,
        changed: list[str] | None = None,
        page: int | None = None,
        rate: float | None = None,
        between: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """One run of ``method``, measured. A campaign-sync run of a phase in ``STEADY``
        is a daemon's cycle: its child runs a cycle first, then ``between`` (the fleet's
        change, if any), and only the second cycle is measured."""
        provider = fleet.provider
        database = self.database(method, provider)
        page_size = page or self.options.page_size
        stored = method != "fetch-only"
        spec: dict[str, Any] = {
            "provider": provider,
            "base_url": fleet.base_url,
            "page_size": page_size,
            "concurrency": self.options.concurrency,
            "details": details,
            "dsn": self.server.dsn_of(database),
            "dlt_credentials": self.server.dlt_credentials(database),
            "work_dir": str(self.workdir / "dlt"),
        }
        steady = method == "campaign-sync" and phase in STEADY
        if method == "campaign-sync":
            http = {"rate_per_second": rate} if rate else {}
            spec["config"] = str(
                self._config(provider, fleet.base_url, database, page_size, **http)
            )
            spec["steady"] = steady
        if stored and not self.options.autovacuum:
            await self.server.quiet(database)  # tables a peer made in an earlier run, too
        admin = await self.server.admin()
        before: dict[str, Any] = {}

        async def measure_from_here() -> None:
            if between is not None:
                await between()
            before["writes"] = await table_writes(self.server.dsn_of(database)) if stored else {}
            before["counts"] = await self._counts(database) if method == "campaign-sync" else {}
            await reset_statements(admin)
            before["http"] = await fleet.stats()
            before["sims"], before["pg"] = process_cpu(fleet.process.pid), self._pg_cpu.seconds()

        try:
            profile = self._profile_path(method, provider, phase, rep)
            if steady:
                result = await self._child(method, spec, profile, ready=measure_from_here)
            else:
                await measure_from_here()
                result = await self._child(method, spec, profile)
            writes_before, counts_before = before["writes"], before["counts"]
            http_before, sims_before, pg_before = before["http"], before["sims"], before["pg"]
            sims_cpu = process_cpu(fleet.process.pid) - sims_before
            http_after = await fleet.stats()
            sent = await statements(admin, database) if stored else 0
            top = await top_statements(admin, database) if method == "campaign-sync" else []
        finally:
            await admin.close()
        writes = (
            delta(await table_writes(self.server.dsn_of(database)), writes_before) if stored else {}
        )
        pg_after = self._pg_cpu.seconds()
        run: dict[str, Any] = {
            "provider": provider,
            "phase": phase,
            "method": method,
            "rep": rep,
            "n": fleet.n,
            **result,
            "cpu_sims": sims_cpu,
            "cpu_pg": None if pg_before is None or pg_after is None else pg_after - pg_before,
            "rows": writes,
            "rows_total": sum(writes.values()),
            # What users read: campaigns, their history and events (not the run bookkeeping).
            "rows_data": sum(v for k, v in writes.items() if k in DATA_TABLES),
            "http": {kind: http_after[kind] - http_before.get(kind, 0) for kind in http_after},
            "sql_statements": sent,
        }
        if top:
            run["top_sql"] = top
        if method == "campaign-sync":
            after = await self._counts(database)
            run["stored"] = {name: after[name] - counts_before[name] for name in after}
            run["events_emitted"] = run["stored"]["events"]
            self.failures.extend(check(run, changed))
        elif "error" in result or "over_cap" in result:
            pass  # reported in the table; a peer's failure is not the product's
        self.runs.append(run)
        label = f"{provider:7} {phase:12} {method:14} rep {rep}"
        print(f"{label}: {_brief(run)}", file=sys.stderr, flush=True)
        first = result.get("first_cycle")
        if phase == "no-change" and first:
            # The untimed cycle of a no-change run is the first cycle of a process (its
            # digest table loaded from the store): what runs before this one measured.
            self.runs.append(
                {"provider": provider, "phase": "no-change-first", "method": method,
                 "rep": rep, "n": fleet.n, "records": run.get("records"), "http": {},
                 "sql_statements": None, **first}
            )  # fmt: skip
        return run

    def _profile_path(self, method: str, provider: str, phase: str, rep: int) -> Path | None:
        if self.options.profile is None or method != "campaign-sync":
            return None
        self.options.profile.mkdir(parents=True, exist_ok=True)
        return self.options.profile / f"{provider}-{phase}-{rep}.txt"

    async def _child(
        self,
        method: str,
        spec: dict[str, Any],
        profile: Path | None = None,
        *,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        cap = self.options.dlt_cap if method.startswith("dlt") else None
        return await run_child(method, spec, self._env(), cap=cap, profile=profile, ready=ready)

    async def _counts(self, database: str) -> dict[str, int]:
        conn = await asyncpg.connect(self.server.dsn_of(database))
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT coalesce(sum(version), 0) FROM campaigns) AS versions, "
                "(SELECT count(*) FROM campaigns) AS campaigns, "
                "(SELECT count(*) FROM campaign_history) AS history, "
                "(SELECT count(*) FROM campaign_events) AS events, "
                "(SELECT count(*) FROM campaign_events WHERE type = 'campaign.discovered') "
                "AS discovered"
            )
            return {key: int(value) for key, value in dict(row).items()}
        finally:
            await conn.close()


def _brief(run: dict[str, Any]) -> str:
    if "error" in run:
        return f"error {run['error']}"
    if "over_cap" in run:
        return f"over the cap of {run['over_cap']:g} s"
    return (
        f"{run['wall']:.2f} s, {run.get('records', 0)} records, {run['rows_total']} rows, "
        f"http {run['http']}, cpu {run['cpu']:.1f}/{run['cpu_sims']:.1f}/"
        f"{run['cpu_pg'] or 0:.1f} s, rss {run.get('rss_mb', 0):.0f} MB"
    )
