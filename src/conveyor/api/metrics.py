"""Prometheus metrics for one API process.

Counts by status come from the store at scrape time, so every API process reports the same
truth. Queue-wait and run-time histograms are observed from the event feed (the `wait` and
`runtime` the store recorded on each event), so they cover every worker on any host; each
API process observes all events, so aggregate them with `max`, not `sum`, across processes.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from conveyor.models import Counts, EventType, JobEvent, JobStatus
from conveyor.store.base import QueueInfo

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Gauge("conveyor_jobs", "Jobs by status.", ["status"], registry=self.registry)
        self.queue_depth = Gauge(
            "conveyor_queue_depth", "Pending jobs (the autoscaling signal).",
            registry=self.registry,
        )
        self.queue_pending = Gauge(
            "conveyor_queue_pending", "Runnable pending jobs per queue.", ["queue"],
            registry=self.registry)
        self.queue_oldest = Gauge(
            "conveyor_queue_oldest_pending_seconds",
            "Age of each queue's oldest runnable pending job (0: none).", ["queue"],
            registry=self.registry)
        self.queue_paused = Gauge(
            "conveyor_queue_paused", "1 while the queue is paused.", ["queue"],
            registry=self.registry)
        self.dlq = Gauge("conveyor_dlq_jobs", "Jobs in the dead-letter queue.",
                         registry=self.registry)
        self.submitted = Gauge("conveyor_jobs_submitted", "Jobs ever submitted.",
                               registry=self.registry)
        self.retries = Gauge("conveyor_retries", "Retries ever scheduled.",
                             registry=self.registry)
        self.events = Counter("conveyor_job_events", "Job events seen by this process.",
                              ["type"], registry=self.registry)
        self.queue_wait = Histogram(
            "conveyor_job_queue_wait_seconds", "From runnable to leased.",
            buckets=_BUCKETS, registry=self.registry,
        )
        self.run_time = Histogram(
            "conveyor_job_run_seconds", "From leased to outcome, by outcome.", ["outcome"],
            buckets=_BUCKETS, registry=self.registry,
        )

    def observe(self, event: JobEvent) -> None:
        self.events.labels(event.type.value).inc()
        if event.type is EventType.LEASED and "wait" in event.data:
            self.queue_wait.observe(float(event.data["wait"]))
        elif "runtime" in event.data:
            outcome = {
                EventType.SUCCEEDED: "succeeded",
                EventType.RETRY_SCHEDULED: "retried",
                EventType.FAILED: "failed",
                EventType.CANCELLED: "cancelled",
            }.get(event.type)
            if outcome:
                self.run_time.labels(outcome).observe(float(event.data["runtime"]))

    def render(self, counts: Counts, queues: Sequence[QueueInfo] = ()) -> bytes:
        for status in JobStatus:
            self.jobs.labels(status.value).set(getattr(counts, status.value))
        self.queue_depth.set(counts.pending)
        self.dlq.set(counts.dlq_count)
        self.submitted.set(counts.jobs_submitted)
        self.retries.set(counts.retries)
        for gauge in (self.queue_pending, self.queue_oldest, self.queue_paused):
            gauge.clear()  # a queue that is gone leaves no stale series
        for queue in queues:
            self.queue_pending.labels(queue.name).set(queue.pending)
            self.queue_oldest.labels(queue.name).set(queue.oldest_pending_age_sec or 0.0)
            self.queue_paused.labels(queue.name).set(1 if queue.paused else 0)
        return generate_latest(self.registry)
