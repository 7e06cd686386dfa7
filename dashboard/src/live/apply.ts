// Applying `/ws` events to what the page shows, without asking the API: pure functions, so the
// rules are tested directly. Each takes a snapshot fetched "as of" a sequence number (events up
// to it are already reflected) and skips those; each reports whether the snapshot is now stale,
// i.e. holds something only a refetch can tell (a job entered the list, a row left it).

import {
  EVENT_SOURCES,
  EVENT_TARGET,
  type EventType,
  isEventType,
  isTerminal,
  type Job,
  type JobEvent,
  type JobListView,
  type JobPage,
  type JobStatus,
  type LiveEvent,
  type Metrics,
  type ThroughputBucket,
  viewStatus,
} from "../services/jobs";

/** Where the job was before `event` (null: it did not exist), or undefined when the event
 *  does not say: it can come from several statuses (a cancel, from pending or running), or is
 *  of a type this build does not know. An event that keeps the status (absent from
 *  EVENT_TARGET, like a retry) came from the status it carries. */
export function previousStatus(event: LiveEvent): JobStatus | null | undefined {
  if (!isEventType(event.type)) return undefined;
  if (EVENT_TARGET[event.type] === undefined) return event.status;
  const sources = EVENT_SOURCES[event.type];
  return sources.length === 1 ? sources[0] : undefined;
}

/** Events that change nothing but what they carry (progress), which the timeline leaves out:
 *  a job reports progress many times an attempt. */
export function isProgressEvent(event: Pick<LiveEvent, "type">): boolean {
  return event.type === "job_progress";
}

/** A live event plus whether it came in the catch-up replay after a (re)connect. Replayed
 *  events may already be reflected in data polled while the socket was down. */
export interface ReceivedEvent extends LiveEvent {
  replayed: boolean;
}

export interface Snapshot<T> {
  data: T;
  /** The highest event seq the data is known to reflect. */
  asOfSeq: number;
}

export interface Applied<T> {
  data: T;
  /** Something changed that only a refetch can show correctly. */
  stale: boolean;
}

function newer<E extends LiveEvent>(events: readonly E[], asOfSeq: number): E[] {
  return events.filter((event) => event.seq > asOfSeq);
}

// ---- metrics ------------------------------------------------------------------------------

/** Move the counts the way each event moves its job. Replayed events are left to the refetch
 *  that follows a reconnect, since a poll during the outage may have counted them already. */
export function applyToMetrics(metrics: Metrics, events: readonly ReceivedEvent[], asOfSeq: number): Applied<Metrics> {
  let next: Metrics | null = null;
  let stale = false;
  for (const event of newer(events, asOfSeq)) {
    if (event.replayed) {
      stale = true;
      continue;
    }
    const from = previousStatus(event);
    if (from === undefined) {
      stale = true; // the refetch that follows every batch tells which count it left
      continue;
    }
    const to = event.status;
    if (from === to) continue;
    next ??= { ...metrics };
    if (from !== null) {
      next[from] = Math.max(0, next[from] - 1);
      if (from === "failed") next.dlqCount = Math.max(0, next.dlqCount - 1);
    }
    next[to] += 1;
    if (to === "failed") next.dlqCount += 1;
    if (event.type === "job_created") next.jobsSubmitted += 1;
    if (from === "running" && to === "pending" && event.type !== "job_released") next.retries += 1;
  }
  return { data: next ?? metrics, stale };
}

// ---- one job ------------------------------------------------------------------------------

function timelineEvent(event: LiveEvent): JobEvent {
  return {
    seq: event.seq,
    type: event.type,
    status: event.status,
    at: event.at,
    attempt: event.attempt,
    worker: event.worker,
    error: event.error,
    data: event.data,
  };
}

/** The job as it is after `event` (which must be about it). Fields events do not carry (the
 *  result, for one) keep their old value until the next fetch. */
export function applyEventToJob(job: Job, event: LiveEvent): Job {
  if (event.jobId !== job.id) return job;
  const next: Job = { ...job, status: event.status, attempts: event.attempt };
  // Exhaustive over the lifecycle's events, so a new one makes tsc ask what it changes here.
  // An event type this build does not know still moves the status.
  const kind = isEventType(event.type) ? event.type : null;
  switch (kind) {
    case "job_leased":
      next.startedAt = event.at;
      next.finishedAt = null;
      next.leaseOwner = event.worker;
      next.progress = null; // a new attempt reports from the start
      next.progressMessage = null;
      break;
    case "job_succeeded":
      next.finishedAt = event.at;
      next.leaseOwner = null;
      next.leaseExpiresAt = null;
      break;
    case "job_failed":
      next.finishedAt = event.at;
      next.leaseOwner = null;
      next.leaseExpiresAt = null;
      if (event.error !== null) next.lastError = event.error;
      break;
    case "job_retry_scheduled":
    case "job_lease_expired":
    case "job_released":
      next.leaseOwner = null;
      next.leaseExpiresAt = null;
      if (event.error !== null) next.lastError = event.error;
      break;
    case "job_retried": {
      const retriedBy = event.data.retried_by;
      if (typeof retriedBy === "string") next.retriedBy = retriedBy;
      break;
    }
    case "job_cancel_requested":
      next.cancelRequestedAt = event.at;
      break;
    case "job_cancelled":
      next.finishedAt = event.at;
      next.leaseOwner = null;
      next.leaseExpiresAt = null;
      if (event.error !== null) next.lastError = event.error; // "cancelled while running"
      break;
    case "job_progress": {
      const { progress, message } = event.data;
      if (typeof progress === "number" && Number.isFinite(progress)) next.progress = progress;
      next.progressMessage = typeof message === "string" ? message : null;
      break;
    }
    case "job_created":
    case null:
      break;
    default:
      kind satisfies never;
  }
  if (job.events && !isProgressEvent(event) && !job.events.some((known) => known.seq === event.seq)) {
    next.events = [...job.events, timelineEvent(event)].sort((a, b) => a.seq - b.seq);
  }
  return next;
}

/** The open job detail: patched in place and its timeline extended; stale after any change
 *  but progress so the fields events do not carry (result, timestamps) follow within a second.
 *  Progress events carry all they change, and come often: they alone refetch nothing. */
export function applyToJob(job: Job, events: readonly LiveEvent[], asOfSeq: number): Applied<Job> {
  const lastKnown = Math.max(asOfSeq, ...(job.events ?? []).map((event) => event.seq));
  let next = job;
  let stale = false;
  for (const event of newer(events, lastKnown)) {
    if (event.jobId !== job.id) continue;
    next = applyEventToJob(next, event);
    if (!isProgressEvent(event)) stale = true;
  }
  return { data: next, stale };
}

/** The job as the page shows it, given what a cancel answered. A cancelled job (200) never
 *  changes again but for a retry, so the answer stands; a job asked to stop (202) may have
 *  moved on by events since the answer was sent (to `cancelled`), so only the request is
 *  taken from it. The timeline stays the page's. */
export function applyCancelAnswer(job: Job, answer: Job): Job {
  if (job.id !== answer.id) return job;
  if (isTerminal(answer.status)) {
    if (isTerminal(job.status)) return job;
    const next: Job = { ...answer, retriedBy: job.retriedBy ?? answer.retriedBy };
    return job.events ? { ...next, events: job.events } : next;
  }
  if (job.cancelRequestedAt !== null || answer.cancelRequestedAt === null) return job;
  return { ...job, cancelRequestedAt: answer.cancelRequestedAt };
}

// ---- a page of a list ---------------------------------------------------------------------

/** Where a page of a list sits, for telling whether a job that entered the list lands on it. */
export interface PagePlace {
  /** The first (newest) page, fetched without a cursor: every new job lands on it. */
  first: boolean;
  /** The list is filtered beyond what events tell (queue, payload, …): whether a job entered
   *  or left it is not known, and refetching a search per event costs the API at volume, so
   *  the page is marked `outdated` (the user refreshes) instead of stale. */
  narrowed: boolean;
}

const FIRST_PAGE: PagePlace = { first: true, narrowed: false };

/** Whether a job `id` that entered the list belongs on this page: lists are newest first by
 *  id (UUIDv7, creation order), so one newer than the first row belongs on a newer page (unless
 *  this is the first), one older than the last belongs on an older page (unless this is the
 *  last). An empty page may get anything. */
function landsOn(page: JobPage, id: string, place: PagePlace): boolean {
  const newest = page.jobs[0]?.id;
  const oldest = page.jobs[page.jobs.length - 1]?.id;
  if (newest === undefined || oldest === undefined) return true;
  if (!place.first && id > newest) return false;
  if (page.nextCursor !== null && id < oldest) return false;
  return true;
}

/** A page of one list. Rows whose job moved on show their new status at once (a pending row
 *  turns running, a failed one shows it was retried); the list is stale when a row left it or
 *  a job entered it (on this page), and the refetch then puts rows where they belong. A list
 *  narrowed by a filter is not refetched: it is marked outdated instead (see PagePlace). */
export function applyToPage(
  page: JobPage,
  view: JobListView,
  events: readonly LiveEvent[],
  asOfSeq: number,
  place: PagePlace = FIRST_PAGE,
): Applied<JobPage> {
  const status = viewStatus(view);
  const index = new Map(page.jobs.map((job, position) => [job.id, position]));
  let jobs: Job[] | null = null;
  let changed = false;
  for (const event of newer(events, asOfSeq)) {
    const position = index.get(event.jobId);
    if (position !== undefined) {
      jobs ??= [...page.jobs];
      const current = jobs[position];
      if (current !== undefined) jobs[position] = applyEventToJob(current, event);
      if (status !== null && event.status !== status) changed = true; // it left the list
      continue;
    }
    if (changed) continue; // already known: skip the checks below
    if (status === null) {
      // Every job is in "all": only a new one enters it.
      if (event.type === "job_created" && landsOn(page, event.jobId, place)) changed = true;
      continue;
    }
    if (event.status !== status) continue;
    // A job entered this list (or may have), where its id puts it.
    if (previousStatus(event) !== status && landsOn(page, event.jobId, place)) changed = true;
  }
  let data = jobs ? { ...page, jobs } : page;
  if (place.narrowed) {
    if (changed && !data.outdated) data = { ...data, outdated: true };
    return { data, stale: false };
  }
  return { data, stale: changed };
}

/** Jobs this browser submitted, newest first, kept current by events. */
export function applyToJobs(jobs: readonly Job[], events: readonly LiveEvent[]): Job[] {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  let changed = false;
  for (const event of events) {
    const job = byId.get(event.jobId);
    if (job === undefined) continue;
    const next = applyEventToJob(job, event);
    if (next !== job) {
      byId.set(event.jobId, next);
      changed = true;
    }
  }
  return changed ? jobs.map((job) => byId.get(job.id) ?? job) : (jobs as Job[]);
}

// ---- throughput ---------------------------------------------------------------------------

export const MINUTE_MS = 60_000;

export function minuteOf(time: number): number {
  return Math.floor(time / MINUTE_MS) * MINUTE_MS;
}

/** The throughput column each ending event counts in; the others do not count. */
const ENDED_AS: Partial<Record<EventType, Exclude<keyof ThroughputBucket, "minute">>> = {
  job_succeeded: "done",
  job_failed: "failed",
};

/** Count jobs that ended (done or failed) into their minute's bucket. */
export function applyToThroughput(
  buckets: readonly ThroughputBucket[],
  events: readonly ReceivedEvent[],
  asOfSeq: number,
): Applied<ThroughputBucket[]> {
  const byMinute = new Map(buckets.map((bucket) => [bucket.minute, { ...bucket }]));
  let changed = false;
  let stale = false;
  for (const event of newer(events, asOfSeq)) {
    const ended = isEventType(event.type) ? ENDED_AS[event.type] : undefined;
    if (ended === undefined) continue;
    if (event.replayed) {
      stale = true;
      continue;
    }
    const minute = minuteOf(event.at.getTime());
    const bucket = byMinute.get(minute) ?? { minute, done: 0, failed: 0 };
    bucket[ended] += 1;
    byMinute.set(minute, bucket);
    changed = true;
  }
  if (!changed) return { data: buckets as ThroughputBucket[], stale };
  return { data: [...byMinute.values()].sort((a, b) => a.minute - b.minute), stale };
}

/** One bucket per minute for the `minutes` minutes up to `now`, zeros where the API sent none. */
export function fillMinutes(buckets: readonly ThroughputBucket[], minutes: number, now: number): ThroughputBucket[] {
  const last = minuteOf(now);
  const byMinute = new Map(buckets.map((bucket) => [minuteOf(bucket.minute), bucket]));
  const filled: ThroughputBucket[] = [];
  for (let i = minutes - 1; i >= 0; i -= 1) {
    const minute = last - i * MINUTE_MS;
    const bucket = byMinute.get(minute);
    filled.push({ minute, done: bucket?.done ?? 0, failed: bucket?.failed ?? 0 });
  }
  return filled;
}
