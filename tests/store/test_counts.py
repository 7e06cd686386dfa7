"""One definition of each count, on every driver: `/metrics` counts are counters moved in the
transaction of each state change (`conveyor.lifecycle`), never a scan of the table."""

from __future__ import annotations

import uuid

from conveyor.models import Ack, Fail, JobStatus, NewJob
from conveyor.store.base import Store
from tests.store.sql import run_raw

LONG = 300.0


async def rows_by_status(store: Store) -> dict[str, int]:
    rows = await run_raw(store, "SELECT status, count(*) FROM jobs GROUP BY status")
    found = {str(status): int(str(n)) for status, n in rows}
    return {status.value: found.get(status.value, 0) for status in JobStatus}


async def counted(store: Store) -> dict[str, int]:
    counts = await store.counts()
    return {status.value: getattr(counts, status.value) for status in JobStatus}


async def expire(store: Store, job_id: uuid.UUID) -> None:
    """Move a lease's expiry into the past (to the job's creation, in either time type)."""
    await run_raw(store, f"UPDATE jobs SET lease_expires_at = created_at WHERE id = '{job_id}'")


async def workload(store: Store) -> None:
    """Every transition at least once: submit, lease, ack, retry, DLQ, rescue (both ways),
    release, retry from the DLQ."""
    await store.submit_many([NewJob("t", {"n": i}, max_retries=1) for i in range(8)])
    leases = await store.lease("w", ["default"], 6, LONG)
    ack, retried, dead, released, rescued, rescued_dead = leases
    await store.finish([Ack(ack), Fail(retried, "boom", retry_in_sec=60),
                        Fail(dead, "bad", permanent=True)], "w")
    await store.release([released])
    await expire(store, rescued.job_id)
    await store.rescue()
    await store.retry(dead.job_id)
    # A second attempt of `rescued_dead` that expires too: rescue sends it to the DLQ.
    await run_raw(store, f"UPDATE jobs SET attempts = 2 WHERE id = '{rescued_dead.job_id}'")
    await expire(store, rescued_dead.job_id)
    await store.rescue()


async def test_counts_follow_every_transition(store: Store) -> None:
    await workload(store)
    assert await counted(store) == await rows_by_status(store)
    counts = await store.counts()
    assert counts.pending >= 1 and counts.running == 0 and counts.done == 1
    assert counts.failed == 2 and counts.jobs_submitted == 9
    events = dict(await run_raw(store, "SELECT type, count(*) FROM job_events GROUP BY type"))
    assert counts.retries == int(str(events["job_retry_scheduled"])) + int(
        str(events["job_lease_expired"]))


async def test_counts_come_from_counters_not_from_the_rows(store: Store) -> None:
    """A row written behind the store's back is not counted: the counts read the counters,
    so /metrics costs the same with a million jobs as with none."""
    await store.submit(NewJob("t", {}))
    before = await store.counts()
    await run_raw(store, "UPDATE jobs SET status = 'done'")
    assert await store.counts() == before


async def test_counts_stay_right_after_finished_jobs_are_deleted(store: Store) -> None:
    """Deleting finished jobs and their history (what retention will do) leaves every count
    as it was: done and failed count jobs that ever finished so, the live counts match the
    rows, and the cumulative counters never go back."""
    await workload(store)
    before = await store.counts()
    live_before = await rows_by_status(store)
    await run_raw(store, "DELETE FROM job_events WHERE job_id IN"
                         " (SELECT id FROM jobs WHERE status IN ('done', 'failed'))")
    await run_raw(store, "UPDATE jobs SET retry_of = NULL, retried_by = NULL")
    await run_raw(store, "DELETE FROM jobs WHERE status IN ('done', 'failed')")
    after = await store.counts()
    assert after == before
    live_after = await rows_by_status(store)
    assert (after.pending, after.running) == (live_after["pending"], live_after["running"])
    assert live_after["pending"] == live_before["pending"]
    assert live_after["done"] == live_after["failed"] == 0
    # …and the counters keep moving from there.
    lease = (await store.lease("w", ["default"], 1, LONG))[0]
    await store.finish([Ack(lease)], "w")
    assert (await store.counts()).done == before.done + 1


async def test_counts_stay_right_through_replays_and_keyed_batches(store: Store) -> None:
    """The transaction paths (keys in a batch, a rate limit) and replays move the counters
    exactly as often as they create jobs."""
    from conveyor.models import RateLimit

    keyed = [NewJob("t", {}, idempotency_key=f"k{i % 3}", request_hash="h") for i in range(5)]
    await store.submit_many(keyed)  # three jobs, two in-batch repeats
    await store.submit_many(keyed[:2])  # replays
    await store.submit_many([NewJob("t", {}) for _ in range(4)], RateLimit(100))
    await store.submit(NewJob("t", {}, idempotency_key="k0", request_hash="h"))  # replay
    counts = await store.counts()
    assert counts.jobs_submitted == 7 and counts.pending == 7
    assert await counted(store) == await rows_by_status(store)


async def test_migration_0002_starts_the_counters_from_stored_rows(database_url: str) -> None:
    """An upgrade: a database at schema 1 holding jobs of every status gets counters equal to
    its rows (and, on PostgreSQL, loses the old cumulative 'done'/'failed' rows)."""
    from conveyor.store import connect_store
    from conveyor.store.migrate import load_migrations

    first = load_migrations("sqlite" if database_url.startswith("sqlite") else "postgres")[0]
    statuses = ["pending", "pending", "running", "done", "done", "done", "failed"]
    inserts = "".join(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, max_retries, run_at,"
        f" created_at) VALUES ('{uuid.uuid4()}', 'd', 'default', 't', '{{}}', '{status}', 3,"
        f" {'0' if database_url.startswith('sqlite') else 'now()'},"
        f" {'0' if database_url.startswith('sqlite') else 'now()'});\n"
        for status in statuses)
    if database_url.startswith("sqlite"):
        import sqlite3

        from conveyor.store.sqlite.migrate import split_sqlite_statements

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            for statement in split_sqlite_statements(first.sql + inserts):
                conn.execute(statement)
            conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                         " name TEXT NOT NULL, applied_at REAL NOT NULL)")
            conn.execute("INSERT INTO schema_migrations VALUES (1, ?, 0)", (first.name,))
    else:
        import psycopg

        from tests.pgsupport import empty_postgres_database

        with empty_postgres_database() as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(first.sql.encode())
                conn.execute(inserts.encode())
                conn.execute("INSERT INTO counters VALUES ('done', 0, 3), ('failed', 5, 1)")
                conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                             " name text NOT NULL, applied_at timestamptz NOT NULL"
                             " DEFAULT now())")
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (1, %s)",
                             (first.name,))
            await _check_counts(await connect_store(url), statuses)
        return
    await _check_counts(await connect_store(database_url), statuses)


async def _check_counts(store: Store, statuses: list[str]) -> None:
    try:
        counts = await store.counts()
        assert {s.value: getattr(counts, s.value) for s in JobStatus} == {
            s.value: statuses.count(s.value) for s in JobStatus}
        assert await counted(store) == await rows_by_status(store)
    finally:
        await store.close()
