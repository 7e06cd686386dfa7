"""The order in which a worker starts the jobs it reserved ahead (`worker.loop.next_reserved`):
oldest first, except that a tenant with nothing running on the worker goes ahead, and no
reservation is passed over twice."""

from __future__ import annotations

import uuid
from collections import deque

from conveyor.models import JobId, Lease, new_job_id
from conveyor.worker.loop import next_reserved


def lease(tenant: str) -> Lease:
    return Lease(job_id=new_job_id(), token=uuid.uuid4(), task="t", payload={},
                 attempt=1, max_retries=3, tenant=tenant, queue="default", trace_id=None)


def test_oldest_first_when_every_tenant_runs_here() -> None:
    a1, b1 = lease("a"), lease("b")
    reserved, passed = deque([a1, b1]), set[JobId]()
    assert next_reserved(reserved, passed, lambda: {"a", "b"}) is a1
    assert list(reserved) == [b1] and not passed


def test_a_tenant_with_nothing_running_here_goes_ahead() -> None:
    a1, a2, b1 = lease("a"), lease("a"), lease("b")
    reserved, passed = deque([a1, a2, b1]), set[JobId]()
    assert next_reserved(reserved, passed, lambda: {"a"}) is b1
    assert list(reserved) == [a1, a2] and passed == {a1.job_id, a2.job_id}


def test_no_reservation_is_passed_over_twice() -> None:
    """A has a long job running; b's jobs keep arriving and finishing. a1 lets one b job go
    first, then starts, though b is again idle here."""
    a1, b1, b2 = lease("a"), lease("b"), lease("b")
    reserved, passed = deque([a1, b1, b2]), set[JobId]()
    assert next_reserved(reserved, passed, lambda: {"a"}) is b1
    assert next_reserved(reserved, passed, lambda: {"a"}) is a1
    assert list(reserved) == [b2] and not passed
    b3, c1 = lease("b"), lease("c")
    reserved.extend([b3, c1])  # [b2, b3, c1]: nothing passed over yet, c idle here
    assert next_reserved(reserved, passed, lambda: {"b"}) is c1
    assert next_reserved(reserved, passed, lambda: set()) is b2  # b2 was passed over once
    assert next_reserved(reserved, passed, lambda: set()) is b3
    assert not reserved and not passed


def test_one_tenant_reserved_is_plain_arrival_order() -> None:
    a1, a2 = lease("a"), lease("a")
    reserved, passed = deque([a1, a2]), set[JobId]()
    calls: list[int] = []

    def busy() -> set[str]:
        calls.append(1)
        return set()

    assert next_reserved(reserved, passed, busy) is a1
    assert not calls  # nothing to decide: the running jobs are not even looked at


def test_passed_over_reservations_that_were_lost_are_forgotten() -> None:
    a1, a2, b1 = lease("a"), lease("a"), lease("b")
    reserved, passed = deque([a1, a2, b1]), set[JobId]()
    assert next_reserved(reserved, passed, lambda: {"a"}) is b1
    reserved.remove(a1)  # a heartbeat found it lost: the worker only drops it from the deque
    assert next_reserved(reserved, passed, lambda: {"a"}) is a2
    assert not passed
