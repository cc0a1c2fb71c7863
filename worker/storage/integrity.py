"""The promises the tables keep, as SQL: each check lists the rows that break one.

Run by the test suite after every test that writes, and by the reliability
scenarios after every fault. An empty result means:

* every campaign has exactly one open history row (its current version, what
  ``campaigns`` shows), and it is its newest;
* versions run 1, 2, 3 … with no hole, and each one starts where the one before ended;
* no history row ends before it starts;
* every history version has at least one event, and no campaign event names a
  version that was never stored (``provider.*`` events name no campaign);
* (once the workers stopped) no run is left ``running``.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.storage.engine import storage_errors

__all__ = ["CHECKS", "integrity_violations"]

CHECKS: dict[str, str] = {
    # ``campaigns`` is the open rows (migration 0010) and the index allows one per
    # campaign, so what can break is a campaign whose rows are all closed.
    "one open history row per campaign, at its newest version": """
        SELECT h.provider || '/' || h.account || '/' || h.campaign_id || ' v' || max(h.version)
               || ': open rows ' || count(*) FILTER (WHERE h.valid_to IS NULL)
               || ', open version '
               || coalesce(max(h.version) FILTER (WHERE h.valid_to IS NULL)::text, 'none')
        FROM campaign_history h
        GROUP BY h.provider, h.account, h.campaign_id
        HAVING count(*) FILTER (WHERE h.valid_to IS NULL) <> 1
            OR max(h.version) FILTER (WHERE h.valid_to IS NULL) <> max(h.version)
    """,
    "versions contiguous from 1": """
        SELECT h.provider || '/' || h.account || '/' || h.campaign_id || ': versions '
               || min(h.version) || '..' || max(h.version) || ' in ' || count(*) || ' rows'
        FROM campaign_history h
        GROUP BY h.provider, h.account, h.campaign_id
        HAVING min(h.version) <> 1 OR max(h.version) <> count(*)
    """,
    "no history row ends before it starts": """
        SELECT provider || '/' || account || '/' || campaign_id || ' v' || version
        FROM campaign_history WHERE valid_to < valid_from
    """,
    "no gap or overlap between consecutive versions": """
        SELECT a.provider || '/' || a.account || '/' || a.campaign_id || ' v' || a.version
               || ' ends ' || coalesce(a.valid_to::text, 'never') || ', v' || b.version
               || ' starts ' || b.valid_from
        FROM campaign_history a
        JOIN campaign_history b
          ON b.provider = a.provider AND b.account = a.account
         AND b.campaign_id = a.campaign_id AND b.version = a.version + 1
        WHERE a.valid_to IS DISTINCT FROM b.valid_from
    """,
    "every history version has an event": """
        SELECT h.provider || '/' || h.account || '/' || h.campaign_id || ' v' || h.version
        FROM campaign_history h
        WHERE NOT EXISTS (
            SELECT 1 FROM campaign_events e
            WHERE e.provider = h.provider AND e.account = h.account
              AND e.campaign_id = h.campaign_id AND e.version = h.version)
    """,
    "no event for a version that was never stored": """
        SELECT e.provider || '/' || e.account || '/' || e.campaign_id || ' event v' || e.version
               || ' (' || e.type || ')'
        FROM campaign_events e
        WHERE e.type LIKE 'campaign.%' AND NOT EXISTS (
            SELECT 1 FROM campaign_history h
            WHERE h.provider = e.provider AND h.account = e.account
              AND h.campaign_id = e.campaign_id AND h.version = e.version)
    """,
}

_RUNNING = """
    SELECT 'run ' || id || ' of ' || provider || '/' || account || ' is still running'
    FROM sync_runs WHERE status = 'running'
"""


async def integrity_violations(engine: AsyncEngine, *, workers_stopped: bool = True) -> list[str]:
    """Every broken promise, as ``"<check>: <row>"`` lines (at most 20 per check).

    ``workers_stopped`` adds the check that no run is left ``running``.
    """
    checks = dict(CHECKS)
    if workers_stopped:
        checks["no run left running once the workers stopped"] = _RUNNING
    found: list[str] = []
    with storage_errors("checking the tables' integrity"):
        async with engine.connect() as conn:
            for name, sql in checks.items():
                rows = (await conn.execute(text(sql))).fetchmany(20)
                found.extend(f"{name}: {line}" for (line,) in rows)
    return found
