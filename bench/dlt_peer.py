"""The dlt peer: a dlt resource over the same fetch, into the same PostgreSQL.

What a user writing "10 lines of dlt" gets: every run re-reads the whole listing
(details included), and dlt merges it into ``bench.campaigns`` by primary key
(``merge``) or keeps validity ranges per row hash (``scd2``). Needs the ``bench``
extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from bench.fetchers import Fetcher

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")


def run_pipeline(
    spec: dict[str, Any],
    strategy: str,
    make_fetcher: Callable[[dict[str, Any], httpx.AsyncClient], Fetcher],
    make_client: Callable[[dict[str, Any]], httpx.AsyncClient],
) -> dict[str, Any]:
    import dlt
    from dlt.destinations import postgres

    provider = spec["provider"]
    primary_key = "campaign_id" if provider == "sarvam" else "id"
    disposition: Any = (
        {"disposition": "merge", "strategy": "scd2"} if strategy == "scd2" else "merge"
    )
    sent: list[Fetcher] = []

    @dlt.resource(name="campaigns", primary_key=primary_key, write_disposition=disposition)
    async def campaigns() -> AsyncIterator[list[dict[str, Any]]]:
        async with make_client(spec) as client:
            fetcher = make_fetcher(spec, client)
            sent.append(fetcher)
            async for page in fetcher.pages():
                yield page

    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{provider}_{strategy}",
        pipelines_dir=spec["work_dir"],
        destination=postgres(credentials=spec["dlt_credentials"]),
        dataset_name="bench",
    )
    started = time.perf_counter(), time.process_time()
    pipeline.run(campaigns())
    wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    trace = pipeline.last_trace
    rows = dict(trace.last_normalize_info.row_counts) if trace.last_normalize_info else {}
    return {
        "wall": wall,
        "cpu": cpu,
        "records": rows.get("campaigns", 0),
        "requests": sum(f.requests for f in sent),
        "dlt_rows": rows,
    }
