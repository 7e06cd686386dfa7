"""Queue operations on every driver: a paused queue is neither leased nor reserved (its
pending jobs wait, other queues go on), resuming lets its jobs out again, and every queue's
figures are right."""

from __future__ import annotations

from conveyor.models import Ack, JobStatus, NewJob
from conveyor.store.base import Store

LONG = 300.0


def job(queue: str = "default", **kwargs: object) -> NewJob:
    return NewJob("t", {}, queue=queue, **kwargs)  # type: ignore[arg-type]


async def test_a_paused_queue_is_not_leased_until_it_is_resumed(store: Store) -> None:
    held = [(await store.submit(job("mail"))).job for _ in range(2)]
    other = (await store.submit(job("default"))).job
    paused = await store.pause_queue("mail")
    assert paused.paused and paused.paused_at is not None and paused.pending == 2
    again = await store.pause_queue("mail")
    assert again.paused_at == paused.paused_at  # pausing twice keeps the first time
    leases = await store.lease("w", ["mail", "default"], 10, LONG)
    assert [lease.job_id for lease in leases] == [other.id]
    assert await store.reserve("w", ["mail"], 10, LONG) == []
    assert await store.next_due(["mail"]) is None  # an idle worker does not wake for it
    assert [(await store.get(j.id)).status for j in held] == [JobStatus.PENDING] * 2
    resumed = await store.resume_queue("mail")
    assert not resumed.paused and resumed.paused_at is None
    leased = await store.lease("w", ["mail"], 10, LONG)
    assert {lease.job_id for lease in leased} == {j.id for j in held}


async def test_queue_figures(store: Store) -> None:
    assert await store.list_queues() == []
    await store.submit(job("a"))
    await store.submit(job("a"))
    await store.submit(job("a", delay_sec=3600))
    await store.submit(job("b"))
    [lease] = await store.lease("w", ["b"], 1, LONG)
    await store.submit(job("b"))
    await store.finish([Ack(lease)], "w")
    [running] = await store.lease("w", ["b"], 1, LONG)
    await store.pause_queue("idle")
    by_name = {q.name: q for q in await store.list_queues()}
    assert list(by_name) == ["a", "b", "idle"]
    a, b, idle = by_name["a"], by_name["b"], by_name["idle"]
    assert (a.pending, a.scheduled, a.running, a.paused) == (2, 1, 0, False)
    assert a.oldest_pending_age_sec is not None and 0 <= a.oldest_pending_age_sec < 60
    assert (b.pending, b.running, b.done_last_minute, b.failed_last_minute) == (0, 1, 1, 0)
    assert b.oldest_pending_age_sec is None
    assert (idle.pending, idle.paused) == (0, True)
    assert running.queue == "b"
