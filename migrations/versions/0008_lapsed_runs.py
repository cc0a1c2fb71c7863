"""Runs whose worker died read as abandoned as soon as their lease lapses.

A run stays ``running`` in ``sync_runs`` until a worker closes it: the one that
ran it, or the next one to claim the target or to start. In between (every
replica stopped, say), the views must not show it as running, nor the run
before it as the target's last one:

* ``sync_run_outcomes`` (new): one row per run, as ``sync_runs`` with
  ``status``, ``finished_at`` and ``error`` read as they truly stand: a run
  recorded ``running`` whose target's lease is no longer its own and unexpired
  (same owner, same fencing token, ``lease_expires_at > now()``) is
  ``abandoned``, finished when its lease expired, with the error the worker
  that closes it will write. ``recorded_status`` keeps what ``sync_runs`` says.
* ``target_freshness`` (same columns): ``last_status`` and ``last_finished_at``
  are such a lapsed run's (``abandoned``) while there is one, and the last error
  columns count it as the newest abandoned run.

The run's own lease decides, not the clock alone: a worker whose lease expired
but was not taken over may still renew it, and then its run reads ``running``
again (the worker that finishes it records its real outcome).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``error``: the words worker.storage.leases writes when it closes such a run (frozen here).
_RUN_OUTCOMES = """
CREATE VIEW sync_run_outcomes AS
SELECT r.id, r.provider, r.account, r.started_at,
       CASE WHEN x.lapsed
            THEN coalesce(CASE WHEN t.lease_token = r.lease_token THEN t.lease_expires_at END,
                          r.started_at)
            ELSE r.finished_at END AS finished_at,
       CASE WHEN x.lapsed THEN 'abandoned' ELSE r.status END AS status,
       r.pages, r.records, r.changed, r.events, r.rejected, r.vanished, r.deferred,
       CASE WHEN x.lapsed THEN 'abandoned: the worker running it stopped renewing its lease'
            ELSE r.error END AS error,
       r.owner, r.lease_token, r.status AS recorded_status
FROM sync_runs r
LEFT JOIN sync_targets t ON t.provider = r.provider AND t.account = r.account
CROSS JOIN LATERAL (
    SELECT r.status = 'running' AND NOT coalesce(
        t.lease_owner = r.owner AND t.lease_token = r.lease_token
        AND t.lease_expires_at > now(), false) AS lapsed
) x
"""

# ``d``: a run recorded running whose lease lapsed. A claim closes every running run of
# its target before it opens one, so such a run is the target's newest.
_TARGET_FRESHNESS = """
CREATE OR REPLACE VIEW target_freshness AS
SELECT t.provider, t.account,
       t.last_success_at, a.success_age,
       extract(epoch FROM a.success_age)::double precision AS success_age_seconds,
       coalesce(d.status, t.last_status) AS last_status,
       coalesce(d.finished_at, t.last_finished_at) AS last_finished_at,
       e.error AS last_error, e.finished_at AS last_error_at, e.status AS last_error_status,
       t.lease_owner, t.lease_expires_at,
       coalesce(t.lease_owner IS NOT NULL AND t.lease_expires_at > now(), false) AS lease_held,
       t.next_due_at, t.interval_seconds
FROM sync_targets t
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.last_success_at IS NOT NULL
                THEN greatest(now() - t.last_success_at, interval '0') END AS success_age
) a
LEFT JOIN LATERAL (
    SELECT o.status, o.finished_at
    FROM sync_run_outcomes o
    WHERE o.provider = t.provider AND o.account = t.account
      AND o.recorded_status = 'running' AND o.status = 'abandoned'
    ORDER BY o.started_at DESC, o.id DESC
    LIMIT 1
) d ON true
LEFT JOIN LATERAL (
    SELECT o.error, coalesce(o.finished_at, o.started_at) AS finished_at, o.status
    FROM sync_run_outcomes o
    WHERE o.provider = t.provider AND o.account = t.account
      AND o.status IN ('failed', 'abandoned')
    ORDER BY o.started_at DESC, o.id DESC
    LIMIT 1
) e ON true
"""

# 0007's definition, frozen: what the downgrade puts back.
_TARGET_FRESHNESS_0007 = """
CREATE OR REPLACE VIEW target_freshness AS
SELECT t.provider, t.account,
       t.last_success_at, a.success_age,
       extract(epoch FROM a.success_age)::double precision AS success_age_seconds,
       t.last_status, t.last_finished_at,
       e.error AS last_error, e.finished_at AS last_error_at, e.status AS last_error_status,
       t.lease_owner, t.lease_expires_at,
       coalesce(t.lease_owner IS NOT NULL AND t.lease_expires_at > now(), false) AS lease_held,
       t.next_due_at, t.interval_seconds
FROM sync_targets t
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.last_success_at IS NOT NULL
                THEN greatest(now() - t.last_success_at, interval '0') END AS success_age
) a
LEFT JOIN LATERAL (
    SELECT r.error, coalesce(r.finished_at, r.started_at) AS finished_at, r.status
    FROM sync_runs r
    WHERE r.provider = t.provider AND r.account = t.account
      AND r.status IN ('failed', 'abandoned')
    ORDER BY r.started_at DESC, r.id DESC
    LIMIT 1
) e ON true
"""


def upgrade() -> None:
    op.execute(_RUN_OUTCOMES)
    op.execute(_TARGET_FRESHNESS)


def downgrade() -> None:
    op.execute(_TARGET_FRESHNESS_0007)
    op.execute("DROP VIEW IF EXISTS sync_run_outcomes")
