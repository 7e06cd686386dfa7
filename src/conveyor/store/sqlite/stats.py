"""Chart samples on SQLite (`store/charts.py` has the rules): a minute's sample is one
IMMEDIATE transaction on the writer, so the file's write lock makes one sampler write each
minute and the others find it taken. SQLite has no `percentile_cont`: the minute's finished
jobs are read (one minute of them: what SQLite can finish in a minute) and the percentiles
computed by `charts.latencies`, the same rule PostgreSQL's statement follows.

Times are epoch seconds; a minute is the epoch second it starts at.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from conveyor.store import charts
from conveyor.store.base import FailureSample, LatencySample, QueueSample, Sampled
from conveyor.store.sqlite import queues

_LIVE = queues.LIVE_BY_QUEUE_AND_TENANT
"""The live jobs by queue and tenant, counted as the queues view counts them."""

_STATUSES = ", ".join("?" * len(charts.LATENCY_STATUSES))
_FINISHED = f"""
SELECT tenant, started_at - run_at AS wait, finished_at - started_at AS run FROM jobs
 WHERE finished_at >= ? AND finished_at < ? AND started_at IS NOT NULL
   AND status IN ({_STATUSES})
"""

_TYPES = ", ".join("?" * len(charts.FAILURE_EVENTS))
_FAILURES = f"""
INSERT INTO stats_failure_minutes (minute, tenant, task, failures)
SELECT CAST(at / 60 AS INTEGER) * 60 AS minute, tenant, task, count(*) FROM job_events
 WHERE seq > ? AND seq <= ? AND type IN ({_TYPES}) AND at >= ?
 GROUP BY minute, tenant, task
    ON CONFLICT (minute, tenant, task) DO UPDATE SET failures = failures + excluded.failures
"""


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _depth(row: sqlite3.Row, oldest_at: float | None, now: float) -> charts.Depth:
    return charts.Depth(row["tenant"], row["queue"], int(row["pending"]), int(row["running"]),
                        None if oldest_at is None else charts.age(now, float(oldest_at)))


def sample_stats(conn: sqlite3.Connection, now: float, sampler: str, keep_days: float,
                 minute: datetime | None) -> Sampled:
    target = int(charts.sampled_minute(now, None if minute is None else minute.timestamp()))
    last, after = conn.execute("SELECT minute, event_seq FROM stats_state").fetchone()
    if last is not None and last >= target:
        return Sampled(None)

    previous = [] if last is None else [
        _depth(row, None, now) for row in conn.execute(
            "SELECT tenant, queue, pending, running FROM stats_queue_minutes WHERE minute = ?",
            (last,))]
    live = [_depth(row, row["oldest"], now)
            for row in conn.execute(_LIVE, {"now": now, "tenant": None})]
    rows = charts.depths(live, previous)
    conn.executemany(
        "INSERT INTO stats_queue_minutes (minute, tenant, queue, pending, running,"
        " oldest_pending_age_sec) VALUES (?, ?, ?, ?, ?, ?)",
        [(target, r.tenant, r.queue, r.pending, r.running, r.oldest_pending_age_sec)
         for r in rows])

    finished = conn.execute(_FINISHED, (target, target + charts.MINUTE_SEC,
                                        *(s.value for s in charts.LATENCY_STATUSES)))
    figures = charts.latencies((row["tenant"], row["wait"], row["run"]) for row in finished)
    conn.executemany(
        "INSERT INTO stats_latency_minutes (minute, tenant, jobs, wait_p50, wait_p95,"
        " wait_p99, run_p50, run_p95, run_p99) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(target, f.tenant, f.jobs, *f.wait, *f.run) for f in figures])

    kept_since = charts.kept_since(now, keep_days)
    newest = int(conn.execute("SELECT coalesce(max(seq), 0) FROM job_events").fetchone()[0])
    upto = charts.events_upto(int(after), newest)
    if upto > after:
        conn.execute(_FAILURES, (after, upto, *(e.value for e in charts.FAILURE_EVENTS),
                                 kept_since))
    conn.execute("UPDATE stats_state SET minute = ?, event_seq = ?, sampled_at = ?,"
                 " sampled_by = ?", (target, upto, now, sampler))
    pruned = sum(
        conn.execute(f"DELETE FROM {table} WHERE minute < ?", (kept_since,)).rowcount
        for table in ("stats_queue_minutes", "stats_latency_minutes", "stats_failure_minutes"))
    return Sampled(_at(target), queues=len(rows),
                   jobs=next((f.jobs for f in figures if f.tenant is None), 0),
                   events=upto - int(after), pruned=pruned)


def queue_samples(conn: sqlite3.Connection, now: float, minutes: int,
                  tenant: str | None) -> list[QueueSample]:
    rows = conn.execute(
        "SELECT minute, queue, sum(pending) AS pending, sum(running) AS running,"
        " max(oldest_pending_age_sec) AS oldest FROM stats_queue_minutes"
        " WHERE minute >= ? AND (? IS NULL OR tenant = ?)"
        " GROUP BY minute, queue ORDER BY minute, queue",
        (charts.window_start(now, minutes), tenant, tenant))
    return [QueueSample(_at(row["minute"]), row["queue"], int(row["pending"]),
                        int(row["running"]), row["oldest"]) for row in rows]


def latency_samples(conn: sqlite3.Connection, now: float, minutes: int,
                    tenant: str | None) -> list[LatencySample]:
    rows = conn.execute(
        "SELECT minute, jobs, wait_p50, wait_p95, wait_p99, run_p50, run_p95, run_p99"
        " FROM stats_latency_minutes WHERE minute >= ? AND tenant IS ? ORDER BY minute",
        (charts.window_start(now, minutes), tenant))
    return [LatencySample(_at(row["minute"]), int(row["jobs"]), row["wait_p50"],
                          row["wait_p95"], row["wait_p99"], row["run_p50"], row["run_p95"],
                          row["run_p99"]) for row in rows]


def failure_samples(conn: sqlite3.Connection, now: float, minutes: int,
                    tenant: str | None) -> list[FailureSample]:
    # Up to the last minute sampled: a later one may hold the first of its events already.
    rows = conn.execute(
        "SELECT minute, task, sum(failures) AS failures FROM stats_failure_minutes"
        " WHERE minute >= ? AND minute <= (SELECT minute FROM stats_state)"
        " AND (? IS NULL OR tenant = ?)"
        " GROUP BY minute, task ORDER BY minute, task",
        (charts.window_start(now, minutes), tenant, tenant))
    return [FailureSample(_at(row["minute"]), row["task"], int(row["failures"]))
            for row in rows]
