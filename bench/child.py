"""One measured run of one method, in a process of its own.

``python -m bench.child METHOD --spec JSON`` imports what the method needs,
then times the work alone (wall and this process's CPU) and prints one JSON
line: ``{"wall", "cpu", "rss_mb", "records", ...}``. Peak RSS is the process's
high-water mark, imports included.

Methods: ``campaign-sync`` (the product's own cycle through ``open_runtime`` and
``Runtime.sync_target``, what ``campaign-sync sync-once`` runs; with ``"steady"``
in the spec, a daemon's cycle: one cycle first, untimed, then the line
``ready``, then the timed cycle once a line comes on stdin), ``fetch-only``,
``copy``, ``copy-3`` and ``copy-lean`` (``bench.copy3``), ``naive``, ``dlt-merge`` and ``dlt-scd2``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.fetchers import ALL, NONE, Fetcher, Wanted, only

Spec = dict[str, Any]
READY = "ready"  # the steady child's first cycle is done (not JSON: see bench.phases)


def _wanted(spec: Spec) -> Wanted:
    details = spec["details"]
    if details == "all":
        return ALL
    if details == "none":
        return NONE
    return only(Path(details).read_text().split())


def _fetcher(spec: Spec, client: httpx.AsyncClient) -> Fetcher:
    return Fetcher(
        spec["provider"],
        client,
        page_size=spec["page_size"],
        concurrency=spec["concurrency"],
        wanted=_wanted(spec),
    )


def _client(spec: Spec) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=spec["concurrency"] + 1)
    return httpx.AsyncClient(base_url=spec["base_url"], limits=limits, timeout=60)


def _id_of(spec: Spec, record: dict[str, Any]) -> str:
    return str(record["campaign_id" if spec["provider"] == "sarvam" else "id"])


async def campaign_sync(spec: Spec) -> dict[str, Any]:
    from worker.config import load_settings
    from worker.runtime.app import open_runtime
    from worker.runtime.heap import settle_heap

    settings = load_settings(Path(spec["config"]))
    first: dict[str, float] = {}
    async with open_runtime(settings) as runtime:
        settle_heap()  # as the daemon and `campaign-sync sync` do
        [name] = runtime.providers
        if spec.get("steady"):
            # A daemon's cycle: the one before it ran in this process (see bench.phases).
            started = time.perf_counter(), time.process_time()
            await runtime.sync_target(name)
            first = {
                "wall": time.perf_counter() - started[0],
                "cpu": time.process_time() - started[1],
            }
            print(READY, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        started = time.perf_counter(), time.process_time()
        summary = await runtime.sync_target(name)
        wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    return {
        "wall": wall,
        "cpu": cpu,
        "first_cycle": first,
        "status": summary.status,
        "records": summary.records,
        "changed": summary.changed,
        "events": summary.events,
        "rejected": summary.rejected,
        "cycle_error": summary.error,
    }


async def fetch_only(spec: Spec) -> dict[str, Any]:
    async with _client(spec) as client:
        fetcher = _fetcher(spec, client)
        records = 0
        async for page in fetcher.pages():
            records += len(page)
    return {"records": records, "requests": fetcher.requests}


async def copy(spec: Spec) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(spec["dsn"])
    try:
        async with _client(spec) as client:
            fetcher = _fetcher(spec, client)
            records = 0
            async for page in fetcher.pages():
                rows = [(_id_of(spec, r), orjson.dumps(r).decode()) for r in page]
                await conn.copy_records_to_table(
                    "bench_campaigns", records=rows, columns=["id", "record"]
                )
                records += len(page)
    finally:
        await conn.close()
    return {"records": records, "requests": fetcher.requests}


async def copy_3(spec: Spec) -> dict[str, Any]:
    from bench.copy3 import copy_three

    async with _client(spec) as client:
        return await copy_three(spec, _fetcher(spec, client))


async def copy_lean(spec: Spec) -> dict[str, Any]:
    from bench.copy3 import copy_three

    async with _client(spec) as client:
        return await copy_three(spec, _fetcher(spec, client), lean=True)


async def naive(spec: Spec) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(spec["dsn"])
    upsert = (
        "INSERT INTO bench_campaigns (id, record) VALUES ($1, $2) "
        "ON CONFLICT (id) DO UPDATE SET record = excluded.record, fetched_at = now()"
    )
    try:
        async with _client(spec) as client:
            fetcher = _fetcher(spec, client)
            records = 0
            async for page in fetcher.pages():
                for record in page:  # autocommit: one statement, one transaction per record
                    await conn.execute(upsert, _id_of(spec, record), orjson.dumps(record).decode())
                records += len(page)
    finally:
        await conn.close()
    return {"records": records, "requests": fetcher.requests}


def dlt_run(spec: Spec, strategy: str) -> dict[str, Any]:
    from bench.dlt_peer import run_pipeline

    return run_pipeline(spec, strategy, _fetcher, _client)


ASYNC_METHODS: dict[str, Callable[[Spec], Awaitable[dict[str, Any]]]] = {
    "campaign-sync": campaign_sync,
    "fetch-only": fetch_only,
    "copy": copy,
    "copy-3": copy_3,
    "copy-lean": copy_lean,
    "naive": naive,
}


def main() -> None:
    parser = argparse.ArgumentParser(description="one measured bench run")
    parser.add_argument("method")
    parser.add_argument("--spec", required=True, help="the run, as JSON")
    args = parser.parse_args()
    spec: Spec = json.loads(args.spec)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if args.method in ASYNC_METHODS:
        result = asyncio.run(ASYNC_METHODS[args.method](spec))
    elif args.method in ("dlt-merge", "dlt-scd2"):
        result = dlt_run(spec, args.method.removeprefix("dlt-"))
    else:
        raise SystemExit(f"unknown method {args.method!r}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.setdefault("wall", time.perf_counter() - started)
    result.setdefault("cpu", usage.ru_utime + usage.ru_stime - cpu_before)
    result["rss_mb"] = usage.ru_maxrss / 1024
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
