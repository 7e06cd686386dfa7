// Test data in the API's wire shape, with overrides: one place that knows what a job looks like.

import type { ReceivedEvent } from "../../live/apply";
import {
  type Job,
  jobFromWire,
  type JobEventWire,
  type JobListWire,
  type JobWire,
  type LiveEventWire,
  liveEventFromWire,
  type MetricsWire,
} from "../../services/jobs";

let counter = 0;

/** A UUIDv7-looking id whose last 8 hex digits differ per call. */
export function jobId(n = ++counter): string {
  return `01920000-0000-7000-8000-0000${n.toString(16).padStart(8, "0")}`;
}

export function buildJobWire(overrides: Partial<JobWire> = {}): JobWire {
  return {
    id: jobId(),
    tenant: "default",
    queue: "default",
    task: "text",
    payload: { text: "Hello" },
    status: "pending",
    priority: 0,
    attempts: 0,
    max_retries: 3,
    run_at: "2026-01-02T10:00:00Z",
    created_at: "2026-01-02T10:00:00Z",
    started_at: null,
    finished_at: null,
    lease_owner: null,
    lease_expires_at: null,
    last_error: null,
    result: null,
    idempotency_key: null,
    retry_of: null,
    retried_by: null,
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    timeout_sec: null,
    cancel_requested_at: null,
    progress: null,
    progress_message: null,
    ...overrides,
  };
}

export function buildJob(overrides: Partial<JobWire> = {}): Job {
  return jobFromWire(buildJobWire(overrides));
}

export function buildEventWire(overrides: Partial<JobEventWire> = {}): JobEventWire {
  return {
    seq: 1,
    type: "job_created",
    status: "pending",
    at: "2026-01-02T10:00:00Z",
    attempt: 0,
    worker: null,
    error: null,
    data: {},
    ...overrides,
  };
}

export function buildLiveEventWire(overrides: Partial<LiveEventWire> = {}): LiveEventWire {
  return {
    type: "job_created",
    seq: 1,
    jobId: jobId(),
    status: "pending",
    attempt: 0,
    at: "2026-01-02T10:00:00Z",
    tenant: "default",
    task: "text",
    worker: null,
    error: null,
    data: {},
    ...overrides,
  };
}

export function buildEvent(overrides: Partial<LiveEventWire> = {}, replayed = false): ReceivedEvent {
  return { ...liveEventFromWire(buildLiveEventWire(overrides)), replayed };
}

export function buildListWire(jobs: JobWire[], overrides: Partial<JobListWire> = {}): JobListWire {
  return { jobs, total: jobs.length, limit: 20, offset: 0, ...overrides };
}

export function buildMetricsWire(overrides: Partial<MetricsWire> = {}): MetricsWire {
  return { pending: 0, running: 0, done: 0, failed: 0, cancelled: 0, dlq_count: 0, jobs_submitted: 0, retries: 0, ...overrides };
}
