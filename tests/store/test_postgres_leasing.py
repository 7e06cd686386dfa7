"""PostgreSQL leasing under concurrency: SKIP LOCKED hands every job out exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import psycopg
import pytest
from psycopg._queries import PostgresQuery
from psycopg.adapt import Transformer

from conveyor.models import Ack, Fail, JobStatus, NewJob
from conveyor.store.base import Store
from conveyor.store.postgres import PostgresStore, open_postgres
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.conninfo import parse_postgres_url

pytestmark = pytest.mark.postgres

LONG = 300.0


@pytest.fixture
def pg_store(postgres_store: Store) -> PostgresStore:
    """The shared `postgres_store` fixture, typed as the driver these tests look inside."""
    assert isinstance(postgres_store, PostgresStore)
    return postgres_store


def job(text: str, **kwargs: object) -> NewJob:
    return NewJob("text", {"text": text}, **kwargs)  # type: ignore[arg-type]


async def test_many_processes_leasing_at_once_never_share_a_job(postgres_url: str) -> None:
    """Six stores (six pools, as six worker processes would have) drain 600 jobs together."""
    stores = [await open_postgres(postgres_url) for _ in range(6)]
    try:
        await stores[0].submit_many([job(str(i)) for i in range(600)])

        async def drain(store: PostgresStore, worker: str) -> list[uuid.UUID]:
            taken: list[uuid.UUID] = []
            for _ in range(200):  # bounded: 600 jobs, at least one per round until empty
                leases = await store.lease(worker, ["default"], 7, LONG)
                if not leases:
                    return taken
                taken += [lease.job_id for lease in leases]
                assert await store.finish([Ack(lease) for lease in leases], worker) == [True] * len(
                    leases
                )
            return taken

        batches = await asyncio.gather(
            *[drain(store, f"w{i}") for i, store in enumerate(stores) for _ in range(2)]
        )
        taken = [job_id for batch in batches for job_id in batch]
        assert len(taken) == 600 and len(set(taken)) == 600
        counts = await stores[0].counts()
        assert (counts.pending, counts.running, counts.done) == (0, 0, 600)
        events = await stores[0].events_after(0, limit=5000)
        assert sum(e.type.value == "job_leased" for e in events) == 600
    finally:
        for store in stores:
            await store.close()


async def test_lease_skips_rows_another_transaction_holds(pg_store: PostgresStore) -> None:
    first = (await pg_store.submit(job("first", priority=9))).job
    second = (await pg_store.submit(job("second"))).job
    async with await psycopg.AsyncConnection.connect(pg_store.url) as other:
        await other.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (first.id,))
        leases = await asyncio.wait_for(pg_store.lease("w", ["default"], 5, LONG), 5)
        assert [lease.job_id for lease in leases] == [second.id]
        await other.rollback()
    [again] = await pg_store.lease("w", ["default"], 5, LONG)
    assert again.job_id == first.id


async def test_lease_serves_several_queues_by_priority_then_age(pg_store: PostgresStore) -> None:
    a_old = (await pg_store.submit(job("a-old", queue="a"))).job
    b_high = (await pg_store.submit(job("b-high", queue="b", priority=3))).job
    await pg_store.submit(job("c", queue="c"))
    a_new = (await pg_store.submit(job("a-new", queue="a"))).job
    leases = await pg_store.lease("w", ["a", "b", "a"], 2, LONG)
    assert {lease.job_id for lease in leases} == {b_high.id, a_old.id}
    [rest] = await pg_store.lease("w", ["b", "a"], 5, LONG)
    assert rest.job_id == a_new.id


async def test_finish_fences_every_outcome_of_a_batch(pg_store: PostgresStore) -> None:
    await pg_store.submit_many([job(str(i), max_retries=0) for i in range(4)])
    leases = await pg_store.lease("w", ["default"], 4, LONG)
    stale = dataclasses.replace(leases[3], token=uuid.uuid4())
    outcomes: list[Ack | Fail] = [
        Ack(leases[0], {"n": 0}),
        Fail(leases[1], "retry?", retry_in_sec=60),  # max_retries=0: straight to the DLQ
        Fail(leases[2], "bad", permanent=True),
        Ack(stale),
        Ack(leases[0], "twice"),
    ]
    assert await pg_store.finish(outcomes, "w") == [True, True, True, False, False]
    statuses = [(await pg_store.get(lease.job_id)).status for lease in leases]
    assert statuses == [JobStatus.DONE, JobStatus.FAILED, JobStatus.FAILED, JobStatus.RUNNING]
    assert (await pg_store.get(leases[0].job_id)).result == {"n": 0}
    counts = await pg_store.counts()
    assert (counts.done, counts.failed, counts.running, counts.retries) == (1, 2, 1, 0)


async def test_counters_agree_with_the_rows(postgres_url: str) -> None:
    """Counts come from sharded counters; after a mixed workload on several connections they
    must equal what counting the rows says."""
    stores = [await open_postgres(postgres_url) for _ in range(3)]
    try:

        async def work(store: PostgresStore, worker: str) -> None:
            await store.submit_many([job(f"{worker}-{i}", max_retries=1) for i in range(30)])
            for round_ in range(40):
                leases = await store.lease(worker, ["default"], 5, LONG)
                if not leases:
                    return
                await store.finish(
                    [
                        Ack(lease) if (i + round_) % 3 else Fail(lease, "x", retry_in_sec=0)
                        for i, lease in enumerate(leases)
                    ],
                    worker,
                )

        await asyncio.gather(*[work(store, f"w{i}") for i, store in enumerate(stores)])
        counts = await stores[0].counts()
        async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'done'),"
                " count(*) FILTER (WHERE status = 'failed'), count(*),"
                " (SELECT count(*) FROM job_events WHERE type IN"
                "  ('job_retry_scheduled', 'job_lease_expired'))"
                " FROM jobs"
            )
            row = await cur.fetchone()
        assert row is not None
        assert (counts.done, counts.failed, counts.jobs_submitted, counts.retries) == row
        assert counts.done + counts.failed + counts.pending + counts.running == 90
        assert (await stores[1].list_jobs()).total == 90
        assert (await stores[1].list_jobs(status=JobStatus.DONE)).total == counts.done
    finally:
        for store in stores:
            await store.close()


async def test_a_lease_on_an_analysed_backlog_is_never_jit_compiled(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    """The fair pick's generic plan is costed in the millions once the statistics know a big
    backlog, and PostgreSQL's default `jit=on` then compiled the lease on every execution
    (1.5 s each, measured at 20,000 pending jobs). The driver's sessions turn JIT off; this
    runs the lease's prepared statement exactly as a worker's connection plans it."""
    for first in range(0, 20_000, 2_000):
        await pg_store.submit_many([job(str(first + i)) for i in range(2_000)])
    conninfo, _ = parse_postgres_url(postgres_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE jobs")
        assert conn.execute("SHOW jit").fetchone() == ("off",)
        # Planned the way the driver plans it: once, generically, then executed.
        params = {"queues": ["default"], "limit": 10, "worker": "w", "lease_for": LONG}
        query = PostgresQuery(Transformer(conn))
        query.convert(sql.LEASE, params)
        conn.execute(b"PREPARE lease AS " + query.query)
        conn.execute("BEGIN")
        plan = [row[0] for row in conn.execute(
            "EXPLAIN (ANALYZE, COSTS) EXECUTE lease('{default}', 10, 'w', 300.0)")]
        conn.execute("ROLLBACK")
    assert float(plan[0].split("cost=")[1].split("..")[1].split()[0]) > 100_000  # jit_above_cost
    assert not any(line.startswith("JIT:") for line in plan), "\n".join(plan)


async def test_the_one_tenant_pick_takes_only_a_lone_uncapped_tenant_s_jobs(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    """`SOLO_LEASE` (tried first by every lease) takes a lone tenant's jobs in the fair
    order, and nothing once another tenant can be leased or the lone one has a cap: then the
    lease falls to the fair pick, whose rules the contract suite checks."""
    params = {"queues": ["default"], "limit": 3, "worker": "w", "lease_for": LONG}
    conninfo, _ = parse_postgres_url(postgres_url)
    ids = [(await pg_store.submit(job(str(p), tenant="m", priority=p))).job.id
           for p in range(9)]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        taken = {row[0] for row in conn.execute(sql.SOLO_LEASE, params)}
        assert taken == set(ids[6:])  # the highest priorities, as the fair pick takes them
        # "z" sorts after "m": the 3 jobs the pick reads are all m's (6 are left), so only
        # the probe for a later tenant sees z's job.
        late = (await pg_store.submit(job("x", tenant="z"))).job.id
        assert conn.execute(sql.SOLO_LEASE, params).fetchall() == []
        [lease] = await pg_store.lease("w", ["default"], 1, LONG)
        assert lease.job_id == late  # the fair pick: the tenant holding nothing first
        # "a" sorts before "m": a runnable job of it is among the rows the pick reads.
        early = (await pg_store.submit(job("x", tenant="a"))).job.id
        assert conn.execute(sql.SOLO_LEASE, params).fetchall() == []
        [lease] = await pg_store.lease("w", ["default"], 1, LONG)
        assert lease.job_id == early
        # A job of "a" for later cannot be leased now, by either pick: m's jobs go ahead.
        await pg_store.submit(job("later", tenant="a", delay_sec=3600))
        assert len(conn.execute(sql.SOLO_LEASE, params).fetchall()) == 3
        await pg_store.set_tenant("m", max_running=10)
        assert conn.execute(sql.SOLO_LEASE, params).fetchall() == []
        await pg_store.set_tenant("m")
        assert {row[0] for row in conn.execute(sql.SOLO_LEASE, params)} == set(ids[:3])
