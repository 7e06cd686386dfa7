"""Chart samples on PostgreSQL (`store/charts.py` has the rules): writing a minute's sample in
one transaction under the lock of the `stats_state` row, and reading the charts.

The winner of a minute holds the row lock while it samples; a worker that comes at the same
moment waits for it, then finds the minute taken (so the check before the lock spares the
late ones the wait). Nothing here runs on the hot path: the sample reads the live rows, the
jobs that ended in the minute (`jobs_finished`) and the events after its cursor (by `seq`,
the primary key), once a minute for the whole cluster.

The statements live here, beside their operations, rather than in `statements.py` (and so
are not rendered into `sql/`): none is prepared, and none runs on a job's path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor.lifecycle import JobStatus
from conveyor.store import charts
from conveyor.store.base import FailureSample, LatencySample, QueueSample, Sampled
from conveyor.store.postgres.events import Conn
from conveyor.store.postgres.rows import fetch

_PENDING, _RUNNING = JobStatus.PENDING.value, JobStatus.RUNNING.value

STATS_CLOCK = "SELECT now() AS now, minute FROM stats_state"
STATS_LOCK = "SELECT minute, event_seq FROM stats_state FOR UPDATE"

# The live rows through the partial indexes of pending and running jobs, as `list_queues`
# counts them (`QUEUE_STATS`), by tenant too.
STATS_LIVE = f"""
SELECT tenant, queue,
       count(*) FILTER (WHERE status = '{_PENDING}' AND run_at <= %(now)s) AS pending,
       count(*) FILTER (WHERE status = '{_RUNNING}') AS running,
       min(run_at) FILTER (WHERE status = '{_PENDING}' AND run_at <= %(now)s) AS oldest_at
  FROM jobs WHERE status IN ('{_PENDING}', '{_RUNNING}')
 GROUP BY tenant, queue
"""

STATS_PREVIOUS = """
SELECT tenant, queue, pending, running FROM stats_queue_minutes WHERE minute = %(minute)s
"""

STATS_WRITE_QUEUES = """
INSERT INTO stats_queue_minutes (minute, tenant, queue, pending, running, oldest_pending_age_sec)
SELECT %(minute)s, * FROM unnest(%(tenants)s::text[], %(queues)s::text[], %(pending)s::int[],
                                 %(running)s::int[], %(oldest)s::float8[])
"""

# Per tenant and for every tenant together (the empty grouping set: tenant NULL), with
# `percentile_cont`, which `charts.percentile` reproduces for SQLite.
STATS_LATENCY = """
SELECT CASE WHEN grouping(tenant) = 0 THEN tenant END AS tenant, count(*) AS jobs,
       percentile_cont(%(fractions)s::float8[]) WITHIN GROUP (
           ORDER BY greatest(0, extract(epoch FROM started_at - run_at))::float8) AS wait,
       percentile_cont(%(fractions)s::float8[]) WITHIN GROUP (
           ORDER BY greatest(0, extract(epoch FROM finished_at - started_at))::float8) AS run
  FROM jobs
 WHERE finished_at >= %(start)s AND finished_at < %(end)s AND started_at IS NOT NULL
   AND status = ANY(%(statuses)s::text[])
 GROUP BY GROUPING SETS ((tenant), ())
HAVING count(*) > 0
"""

STATS_WRITE_LATENCY = """
INSERT INTO stats_latency_minutes (minute, tenant, jobs, wait_p50, wait_p95, wait_p99,
                                   run_p50, run_p95, run_p99)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

STATS_NEWEST_EVENT = "SELECT coalesce(max(seq), 0) AS newest FROM job_events"

STATS_FAILURES = """
INSERT INTO stats_failure_minutes AS f (minute, tenant, task, failures)
SELECT date_trunc('minute', at), tenant, task, count(*) FROM job_events
 WHERE seq > %(after)s AND seq <= %(upto)s AND type = ANY(%(types)s::text[])
   AND at >= %(kept_since)s
 GROUP BY 1, 2, 3
    ON CONFLICT (minute, tenant, task) DO UPDATE SET failures = f.failures + excluded.failures
"""

STATS_ADVANCE = """
UPDATE stats_state SET minute = %(minute)s, event_seq = %(upto)s, sampled_at = now(),
       sampled_by = %(sampler)s
"""

STATS_PRUNE = """
WITH q AS (DELETE FROM stats_queue_minutes WHERE minute < %(kept_since)s RETURNING 1),
     l AS (DELETE FROM stats_latency_minutes WHERE minute < %(kept_since)s RETURNING 1),
     f AS (DELETE FROM stats_failure_minutes WHERE minute < %(kept_since)s RETURNING 1)
SELECT (SELECT count(*) FROM q) + (SELECT count(*) FROM l) + (SELECT count(*) FROM f) AS n
"""

_SINCE = charts.window_start_sql("%(minutes)s")

STATS_QUEUE_SAMPLES = f"""
SELECT minute, queue, sum(pending)::bigint AS pending, sum(running)::bigint AS running,
       max(oldest_pending_age_sec) AS oldest
  FROM stats_queue_minutes
 WHERE minute >= {_SINCE} AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
 GROUP BY minute, queue ORDER BY minute, queue
"""

STATS_LATENCY_SAMPLES = f"""
SELECT minute, jobs, wait_p50, wait_p95, wait_p99, run_p50, run_p95, run_p99
  FROM stats_latency_minutes
 WHERE minute >= {_SINCE} AND tenant IS NOT DISTINCT FROM %(tenant)s::text
 ORDER BY minute
"""

# Up to the last minute sampled: a later one may hold the first of its events already.
STATS_FAILURE_SAMPLES = f"""
SELECT minute, task, sum(failures)::bigint AS failures
  FROM stats_failure_minutes
 WHERE minute >= {_SINCE} AND minute <= (SELECT minute FROM stats_state)
   AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
 GROUP BY minute, task ORDER BY minute, task
"""


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _depth(row: dict[str, Any], now: float) -> charts.Depth:
    oldest: datetime | None = row.get("oldest_at")  # None in a previous sample's rows
    return charts.Depth(row["tenant"], row["queue"], int(row["pending"]), int(row["running"]),
                        None if oldest is None else charts.age(now, oldest.timestamp()))


async def sample_stats(conn: Conn, sampler: str, keep_days: float,
                       minute: datetime | None) -> Sampled:
    async with conn.transaction():
        [clock] = await fetch(conn, STATS_CLOCK, None, False)
        now = clock["now"].timestamp()
        target = charts.sampled_minute(now, None if minute is None else minute.timestamp())
        if clock["minute"] is not None and clock["minute"].timestamp() >= target:
            return Sampled(None)  # taken already: no need to wait for the lock
        [state] = await fetch(conn, STATS_LOCK, None, False)
        last = state["minute"]
        if last is not None and last.timestamp() >= target:
            return Sampled(None)
        at = {"minute": _at(target), "now": clock["now"]}

        previous = [] if last is None else [
            _depth(row, now)
            for row in await fetch(conn, STATS_PREVIOUS, {"minute": last}, False)]
        live = [_depth(row, now) for row in await fetch(conn, STATS_LIVE, at, False)]
        rows = charts.depths(live, previous)
        if rows:
            await conn.execute(STATS_WRITE_QUEUES, at | {
                "tenants": [r.tenant for r in rows], "queues": [r.queue for r in rows],
                "pending": [r.pending for r in rows], "running": [r.running for r in rows],
                "oldest": [r.oldest_pending_age_sec for r in rows]})

        figures = [
            charts.Latency(row["tenant"], int(row["jobs"]),
                           tuple(charts.seconds(v) for v in row["wait"]),
                           tuple(charts.seconds(v) for v in row["run"]))
            for row in await fetch(conn, STATS_LATENCY, {
                "start": _at(target), "end": _at(target + charts.MINUTE_SEC),
                "fractions": list(charts.PERCENTILES),
                "statuses": [status.value for status in charts.LATENCY_STATUSES]}, False)]
        if figures:
            async with conn.cursor() as cur:
                await cur.executemany(STATS_WRITE_LATENCY, [
                    (_at(target), f.tenant, f.jobs, *f.wait, *f.run) for f in figures])

        kept_since = _at(charts.kept_since(now, keep_days))
        [newest] = await fetch(conn, STATS_NEWEST_EVENT, None, False)
        after = int(state["event_seq"])
        upto = charts.events_upto(after, int(newest["newest"]))
        if upto > after:
            await conn.execute(STATS_FAILURES, {
                "after": after, "upto": upto, "kept_since": kept_since,
                "types": [event.value for event in charts.FAILURE_EVENTS]})
        await conn.execute(STATS_ADVANCE, {"minute": _at(target), "upto": upto,
                                           "sampler": sampler})
        [pruned] = await fetch(conn, STATS_PRUNE, {"kept_since": kept_since}, False)
        return Sampled(_at(target), queues=len(rows),
                       jobs=next((f.jobs for f in figures if f.tenant is None), 0),
                       events=upto - after, pruned=int(pruned["n"]))


async def queue_samples(conn: Conn, minutes: int, tenant: str | None) -> list[QueueSample]:
    return [
        QueueSample(row["minute"], row["queue"], int(row["pending"]), int(row["running"]),
                    None if row["oldest"] is None else float(row["oldest"]))
        for row in await fetch(conn, STATS_QUEUE_SAMPLES,
                               {"minutes": minutes, "tenant": tenant}, False)
    ]


async def latency_samples(conn: Conn, minutes: int, tenant: str | None
                          ) -> list[LatencySample]:
    return [
        LatencySample(row["minute"], int(row["jobs"]), row["wait_p50"], row["wait_p95"],
                      row["wait_p99"], row["run_p50"], row["run_p95"], row["run_p99"])
        for row in await fetch(conn, STATS_LATENCY_SAMPLES,
                               {"minutes": minutes, "tenant": tenant}, False)
    ]


async def failure_samples(conn: Conn, minutes: int, tenant: str | None
                          ) -> list[FailureSample]:
    return [
        FailureSample(row["minute"], row["task"], int(row["failures"]))
        for row in await fetch(conn, STATS_FAILURE_SAMPLES,
                               {"minutes": minutes, "tenant": tenant}, False)
    ]
