// Redriving the dead letter queue by filter (`POST /dlq/redrive`): every failed job not yet
// retried that matches is retried as a new job, as Retry does for one. The API does at most
// `limit` jobs a call and says how many still match, so a caller loops until none remain;
// `redriveAll` is that loop, outside React so that it is tested as plain code. The loop holds
// to the jobs that had failed when it began (`failed_before` = the first answer's `as_of`):
// otherwise copies that fail again at once would match again, and it would never end.

import { apiFetch, type Credentials } from "./api";
import { type LoopAnswer, type LoopOutcome, loopUntilDone } from "./bulkLoop";

export { loopBound } from "./bulkLoop";

// ---- wire types ---------------------------------------------------------------------------

/** Which failed jobs: every field optional, all of them must match (an empty filter is every
 *  failed job not yet retried). */
export interface RedriveFilter {
  task?: string;
  queue?: string;
  tenant?: string;
  /** A substring of the job's last error. */
  error?: string;
  /** RFC 3339: jobs that failed after, or before, this moment. */
  failed_after?: string;
  failed_before?: string;
}

export interface RedriveRequestWire extends RedriveFilter {
  /** A substring of the payload's JSON text. */
  payload?: string;
  trace_id?: string;
  /** A selection (at most 1,000), combined with the other fields by AND. */
  ids?: string[];
  dry_run?: boolean;
  /** At most this many jobs this call (the API's default 1000, at most 10,000). */
  limit?: number;
  /** At most this many new jobs a second during this call (0.1 to 10,000). */
  rate_per_sec?: number;
}

export interface RedriveAnswerWire {
  /** Failed, not yet retried jobs matching the filter, when the call started. */
  matched: number;
  redriven: number;
  dry_run: boolean;
  /** Matched jobs still not redriven after this call, skipped ones included. */
  remaining: number;
  jobs: { id: string; retried_by: string }[];
  /** Matching jobs this call could not redrive (a stored payload beyond today's limits): they
   *  stay in the DLQ. Absent from an API older than it. */
  skipped?: { id: string; reason: string }[];
  /** The store's time when the call began (RFC 3339): the call took only jobs that had failed
   *  before it. Absent from an API older than it. */
  as_of?: string;
}

// ---- dashboard types ----------------------------------------------------------------------

export interface RedriveAnswer {
  matched: number;
  redriven: number;
  dryRun: boolean;
  remaining: number;
  /** Each original job and the new job it was retried as. */
  jobs: { id: string; retriedBy: string }[];
  skipped: { id: string; reason: string }[];
  /** The store's time when the call began, as the API wrote it (its microseconds kept). */
  asOf: string | null;
}

/** How far a redrive is: `done` of (at least) `total` jobs. `total` grows if jobs that match
 *  fail while it runs. */
export interface RedriveProgress {
  done: number;
  total: number;
}

export function redriveAnswerFromWire(wire: RedriveAnswerWire): RedriveAnswer {
  return {
    matched: wire.matched,
    redriven: wire.redriven,
    dryRun: wire.dry_run,
    remaining: wire.remaining,
    jobs: wire.jobs.map((job) => ({ id: job.id, retriedBy: job.retried_by })),
    skipped: wire.skipped ?? [],
    asOf: wire.as_of ?? null,
  };
}

/** The filter without its empty fields: an empty field means "any", not "equal to ''". */
export function cleanFilter(filter: RedriveFilter): RedriveFilter {
  const clean: RedriveFilter = {};
  for (const [key, value] of Object.entries(filter) as [keyof RedriveFilter, string | undefined][]) {
    const trimmed = value?.trim() ?? "";
    if (trimmed !== "") clean[key] = trimmed;
  }
  return clean;
}

// ---- calls --------------------------------------------------------------------------------

/** Jobs per call without a rate: enough that a large DLQ takes few calls, few enough that the
 *  bar moves and each call ends well inside the request timeout. */
export const REDRIVE_BATCH = 250;
/** The API's bounds on `rate_per_sec`. */
export const MIN_RATE_PER_SEC = 0.1;
export const MAX_RATE_PER_SEC = 10_000;
/** With a rate, a call creates `rate × this` jobs, so it lasts about this many seconds. */
const SECONDS_PER_CALL = 2;
/** A call at the slowest rate still answers: the API sleeps between jobs within the call. */
const CALL_TIMEOUT_MS = 30_000;

/** The jobs one call asks for: a batch, or about SECONDS_PER_CALL seconds of `ratePerSec`. */
export function batchSize(ratePerSec: number | null): number {
  if (ratePerSec === null) return REDRIVE_BATCH;
  return Math.max(1, Math.min(REDRIVE_BATCH, Math.floor(ratePerSec * SECONDS_PER_CALL)));
}

export async function redrive(
  credentials: Credentials,
  request: RedriveRequestWire,
  signal?: AbortSignal,
): Promise<RedriveAnswer> {
  const wire = await apiFetch<RedriveAnswerWire>("/dlq/redrive", {
    method: "POST",
    body: request,
    credentials,
    timeoutMs: CALL_TIMEOUT_MS,
    ...(signal && { signal }),
  });
  return redriveAnswerFromWire(wire);
}

/** How many jobs match, redriving none. */
export async function previewRedrive(
  credentials: Credentials,
  filter: RedriveFilter,
  signal?: AbortSignal,
): Promise<number> {
  return (await redrive(credentials, { ...cleanFilter(filter), dry_run: true }, signal)).matched;
}

export interface RedriveAllOptions {
  /** Jobs a second, or null for as fast as the API goes. */
  ratePerSec: number | null;
  /** After each call. */
  onProgress: (progress: RedriveProgress) => void;
  /** Checked between calls: true stops the loop (the call in flight completes). */
  stopped?: () => boolean;
}

export type RedriveOutcome = LoopOutcome;

/** A redrive's answer in the loop's terms. */
export function loopAnswer(answer: RedriveAnswer): LoopAnswer {
  return {
    matched: answer.matched,
    changed: answer.redriven,
    remaining: answer.remaining,
    asOf: answer.asOf,
    skipped: answer.skipped,
  };
}

/** Redrive every failed job matching `filter`, a batch a call, until none remain, holding to
 *  those that had failed when the first call began (the bulk loop, with `failed_before`). */
export async function redriveAll(
  credentials: Credentials,
  filter: RedriveFilter,
  { ratePerSec, onProgress, stopped }: RedriveAllOptions,
): Promise<RedriveOutcome> {
  return redriveAllRequest(credentials, cleanFilter(filter), { ratePerSec, onProgress, ...(stopped && { stopped }) });
}

/** redriveAll for a request already made (the bulk bar's: a selection's `ids`, a payload). */
export async function redriveAllRequest(
  credentials: Credentials,
  body: RedriveRequestWire,
  { ratePerSec, onProgress, stopped }: RedriveAllOptions,
): Promise<RedriveOutcome> {
  const request: RedriveRequestWire = { ...body, limit: batchSize(ratePerSec) };
  if (ratePerSec !== null) request.rate_per_sec = ratePerSec;
  return loopUntilDone(request, "failed_before", async (next) => loopAnswer(await redrive(credentials, next)), {
    onProgress: (progress) => onProgress(progress),
    ...(stopped && { stopped }),
  });
}
