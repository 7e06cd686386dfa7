"""The chart sampler beside the worker loop, on every driver: running workers write the
sample of each minute that ends, once however many offer it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.models import NewJob
from conveyor.store.base import QueueSample, Store
from conveyor.worker import Worker
from conveyor.worker.sampler import next_offer_in
from tests.processes import until

FAST = {"text_seconds_per_char": 0.0, "worker_poll_ms": 50, "lease_timeout_sec": 30,
        "shutdown_grace_sec": 2, "stats_sample_sec": 0.2}


async def test_running_workers_write_each_minutes_sample(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    """Two workers offer every sample; that one is written per minute however many offer it
    is the store's rule (`tests/store/test_charts.py`)."""
    await store.submit_many([NewJob("text", {"text": "x"}, queue="nobody") for _ in range(3)])
    run_worker()
    run_worker()  # both offer every 0.2 s

    async def sampled() -> list[QueueSample]:
        return await store.queue_samples(5)

    samples = await until(sampled, timeout=15, message="a chart sample")
    assert {(s.queue, s.pending, s.running) for s in samples} == {("nobody", 3, 0)}


def test_offers_come_just_after_the_start_of_each_interval() -> None:
    assert next_offer_in(120.0, 60) == pytest.approx(61.0)  # at a minute's start: the next
    assert next_offer_in(170.0, 60) == pytest.approx(11.0)
    assert next_offer_in(10.05, 0.2) == pytest.approx(0.15 + 0.02)
