"""A realistic finished history written straight into a migrated store, for the listing bench.

`bench.prefill` writes uniform rows (one tenant, one task, all `done`): enough to see whether
leasing notices a big table, not enough to measure filters, whose cost depends on how many
rows match and where they sit. This module writes the same kind of rows (what the store itself
would have left, ids UUIDv7 from the creation times, three events per job, the counters moved
by `conveyor.lifecycle.counter_deltas`) with the spread a dashboard meets:

- statuses 70 % `done`, 25 % `failed` (its `last_error` one of 50 messages with a number in
  each, Zipf-distributed, plus one rare message on about 100 jobs), 5 % `cancelled` (asked
  while running);
- 9 tenants of falling size and one rare tenant (about 100 jobs), 5 queues, 20 tasks;
- payloads with a unique-ish e-mail address, an order number, a kind and an amount;
- a trace id shared by each 3 consecutive jobs (a batch submit);
- created over the last `days` (default 7, ending 2 minutes ago), started after a short
  wait, finished after a run of up to a minute.

The rows come from `random.Random(seed)`, so both stores hold the same data. They are made in
Python and written in bulk (PostgreSQL: `COPY` into a temporary table, then one `INSERT …
SELECT` that converts the epoch seconds; SQLite: `executemany` in one transaction), the events
by one `INSERT … SELECT` from the jobs on either store: a million jobs and three million
events take about a minute rather than the hours a million API calls would.

A store's search structures then get what the store would have given rows it wrote itself
(`_finish_postgres`, `_finish_sqlite`): statistics (`VACUUM ANALYZE` / `ANALYZE`, as
autovacuum would soon do on PostgreSQL; the SQLite side is a choice, see `analyze`) and the
SQLite full-text index of finished jobs filled by the store's own indexer, which a running
store runs every few seconds, until it has caught up.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.prefill import catch_up_text_index
from conveyor.lifecycle import EventType, JobStatus, counter_deltas
from conveyor.store.rows import dumps
from conveyor.store.sqlite import sqlite_path_from_url

WORKER = "bench-history"
RARE_TENANT = "cyberdyne"
RARE_TENANT_JOBS = 100
TENANTS: tuple[tuple[str, float], ...] = (
    ("acme", 30), ("globex", 20), ("initech", 15), ("umbrella", 10), ("hooli", 8),
    ("stark", 7), ("wayne", 5), ("wonka", 3), ("tyrell", 2),
)
"""The common tenants and their weights; `RARE_TENANT` gets about `RARE_TENANT_JOBS` jobs."""
QUEUES: dict[str, tuple[tuple[str, float], ...]] = {
    "default": (("sync_crm", 4), ("webhook_deliver", 3), ("cleanup_temp", 2),
                ("geocode_address", 1)),
    "emails": (("send_welcome", 4), ("send_receipt", 3), ("send_digest", 2), ("send_reset", 1)),
    "billing": (("charge_card", 4), ("refund_payment", 3), ("issue_invoice", 2),
                ("sync_ledger", 1)),
    "reports": (("build_report", 4), ("export_csv", 3), ("aggregate_daily", 2),
                ("archive_logs", 1)),
    "media": (("resize_image", 4), ("transcode_video", 3), ("generate_thumbnail", 2),
              ("scan_upload", 1)),
}
"""Each queue's tasks and their weights within it."""
QUEUE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("default", 30), ("emails", 30), ("billing", 15), ("reports", 15), ("media", 10))
_ERROR_TEMPLATES = (
    "TimeoutError: upstream did not answer within {n} ms",
    "ConnectionError: connection refused by db-{n}.internal:5432",
    "HTTPError: 503 Service Unavailable from api-{n}.partner.example",
    "ValueError: invalid amount {n} for currency EUR",
    "KeyError: 'customer_{n}'",
    "RateLimited: retry after {n} s",
    "PermissionError: bucket media-{n} denied write",
    "OSError: [Errno 28] No space left on device /data/{n}",
    "SMTPError: 421 mailbox {n} temporarily unavailable",
    "IntegrityError: duplicate key order_{n}",
)
ERRORS: tuple[str, ...] = tuple(
    template.format(n=n) for template in _ERROR_TEMPLATES
    for n in (30_000, 5_000, 1_250, 404, 7))
"""The 50 ordinary messages, most frequent first (Zipf weights 1/rank)."""
COMMON_ERROR = "TimeoutError"
"""In the 5 most frequent messages: about half the failed jobs."""
RARE_ERROR = "LedgerChecksumError: checksum mismatch on shard 7731"
RARE_ERROR_JOBS = 100
KINDS: tuple[tuple[str, float], ...] = (
    ("invoice", 25), ("signup", 20), ("refund", 15), ("report", 15), ("reminder", 15),
    ("upload", 10))
COMMON_PAYLOAD = "invoice"
"""A payload value of a quarter of the jobs."""
STATUSES: tuple[tuple[JobStatus, float], ...] = (
    (JobStatus.DONE, 70), (JobStatus.FAILED, 25), (JobStatus.CANCELLED, 5))
_FINAL_EVENT = {JobStatus.DONE: EventType.SUCCEEDED, JobStatus.FAILED: EventType.FAILED,
                JobStatus.CANCELLED: EventType.CANCELLED}
CHUNK = 20_000


@dataclass(frozen=True)
class HistoryPlan:
    rows: int
    seed: int = 15
    days: float = 7.0
    ended_ago_sec: float = 120.0
    now: float | None = None
    """The moment the history ends `ended_ago_sec` before (None: when it is written). One
    moment for every store makes their rows identical, times included."""
    analyze: bool = True
    """Also ANALYZE on SQLite (PostgreSQL always gets VACUUM ANALYZE, as autovacuum would do):
    with statistics SQLite's planner may choose differently than on a store that never had
    them (conveyor itself runs no ANALYZE there unless its migrations or code do)."""


@dataclass
class Seeded:
    """What was written, and how long each part took."""

    rows: int
    by_status: dict[str, int]
    by_tenant: dict[str, int]
    events: int
    seconds: dict[str, float] = field(default_factory=dict)
    maintenance: list[str] = field(default_factory=list)


class _Pick:
    """A weighted choice by bisecting the cumulative weights: `random.choices` per row costs
    more than the rest of a row's making."""

    def __init__(self, weighted: tuple[tuple[str, float], ...] | list[tuple[str, float]]):
        self.values = [value for value, _ in weighted]
        self.cumulative = list(itertools.accumulate(weight for _, weight in weighted))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> str:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


Row = tuple[str, str, str, str, str, str, int, float, float, float, str | None, str | None,
            str, float | None]
"""(id, tenant, queue, task, payload JSON, status, max_retries, created_at = run_at,
started_at, finished_at, last_error, result JSON, trace_id, cancel_requested_at); times are
epoch seconds."""


def generate(plan: HistoryPlan) -> Iterator[Row]:
    """The rows, oldest first, deterministic for a seed and `plan.now`."""
    rng = random.Random(plan.seed)
    end = (time.time() if plan.now is None else plan.now) - plan.ended_ago_sec
    span = plan.days * 86_400.0
    step = span / plan.rows
    if step < 0.01:
        raise ValueError("too many rows for the window: ids need 1 ms between jobs")
    start = end - span - 60.0  # the last job may run a minute and still end before `end`
    status_pick = _Pick([(s.value, w) for s, w in STATUSES])
    tenant_pick = _Pick(TENANTS)
    queue_pick = _Pick(QUEUE_WEIGHTS)
    task_picks = {queue: _Pick(tasks) for queue, tasks in QUEUES.items()}
    error_pick = _Pick([(message, 1 / rank) for rank, message in enumerate(ERRORS, 1)])
    kind_pick = _Pick(KINDS)
    rare_tenant_p = min(0.5, RARE_TENANT_JOBS / plan.rows)
    rare_error_p = min(0.5, RARE_ERROR_JOBS / (plan.rows * 0.25))
    trace = ""
    for i in range(plan.rows):
        created = start + (i + rng.random() * 0.9) * step
        ms = int(created * 1000)
        value = ((ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62)
                 | rng.getrandbits(62))
        h = f"{value:032x}"
        job_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        status = status_pick(rng)
        tenant = RARE_TENANT if rng.random() < rare_tenant_p else tenant_pick(rng)
        queue = queue_pick(rng)
        task = task_picks[queue](rng)
        email = f"{rng.getrandbits(40):010x}@mail{i % 7}.example.com"
        payload = dumps({"customer_email": email, "order_id": 1_000_000 + i,
                         "kind": kind_pick(rng), "amount_cents": rng.randrange(100, 500_000)})
        if i % 3 == 0:
            trace = f"{rng.getrandbits(128):032x}"
        started = created + min(30.0, rng.expovariate(1 / 0.3))
        runtime = min(60.0, rng.lognormvariate(-1.0, 1.2))
        finished = started + runtime
        error = result = cancel_requested = None
        if status == "failed":
            error = RARE_ERROR if rng.random() < rare_error_p else error_pick(rng)
        elif status == "done":
            result = '{"ok":true}'
        else:
            cancel_requested = finished - min(runtime, 0.05)
        yield (job_id, tenant, queue, task, payload, status, 0 if status == "failed" else 3,
               created, started, finished, error, result, trace, cancel_requested)


def _deltas(by_status: dict[str, int]) -> dict[str, int]:
    """The counters `by_status` finished jobs moved: created, leased, then their end."""
    totals: dict[str, int] = {}
    for status, count in by_status.items():
        final = _FINAL_EVENT[JobStatus(status)]
        events = [(EventType.CREATED, None), (EventType.LEASED, JobStatus.PENDING),
                  (final, JobStatus.RUNNING)]
        for name, delta in counter_deltas(events).items():
            totals[name] = totals.get(name, 0) + delta * count
    return totals


def seed(kind: str, url: str, plan: HistoryPlan) -> Seeded:
    """Write the history into the (empty, migrated) store at `url`."""
    if kind == "sqlite":
        return _seed_sqlite(url, plan)
    return _seed_postgres(url, plan)


def _check_empty(jobs: int) -> None:
    """The events and counters are written for every job in the table: it must be ours."""
    if jobs:
        raise RuntimeError(f"the store already holds {jobs:,} jobs: seed a fresh one")


def _tally(seeded: Seeded, row: Row) -> None:
    seeded.by_status[row[5]] = seeded.by_status.get(row[5], 0) + 1
    seeded.by_tenant[row[1]] = seeded.by_tenant.get(row[1], 0) + 1


# -- SQLite -----------------------------------------------------------------------------------

_SQLITE_EVENTS = f"""
INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task, worker, error, data)
SELECT j.id,
       CASE e.k WHEN 0 THEN 'job_created' WHEN 1 THEN 'job_leased'
            ELSE CASE j.status WHEN 'done' THEN 'job_succeeded' WHEN 'failed' THEN 'job_failed'
                 ELSE 'job_cancelled' END END,
       CASE e.k WHEN 0 THEN 'pending' WHEN 1 THEN 'running' ELSE j.status END,
       CASE e.k WHEN 0 THEN j.created_at WHEN 1 THEN j.started_at ELSE j.finished_at END,
       min(e.k, 1), j.tenant, j.task,
       CASE WHEN e.k > 0 THEN '{WORKER}' END,
       CASE WHEN e.k = 2 THEN j.last_error END,
       CASE e.k WHEN 1 THEN json_object('wait', round(j.started_at - j.run_at, 6))
                WHEN 2 THEN json_object('runtime', round(j.finished_at - j.started_at, 6))
       END
  FROM jobs AS j CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) AS e
 ORDER BY j.id, e.k
"""


def _seed_sqlite(url: str, plan: HistoryPlan) -> Seeded:
    path = sqlite_path_from_url(url)
    seeded = Seeded(plan.rows, {}, {}, 0)
    started = time.monotonic()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB for the index builds
        conn.execute("BEGIN IMMEDIATE")
        _check_empty(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
        rows = generate(plan)
        while chunk := list(itertools.islice(rows, CHUNK)):
            for row in chunk:
                _tally(seeded, row)
            conn.executemany(
                "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority,"
                " attempts, max_retries, run_at, created_at, started_at, finished_at,"
                " last_error, result, trace_id, cancel_requested_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*r[:8], *r[7:]) for r in chunk])
        seeded.seconds["jobs"] = round(time.monotonic() - started, 1)
        mark = time.monotonic()
        seeded.events = conn.execute(_SQLITE_EVENTS).rowcount
        seeded.seconds["events"] = round(time.monotonic() - mark, 1)
        conn.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            sorted(_deltas(seeded.by_status).items()))
        mark = time.monotonic()
        seeded.maintenance += _finish_sqlite(conn, path)
        conn.execute("COMMIT")
        seeded.seconds["fts_and_commit"] = round(time.monotonic() - mark, 1)
        if plan.analyze:
            mark = time.monotonic()
            conn.execute("ANALYZE")
            seeded.maintenance.append("ANALYZE")
            seeded.seconds["analyze"] = round(time.monotonic() - mark, 1)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seeded.seconds["total"] = round(time.monotonic() - started, 1)
    return seeded


def _finish_sqlite(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Fill SQLite's text index the way a running store does (`prefill.catch_up_text_index`):
    the rows were inserted finished, after the index's `upto`, so the store would otherwise
    index them a batch every few seconds after it opens. Returns what was done."""
    added = catch_up_text_index(conn)
    return [f"jobs_text: {added:,} rows added by the store's indexer"]


# -- PostgreSQL -------------------------------------------------------------------------------

_PG_STAGE = """
CREATE TEMPORARY TABLE history_seed (
    id text, tenant text, queue text, task text, payload text, status text,
    max_retries integer, created double precision, started double precision,
    finished double precision, last_error text, result text, trace_id text,
    cancel_requested double precision
) ON COMMIT DROP
"""
_PG_JOBS = """
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts, max_retries,
                  run_at, created_at, started_at, finished_at, last_error, result, trace_id,
                  cancel_requested_at)
SELECT id::uuid, tenant, queue, task, payload::jsonb, status, 0, 1, max_retries,
       to_timestamp(created), to_timestamp(created), to_timestamp(started),
       to_timestamp(finished), last_error, result::jsonb, trace_id,
       to_timestamp(cancel_requested)
  FROM history_seed
"""
_PG_EVENTS = f"""
INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task, worker, error, data)
SELECT j.id,
       CASE e.k WHEN 0 THEN 'job_created' WHEN 1 THEN 'job_leased'
            ELSE CASE j.status WHEN 'done' THEN 'job_succeeded' WHEN 'failed' THEN 'job_failed'
                 ELSE 'job_cancelled' END END,
       CASE e.k WHEN 0 THEN 'pending' WHEN 1 THEN 'running' ELSE j.status END,
       CASE e.k WHEN 0 THEN j.created_at WHEN 1 THEN j.started_at ELSE j.finished_at END,
       least(e.k, 1), j.tenant, j.task,
       CASE WHEN e.k > 0 THEN '{WORKER}' END,
       CASE WHEN e.k = 2 THEN j.last_error END,
       CASE e.k
            WHEN 1 THEN jsonb_build_object(
                'wait', round(extract(epoch FROM j.started_at - j.run_at)::numeric, 6))
            WHEN 2 THEN jsonb_build_object(
                'runtime', round(extract(epoch FROM j.finished_at - j.started_at)::numeric, 6))
       END
  FROM jobs AS j CROSS JOIN (VALUES (0), (1), (2)) AS e(k)
 ORDER BY j.id, e.k
"""


def _copy_text(value: str | float | int | None) -> str:
    """One field of COPY's text format. The generated strings hold no tab, newline or
    backslash (checked), so only NULL needs spelling."""
    if value is None:
        return "\\N"
    if not isinstance(value, str):
        return repr(value)
    if "\\" in value or "\t" in value or "\n" in value:
        raise ValueError(f"escape this for COPY: {value!r}")
    return value


def _seed_postgres(url: str, plan: HistoryPlan) -> Seeded:
    seeded = Seeded(plan.rows, {}, {}, 0)
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        row = conn.execute("SELECT count(*) FROM jobs").fetchone()
        _check_empty(row[0] if row else 0)
        conn.execute(_PG_STAGE)
        with conn.cursor().copy("COPY history_seed FROM STDIN") as copy:
            rows = generate(plan)
            while chunk := list(itertools.islice(rows, CHUNK)):
                lines = []
                for r in chunk:
                    _tally(seeded, r)
                    lines.append("\t".join(_copy_text(v) for v in r))
                copy.write("\n".join(lines) + "\n")
        conn.execute(_PG_JOBS)
        seeded.seconds["jobs"] = round(time.monotonic() - started, 1)
        mark = time.monotonic()
        seeded.events = conn.execute(_PG_EVENTS).rowcount
        seeded.seconds["events"] = round(time.monotonic() - mark, 1)
        for name, delta in sorted(_deltas(seeded.by_status).items()):
            conn.execute(
                "INSERT INTO counters AS c (name, shard, value) VALUES (%s, 0, %s)"
                " ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value",
                (name, delta))
    mark = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("jobs", "job_events"):
            conn.execute(f"VACUUM ANALYZE {table}")
        seeded.maintenance.append("VACUUM ANALYZE jobs, job_events")
    seeded.seconds["analyze"] = round(time.monotonic() - mark, 1)
    seeded.seconds["total"] = round(time.monotonic() - started, 1)
    return seeded


# -- reading it back --------------------------------------------------------------------------


def counters(kind: str, url: str) -> dict[str, int]:
    """The store's counters, summed over shards: what totals are read from."""
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(sqlite_path_from_url(url))) as conn:
            return {name: int(value) for name, value in conn.execute(
                "SELECT name, value FROM counters")}
    with psycopg.connect(url) as conn:
        return {str(name): int(value) for name, value in conn.execute(
            "SELECT name, sum(value) FROM counters GROUP BY name")}


def describe(seeded: Seeded) -> str:
    statuses = ", ".join(f"{seeded.by_status.get(s.value, 0):,} {s.value}" for s, _ in STATUSES)
    return (f"{seeded.rows:,} jobs ({statuses}; {seeded.by_tenant.get(RARE_TENANT, 0)} of the "
            f"rare tenant) and {seeded.events:,} events in {seeded.seconds['total']:.1f} s "
            f"({json.dumps(seeded.seconds)})")
