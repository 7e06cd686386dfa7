"""Jobs written straight into the tables with SQL, for the growth cases.

A million jobs through `store.submit_many` take minutes; one `INSERT … SELECT` over
`generate_series` (PostgreSQL) or a recursive CTE (SQLite) takes seconds. The rows are what
the store itself would have left:

- `done` jobs (the history): attempts 1, started and finished, no lease, each with its
  `job_created`, `job_leased` and `job_succeeded` events;
- `pending` jobs (a backlog to drain): runnable now, each with its `job_created` event;

ids are UUIDv7 made from each row's creation time (one millisecond apart, ending a minute
ago), so they sort like real ones and stay below every id made afterwards; the counters move
by what `conveyor.lifecycle.counter_deltas` says those transitions move, so `/metrics` and
the drains' progress polls read the truth. This mirrors the schema of
`src/conveyor/store/*/migrations` and `store/postgres/sql`: a schema change that breaks it
makes the fill fail loudly, never measure a wrong table.

On PostgreSQL the tables are then `VACUUM ANALYZE`d, as autovacuum would soon do by itself
(`autovacuum_vacuum_scale_factor = 0.01`): otherwise it would start in the middle of the
measurement. SQLite gets no ANALYZE, since conveyor never runs one there, but its text index
is filled by the store's own indexer (`catch_up_text_index`), as a running store keeps it:
otherwise every process of the measured store would spend its first minutes indexing the
history, a batch of 20,000 every few seconds under the write lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Literal

import psycopg

from conveyor.lifecycle import EventType, JobStatus, counter_deltas
from conveyor.store.sqlite import sqlite_path_from_url
from conveyor.store.sqlite.search import INDEX_SETTLE_SEC, index_search

HISTORY_TASK = "bench_history"
"""The task name of the stored history, so drains count only their own jobs."""
WORKER = "bench-prefill"

Status = Literal["done", "pending"]
_SALT = {"done": 1, "pending": 2}
"""The 12 bits after the UUID version: keeps the two kinds of rows' ids apart."""


def _events(status: Status) -> list[tuple[EventType, JobStatus | None]]:
    created: list[tuple[EventType, JobStatus | None]] = [(EventType.CREATED, None)]
    if status == "pending":
        return created
    return [*created, (EventType.LEASED, JobStatus.PENDING),
            (EventType.SUCCEEDED, JobStatus.RUNNING)]


def _deltas(status: Status, count: int) -> dict[str, int]:
    return {name: delta * count for name, delta in counter_deltas(_events(status)).items()}


def fill_jobs(kind: str, url: str, count: int, status: Status, task: str,
              ended_ago_sec: float = 60.0) -> float:
    """Insert `count` jobs of `task` in `status` into the (migrated) store at `url`, the last
    made `ended_ago_sec` ago (the retention case stores days-old history); returns the
    seconds it took."""
    started = time.monotonic()
    base_ms = int(time.time() * 1000) - count - int(ended_ago_sec * 1000)
    if kind == "sqlite":
        _fill_sqlite(url, count, status, task, base_ms)
    else:
        _fill_postgres(url, count, status, task, base_ms)
    return time.monotonic() - started


# The three events of a done job, by its creation time: created, leased 1 ms later, finished
# 1 ms after that. (k orders them; the VALUES are the same on both drivers.)
_EVENT_ROWS = """(0, 'job_created', 'pending', 0.0, 0, NULL, NULL),
       (1, 'job_leased', 'running', 0.001, 1, '{worker}', '{{"wait":0.0}}'),
       (2, 'job_succeeded', 'done', 0.002, 1, '{worker}', '{{"runtime":0.001}}')"""


def _fill_sqlite(url: str, count: int, status: Status, task: str, base_ms: int) -> None:
    done = status == "done"
    with contextlib.closing(sqlite3.connect(sqlite_path_from_url(url))) as conn:
        conn.execute("PRAGMA busy_timeout = 10000")
        with conn:  # one transaction
            conn.execute(
                "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ?)"
                " INSERT INTO jobs (id, tenant, queue, task, payload, status, priority,"
                " attempts, max_retries, run_at, created_at, started_at, finished_at)"
                " SELECT printf('%08x-%04x-7%03x-8000-%012x', (? + i) >> 16, (? + i) & 65535,"
                "               ?, i),"
                "        'default', 'default', ?, '{\"n\":' || i || '}', ?, 0, ?, 3,"
                "        (? + i) / 1000.0, (? + i) / 1000.0,"
                "        CASE WHEN ? THEN (? + i) / 1000.0 + 0.001 END,"
                "        CASE WHEN ? THEN (? + i) / 1000.0 + 0.002 END"
                "   FROM s",
                (count - 1, base_ms, base_ms, _SALT[status], task, status, 1 if done else 0,
                 base_ms, base_ms, done, base_ms, done, base_ms),
            )
            kinds = 3 if done else 1
            conn.execute(
                "WITH e(k, type, status, off, attempt, worker, data) AS (VALUES "
                + _EVENT_ROWS.format(worker=WORKER) + ")"
                " INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task,"
                " worker, error, data)"
                " SELECT j.id, e.type, e.status, j.created_at + e.off, e.attempt, j.tenant,"
                "        j.task, e.worker, NULL, e.data"
                "   FROM jobs AS j JOIN e ON e.k < ?"
                "  WHERE j.task = ? ORDER BY j.id, e.k",
                (kinds, task),
            )
            conn.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                sorted(_deltas(status, count).items()),
            )
        if done:
            with conn:
                catch_up_text_index(conn)


def catch_up_text_index(conn: sqlite3.Connection) -> int:
    """Run SQLite's text indexer (`conveyor.store.sqlite.search.index_search`, which every
    store process runs every few seconds) until it has caught up with rows inserted
    finished, after the index's `upto`; the rows it added."""
    added = 0
    while batch := index_search(conn, time.time() + INDEX_SETTLE_SEC, limit=200_000):
        added += batch
    return added


def _fill_postgres(url: str, count: int, status: Status, task: str, base_ms: int) -> None:
    done = status == "done"
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
            "                  max_retries, run_at, created_at, started_at, finished_at)"
            " SELECT (lpad(to_hex(%(base)s::bigint + i), 12, '0') || '7' || %(salt)s"
            "         || '8000' || lpad(to_hex(i), 12, '0'))::uuid,"
            "        'default', 'default', %(task)s, jsonb_build_object('n', i), %(status)s, 0,"
            "        %(attempts)s, 3, t, t,"
            "        CASE WHEN %(done)s THEN t + interval '1 ms' END,"
            "        CASE WHEN %(done)s THEN t + interval '2 ms' END"
            "   FROM generate_series(0, %(last)s) AS i"
            "  CROSS JOIN LATERAL (SELECT to_timestamp((%(base)s::bigint + i) / 1000.0)) AS x(t)",
            {"base": base_ms, "salt": f"{_SALT[status]:03x}", "task": task, "status": status,
             "attempts": 1 if done else 0, "done": done, "last": count - 1},
        )
        conn.execute(
            "INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task, worker,"
            "                        error, data)"
            " SELECT j.id, e.type, e.status, j.created_at + make_interval(secs => e.off),"
            "        e.attempt, j.tenant, j.task, e.worker, NULL, e.data::jsonb"
            "   FROM jobs AS j"
            "   JOIN (VALUES " + _EVENT_ROWS.format(worker=WORKER) + ")"
            "        AS e(k, type, status, off, attempt, worker, data) ON e.k < %s"
            "  WHERE j.task = %s ORDER BY j.id, e.k",
            (3 if done else 1, task),
        )
        for name, delta in sorted(_deltas(status, count).items()):
            conn.execute(
                "INSERT INTO counters AS c (name, shard, value) VALUES (%s, 0, %s)"
                " ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value",
                (name, delta),
            )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("VACUUM ANALYZE job_events")
