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
