// The API's vocabulary in one place: wire types exactly as the JSON arrives (snake_case, ISO
// strings), the dashboard's types (camelCase, Dates), the converters between them, the query
// keys that name each piece of server data, and the calls that fetch it.
//
// The statuses and event types are not written here: they are generated from the Python
// lifecycle table into ../generated/lifecycle.ts and re-exported, so that a status or event
// added there makes tsc point at every Record<JobStatus, …> or Record<EventType, …> (and every
// comparison with a literal) that must handle it.

import {
  EVENT_SOURCES,
  EVENT_TYPES,
  type EventType,
  JOB_STATUSES,
  type JobStatus,
  TERMINAL_STATUSES,
} from "../generated/lifecycle";
import { apiFetch, apiRequest, type Credentials } from "./api";

export {
  EVENT_SOURCES,
  EVENT_TARGET,
  EVENT_TYPES,
  type EventType,
  JOB_STATUSES,
  type JobStatus,
  TERMINAL_STATUSES,
} from "../generated/lifecycle";

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === "string" && (JOB_STATUSES as readonly string[]).includes(value);
}

export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && (EVENT_TYPES as readonly string[]).includes(value);
}

/** A job in a terminal status never runs again (a retry is a new job). */
export function isTerminal(status: JobStatus): boolean {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

/** A job the API would cancel (`POST /jobs/{id}/cancel`): one `job_cancelled` starts from. */
export function canCancel(status: JobStatus): boolean {
  return EVENT_SOURCES.job_cancelled.includes(status);
}

/** A job the API would retry as a new job (`POST /jobs/{id}/retry`). */
export function canRetry(status: JobStatus): boolean {
  return EVENT_SOURCES.job_retried.includes(status);
}

/** A count per status: a status added to the lifecycle is a field the API must send. */
export type StatusCounts = Record<JobStatus, number>;

// ---- wire types ---------------------------------------------------------------------------

export interface JobEventWire {
  seq: number;
  type: string;
  status: JobStatus;
  at: string;
  attempt: number;
  worker: string | null;
  error: string | null;
  data: Record<string, unknown> | null;
}

export interface JobWire {
  id: string;
  tenant: string;
  queue: string;
  task: string;
  payload: Record<string, unknown>;
  status: JobStatus;
  priority: number;
  attempts: number;
  max_retries: number;
  run_at: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
  result: unknown;
  idempotency_key: string | null;
  retry_of: string | null;
  retried_by: string | null;
  trace_id: string | null;
  timeout_sec: number | null;
  cancel_requested_at: string | null;
  progress: number | null;
  progress_message: string | null;
  /** The schedule that fired the job, and the tick it fired for; null for other jobs (absent
   *  from an API older than schedules). */
  schedule?: string | null;
  scheduled_for?: string | null;
  events?: JobEventWire[] | null;
}

export interface JobListWire {
  jobs: JobWire[];
  /** Exact when `total_exact`; else a lower bound (the API stops counting at 10,000). */
  total: number;
  /** Absent from an API older than keyset pages: its totals were exact. */
  total_exact?: boolean;
  limit: number;
  offset: number;
  /** The next (older) page's cursor; null: no older row matches. */
  next_cursor?: string | null;
}

export interface MetricsWire extends StatusCounts {
  dlq_count: number;
  jobs_submitted: number;
  retries: number;
}

export interface ThroughputWire {
  buckets: { minute: string; done: number; failed: number }[];
}

export interface WorkerWire {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  started_at: string | null;
  last_seen_at: string | null;
}

export interface WorkersWire {
  workers: WorkerWire[];
}

/** A `/ws` job event. The only camelCase key on the wire is `jobId`. */
export interface LiveEventWire {
  type: string;
  seq: number;
  jobId: string;
  status: JobStatus;
  attempt: number;
  at: string;
  tenant: string;
  task: string;
  worker: string | null;
  error: string | null;
  data: Record<string, unknown> | null;
}

// ---- dashboard types ----------------------------------------------------------------------

export interface JobEvent {
  seq: number;
  type: string;
  status: JobStatus;
  at: Date;
  attempt: number;
  worker: string | null;
  error: string | null;
  data: Record<string, unknown>;
}

export interface Job {
  id: string;
  tenant: string;
  queue: string;
  task: string;
  payload: Record<string, unknown>;
  status: JobStatus;
  priority: number;
  attempts: number;
  maxRetries: number;
  runAt: Date;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  lastError: string | null;
  result: unknown;
  idempotencyKey: string | null;
  retryOf: string | null;
  retriedBy: string | null;
  traceId: string | null;
  /** Seconds each attempt may run; null: the task's default, if any. */
  timeoutSec: number | null;
  /** When a running job was asked to stop (it ends `cancelled`). */
  cancelRequestedAt: Date | null;
  /** The handler's last reported progress, 0 to 1, and what it said with it. */
  progress: number | null;
  progressMessage: string | null;
  /** The schedule that fired the job, and the tick (the moment it was due) it fired for. */
  schedule: string | null;
  scheduledFor: Date | null;
  /** The timeline, oldest first; only on a job fetched with `history=true`. */
  events?: JobEvent[];
}

export interface JobPage {
  jobs: Job[];
  /** Exact when `totalExact`; else at least this many match. */
  total: number;
  totalExact: boolean;
  limit: number;
  offset: number;
  /** The next (older) page's cursor; null: this is the last page. */
  nextCursor: string | null;
  /** Live events say jobs may have entered or left this (filtered) list since it was fetched:
   *  the page says so and offers a refresh, rather than refetching a search per event. */
  outdated: boolean;
}

export interface Metrics extends StatusCounts {
  dlqCount: number;
  jobsSubmitted: number;
  retries: number;
}

export interface ThroughputBucket {
  /** Start of the minute, in milliseconds since the epoch. */
  minute: number;
  done: number;
  failed: number;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  startedAt: Date | null;
  lastSeenAt: Date | null;
}

export interface LiveEvent {
  type: string;
  seq: number;
  jobId: string;
  status: JobStatus;
  attempt: number;
  at: Date;
  tenant: string;
  task: string;
  worker: string | null;
  error: string | null;
  data: Record<string, unknown>;
}

export type LiveMessage =
  | { type: "hello"; seq: number }
  | { type: "refresh"; seq: number | null }
  | { type: "ping" }
  | { type: "event"; event: LiveEvent };

// ---- converters ---------------------------------------------------------------------------

function toDate(value: string): Date {
  return new Date(value);
}

function toDateOrNull(value: string | null | undefined): Date | null {
  return value === null || value === undefined ? null : new Date(value);
}

function pad(value: number, width = 2): string {
  return String(Math.abs(value)).padStart(width, "0");
}

/** A `datetime-local` input's value (`2026-12-01T09:30`, seconds optional), a time on this
 *  browser's clock, as RFC 3339 with the browser's offset at that moment (`…T09:30:00+01:00`;
 *  daylight saving time included); null when it is not a valid date and time. */
export function rfc3339FromLocal(value: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value);
  if (match === null) return null;
  const part = (index: number) => Number(match[index] ?? 0);
  const date = new Date(part(1), part(2) - 1, part(3), part(4), part(5), part(6));
  if (date.getMonth() !== part(2) - 1 || date.getDate() !== part(3)) return null; // 31 February
  const offset = -date.getTimezoneOffset(); // minutes east of UTC
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${offset < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
  );
}

export function eventFromWire(wire: JobEventWire): JobEvent {
  return {
    seq: wire.seq,
    type: wire.type,
    status: wire.status,
    at: toDate(wire.at),
    attempt: wire.attempt,
    worker: wire.worker,
    error: wire.error,
    data: wire.data ?? {},
  };
}

export function jobFromWire(wire: JobWire): Job {
  const job: Job = {
    id: wire.id,
    tenant: wire.tenant,
    queue: wire.queue,
    task: wire.task,
    payload: wire.payload,
    status: wire.status,
    priority: wire.priority,
    attempts: wire.attempts,
    maxRetries: wire.max_retries,
    runAt: toDate(wire.run_at),
    createdAt: toDate(wire.created_at),
    startedAt: toDateOrNull(wire.started_at),
    finishedAt: toDateOrNull(wire.finished_at),
    leaseOwner: wire.lease_owner,
    leaseExpiresAt: toDateOrNull(wire.lease_expires_at),
    lastError: wire.last_error,
    result: wire.result,
    idempotencyKey: wire.idempotency_key,
    retryOf: wire.retry_of,
    retriedBy: wire.retried_by,
    traceId: wire.trace_id,
    timeoutSec: wire.timeout_sec,
    cancelRequestedAt: toDateOrNull(wire.cancel_requested_at),
    progress: wire.progress,
    progressMessage: wire.progress_message,
    schedule: wire.schedule ?? null,
    scheduledFor: toDateOrNull(wire.scheduled_for),
  };
  if (wire.events) job.events = wire.events.map(eventFromWire);
  return job;
}

export function pageFromWire(wire: JobListWire): JobPage {
  return {
    jobs: wire.jobs.map(jobFromWire),
    total: wire.total,
    totalExact: wire.total_exact ?? true,
    limit: wire.limit,
    offset: wire.offset,
    nextCursor: wire.next_cursor ?? null,
    outdated: false,
  };
}

export function metricsFromWire(wire: MetricsWire): Metrics {
  return {
    pending: wire.pending,
    running: wire.running,
    done: wire.done,
    failed: wire.failed,
    cancelled: wire.cancelled,
    dlqCount: wire.dlq_count,
    jobsSubmitted: wire.jobs_submitted,
    retries: wire.retries,
  };
}

export function throughputFromWire(wire: ThroughputWire): ThroughputBucket[] {
  return wire.buckets.map((bucket) => ({
    minute: Date.parse(bucket.minute),
    done: bucket.done,
    failed: bucket.failed,
  }));
}

export function workersFromWire(wire: WorkersWire): WorkerInfo[] {
  return wire.workers.map((worker) => ({
    id: worker.id,
    host: worker.host,
    pid: worker.pid,
    queues: worker.queues,
    concurrency: worker.concurrency,
    running: worker.running,
    startedAt: toDateOrNull(worker.started_at),
    lastSeenAt: toDateOrNull(worker.last_seen_at),
  }));
}

export function liveEventFromWire(wire: LiveEventWire): LiveEvent {
  return {
    type: wire.type,
    seq: wire.seq,
    jobId: wire.jobId,
    status: wire.status,
    attempt: wire.attempt,
    at: toDate(wire.at),
    tenant: wire.tenant,
    task: wire.task,
    worker: wire.worker,
    error: wire.error,
    data: wire.data ?? {},
  };
}

/** Parse one `/ws` text frame; null for anything this dashboard does not understand. */
export function parseLiveMessage(text: string): LiveMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const message = raw as Record<string, unknown>;
  const seq = typeof message.seq === "number" ? message.seq : null;
  switch (message.type) {
    case "hello":
      return seq === null ? null : { type: "hello", seq };
    case "refresh":
      return { type: "refresh", seq };
    case "ping":
      return { type: "ping" };
    default:
      if (seq === null || typeof message.jobId !== "string" || !isJobStatus(message.status)) return null;
      return { type: "event", event: liveEventFromWire(message as unknown as LiveEventWire) };
  }
}

// ---- query keys ---------------------------------------------------------------------------

/** A list the dashboard shows: one per status, in lifecycle order, the dead-letter queue, then
 *  every job (a search across statuses). */
export type JobListView = "all" | JobStatus | "dlq";
export const JOB_LIST_VIEWS: readonly JobListView[] = [...JOB_STATUSES, "dlq", "all"];

/** The status whose jobs a view lists (the DLQ is the failed jobs; null: every status). */
export function viewStatus(view: JobListView): JobStatus | null {
  if (view === "all") return null;
  return view === "dlq" ? "failed" : view;
}

export const PAGE_SIZE = 20;

/** Names for each piece of server data; equal keys mean the same request. */
export const queryKeys = {
  metrics: () => "metrics",
  throughput: (minutes: number) => `throughput:${minutes}`,
  workers: () => "workers",
  queues: () => "queues",
  schedules: () => "schedules",
  retention: () => "retention",
  whoami: () => "whoami",
  /** A page of a list: its view, its filter (listFilterKey) and where it starts. */
  jobList: (view: JobListView, filterKey: string, cursor: string | null) =>
    `jobs:${view}:${cursor ?? ""}:${filterKey}`,
  job: (id: string) => `job:${id}`,
} as const;

// ---- calls --------------------------------------------------------------------------------

export async function getJob(credentials: Credentials, id: string, signal?: AbortSignal): Promise<Job> {
  const path = `/jobs/${encodeURIComponent(id)}?history=true`;
  return jobFromWire(await apiFetch<JobWire>(path, { credentials, ...(signal && { signal }) }));
}

/** When and for how long a submitted job may run (both optional). */
export interface SubmitOptions {
  /** RFC 3339 with an offset (`2026-12-01T09:30:00+01:00`); not with `delay_sec`. */
  run_at?: string;
  delay_sec?: number;
  /** Seconds each attempt may run, 1 to 86,400. */
  timeout_sec?: number;
}

export type Submission = (
  | { text: string }
  | { payload: Record<string, unknown> }
  | { task: string; payload: Record<string, unknown> }
) &
  SubmitOptions;

export async function submitJob(
  credentials: Credentials,
  submission: Submission,
  idempotencyKey: string,
): Promise<Job> {
  const wire = await apiFetch<JobWire>("/jobs", {
    method: "POST",
    body: submission,
    credentials,
    idempotencyKey,
  });
  return jobFromWire(wire);
}

export async function retryJob(credentials: Credentials, id: string): Promise<Job> {
  const wire = await apiFetch<JobWire>(`/jobs/${encodeURIComponent(id)}/retry`, {
    method: "POST",
    credentials,
  });
  return jobFromWire(wire);
}

/** How a cancel went: a pending job is cancelled at once (200); a running one is asked to stop
 *  (202) and ends `cancelled` shortly, which its events tell. A job that cannot be cancelled any
 *  more is an ApiError (409 `invalid_transition`). */
export type CancelOutcome = { kind: "cancelled"; job: Job } | { kind: "requested"; job: Job };

export async function cancelJob(credentials: Credentials, id: string): Promise<CancelOutcome> {
  const { status, data } = await apiRequest<JobWire>(`/jobs/${encodeURIComponent(id)}/cancel`, {
    method: "POST",
    credentials,
  });
  return { kind: status === 202 ? "requested" : "cancelled", job: jobFromWire(data) };
}

export async function getMetrics(credentials: Credentials, signal?: AbortSignal): Promise<Metrics> {
  return metricsFromWire(await apiFetch<MetricsWire>("/metrics", { credentials, ...(signal && { signal }) }));
}

export async function getThroughput(
  credentials: Credentials,
  minutes: number,
  signal?: AbortSignal,
): Promise<ThroughputBucket[]> {
  const wire = await apiFetch<ThroughputWire>(`/stats/throughput?minutes=${minutes}`, {
    credentials,
    ...(signal && { signal }),
  });
  return throughputFromWire(wire);
}

export async function getWorkers(credentials: Credentials, signal?: AbortSignal): Promise<WorkerInfo[]> {
  return workersFromWire(await apiFetch<WorkersWire>("/workers", { credentials, ...(signal && { signal }) }));
}

/** A random key for Idempotency-Key. crypto.randomUUID needs a secure context, which a page
 *  served over plain HTTP to another host is not, so fall back to getRandomValues. */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function" && globalThis.isSecureContext !== false) {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
