"""Reporting views: current campaigns, status intervals, system pauses per day, target freshness.

* ``current_campaigns``: one row per campaign, its current version in readable
  columns (no raw payload or fingerprints), with ``vanished`` and ``last_seen_at``.
* ``campaign_status_intervals``: the history as time in each status. Consecutive
  versions with the same status (and, while paused, the same ``paused_by``) merge
  into one interval (gaps and islands); versions that record a vanish are not
  time in any status, so the interval before a vanish ends at the vanish. An
  open interval has ``ended_at`` NULL and its duration counts up to ``now()``.
* ``system_pauses_daily``: per campaign and UTC calendar day, the system pauses
  that started that day and the paused time that fell within it (a pause across
  midnight is split between the two days).
* ``target_freshness``: per target, the last successful cycle and its age, the
  newest failed (or abandoned) run's error, and the lease.

Times are those the worker recorded: a history version starts when the page
that showed it was fetched (``valid_from``), so an interval is as precise as the
poll interval. The views read the tables with their owner's rights; a later
migration that drops or retypes a column they read must drop and recreate them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A campaign listed by the target's last successful cycle (a complete listing) was
# seen then; one that missed a listing or vanished was not (last_seen_at NULL).
_CURRENT_CAMPAIGNS = """
CREATE VIEW current_campaigns AS
SELECT c.provider, c.account, c.campaign_id, c.name,
       c.status, c.status_raw, c.status_derived, c.paused_by, c.paused_at,
       c.vanished_at IS NOT NULL AS vanished, c.vanished_at, c.missed_listings,
       c.total_calls, c.completed_calls, c.failed_calls, c.active_calls, c.concurrency,
       c.created_at, c.scheduled_start_at, c.scheduled_end_at, c.finished_at,
       c.provider_updated_at, c.last_run_at,
       c.version, c.first_seen_at, c.last_changed_at,
       CASE WHEN c.vanished_at IS NULL AND c.missed_listings = 0
            THEN greatest(c.last_changed_at, t.last_success_at) END AS last_seen_at,
       c.call_window, c.time_flags, c.degraded
FROM campaigns c
LEFT JOIN sync_targets t ON t.provider = c.provider AND t.account = c.account
"""

# Islands: a version starts a new interval when its status, its paused_by (only
# meaningful while paused) or its vanished flag differs from the version before.
_STATUS_INTERVALS = """
CREATE VIEW campaign_status_intervals AS
WITH versions AS (
    SELECT provider, account, campaign_id, version, status,
           CASE WHEN status = 'paused' THEN paused_by END AS paused_by,
           vanished_at IS NOT NULL AS vanished, valid_from, valid_to
    FROM campaign_history
), marked AS (
    SELECT v.*,
           coalesce(lead(vanished) OVER w, false) AS before_vanish,
           CASE WHEN lag(status) OVER w = status
                 AND lag(paused_by) OVER w IS NOT DISTINCT FROM paused_by
                 AND lag(vanished) OVER w = vanished
                THEN 0 ELSE 1 END AS starts
    FROM versions v
    WINDOW w AS (PARTITION BY provider, account, campaign_id ORDER BY version)
), islands AS (
    SELECT m.*,
           sum(starts) OVER (PARTITION BY provider, account, campaign_id ORDER BY version)
               AS island
    FROM marked m
), merged AS (
    SELECT provider, account, campaign_id, status, paused_by,
           min(valid_from) AS started_at,
           CASE WHEN bool_and(valid_to IS NOT NULL) THEN max(valid_to) END AS ended_at,
           bool_or(before_vanish) AS ended_by_vanish,
           min(version) AS first_version, max(version) AS last_version
    FROM islands
    WHERE NOT vanished
    GROUP BY provider, account, campaign_id, island, status, paused_by
)
SELECT provider, account, campaign_id, status, paused_by, started_at, ended_at,
       greatest(coalesce(ended_at, now()), started_at) - started_at AS duration,
       extract(epoch FROM greatest(coalesce(ended_at, now()), started_at) - started_at)
           ::double precision AS duration_seconds,
       ended_by_vanish, first_version, last_version
FROM merged
"""

# Days are UTC calendar days whatever the session's TimeZone: every boundary is
# computed from timestamps read AT TIME ZONE 'UTC'.
_SYSTEM_PAUSES_DAILY = """
CREATE VIEW system_pauses_daily AS
WITH pauses AS (
    SELECT provider, account, campaign_id, started_at,
           greatest(coalesce(ended_at, now()), started_at) AS until,
           ended_at IS NULL AS ongoing
    FROM campaign_status_intervals
    WHERE status = 'paused' AND paused_by = 'system'
), slices AS (
    SELECT p.provider, p.account, p.campaign_id, p.ongoing,
           d.midnight::date AS day,
           d.midnight::date = (p.started_at AT TIME ZONE 'UTC')::date AS started_that_day,
           least(p.until, (d.midnight + interval '1 day') AT TIME ZONE 'UTC')
             - greatest(p.started_at, d.midnight AT TIME ZONE 'UTC') AS paused
    FROM pauses p
    CROSS JOIN LATERAL generate_series(
        date_trunc('day', p.started_at AT TIME ZONE 'UTC'),
        date_trunc('day', p.until AT TIME ZONE 'UTC'),
        interval '1 day'
    ) AS d(midnight)
)
SELECT provider, account, campaign_id, day,
       count(*) FILTER (WHERE started_that_day) AS pauses,
       sum(paused) AS paused,
       extract(epoch FROM sum(paused))::double precision AS paused_seconds,
       bool_or(ongoing) AS ongoing
FROM slices
WHERE paused > interval '0' OR started_that_day
GROUP BY provider, account, campaign_id, day
"""

_TARGET_FRESHNESS = """
CREATE VIEW target_freshness AS
SELECT t.provider, t.account,
       t.last_success_at, a.success_age,
       extract(epoch FROM a.success_age)::double precision AS success_age_seconds,
       t.last_status, t.last_finished_at,
       e.error AS last_error, e.finished_at AS last_error_at, e.status AS last_error_status,
       t.lease_owner, t.lease_expires_at,
       coalesce(t.lease_owner IS NOT NULL AND t.lease_expires_at > now(), false) AS lease_held,
       t.next_due_at, t.interval_seconds
FROM sync_targets t
-- greatest() skips NULLs: a target that never succeeded has no age, not zero.
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

# In dependency order: system_pauses_daily reads campaign_status_intervals.
_VIEWS = (
    ("current_campaigns", _CURRENT_CAMPAIGNS),
    ("campaign_status_intervals", _STATUS_INTERVALS),
    ("system_pauses_daily", _SYSTEM_PAUSES_DAILY),
    ("target_freshness", _TARGET_FRESHNESS),
)


def upgrade() -> None:
    for _, create in _VIEWS:
        op.execute(create)


def downgrade() -> None:
    for name, _ in reversed(_VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
