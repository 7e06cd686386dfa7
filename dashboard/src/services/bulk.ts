// Bulk actions on a list, by selection (`ids`, at most 1,000) or by its filter ("all
// matching"): Retry is `POST /dlq/redrive` (failed jobs not retried yet), Cancel is
// `POST /jobs/cancel` (pending and running jobs; a running one is asked to stop). Both take a
// dry run first (the preview's count), then run the bulk loop (bulkLoop.ts) to the end.

import { apiFetch, type Credentials } from "./api";
import { type LoopAnswer, type LoopOutcome, type LoopProgress, loopUntilDone } from "./bulkLoop";
import { canCancel, type JobListView, type JobStatus, viewStatus } from "./jobs";
import { redrive, redriveAllRequest, type RedriveRequestWire } from "./redrive";
import { cleanListFilter, type FilterField, type ListFilter } from "./search";

export type BulkKind = "retry" | "cancel";

/** The most ids one call takes (the API's bound). */
export const MAX_SELECTION = 1000;
/** Jobs a cancel call takes: the API's default; cancelling is cheap. */
export const CANCEL_BATCH = 1000;

/** Which bulk action a list offers: Retry on failed jobs (their list and the DLQ), Cancel on
 *  the lists that hold pending or running jobs; none on done and cancelled. */
export function bulkKindOf(view: JobListView): BulkKind | null {
  const status = viewStatus(view);
  if (status === "failed") return "retry";
  if (status === null || canCancel(status)) return "cancel";
  return null;
}

// ---- wire ---------------------------------------------------------------------------------

export interface CancelRequestWire extends Omit<ListFilter, "finished_after" | "finished_before"> {
  /** Only `pending` or `running`; absent: both. */
  status?: JobStatus;
  ids?: string[];
  dry_run?: boolean;
  limit?: number;
}

export interface CancelAnswerWire {
  matched: number;
  cancelled: number;
  cancel_requested: number;
  dry_run: boolean;
  remaining: number;
  as_of: string;
}

export interface CancelAnswer extends LoopAnswer {
  cancelled: number;
  cancelRequested: number;
}

export function cancelAnswerFromWire(wire: CancelAnswerWire): CancelAnswer {
  return {
    matched: wire.matched,
    changed: wire.cancelled + wire.cancel_requested,
    remaining: wire.remaining,
    asOf: wire.as_of ?? null,
    skipped: [],
    cancelled: wire.cancelled,
    cancelRequested: wire.cancel_requested,
  };
}

export async function cancelJobs(credentials: Credentials, request: CancelRequestWire): Promise<CancelAnswer> {
  const wire = await apiFetch<CancelAnswerWire>("/jobs/cancel", {
    method: "POST",
    body: request,
    credentials,
    timeoutMs: 30_000,
  });
  return cancelAnswerFromWire(wire);
}

// ---- what to act on -----------------------------------------------------------------------

/** What a bulk action takes: the jobs selected, or every job the list's filter matches. */
export type BulkTarget = { ids: readonly string[] } | { filter: ListFilter };

/** The list filter's fields a redrive cannot take (its filter knows no job id or creation time). */
const NOT_FOR_REDRIVE: readonly FilterField[] = ["id_prefix", "created_after", "created_before"];

/** The redrive request for a target, or the filter's fields it cannot express. A failed job's
 *  finished time is when it failed: the finished range is the redrive's failed range. */
export function redriveRequest(target: BulkTarget): { body: RedriveRequestWire } | { unsupported: FilterField[] } {
  if ("ids" in target) return { body: { ids: [...target.ids] } };
  const filter = cleanListFilter(target.filter);
  const unsupported = NOT_FOR_REDRIVE.filter((field) => filter[field] !== undefined);
  if (unsupported.length > 0) return { unsupported };
  const body: RedriveRequestWire = {};
  if (filter.task !== undefined) body.task = filter.task;
  if (filter.queue !== undefined) body.queue = filter.queue;
  if (filter.tenant !== undefined) body.tenant = filter.tenant;
  if (filter.error !== undefined) body.error = filter.error;
  if (filter.payload !== undefined) body.payload = filter.payload;
  if (filter.trace_id !== undefined) body.trace_id = filter.trace_id;
  if (filter.finished_after !== undefined) body.failed_after = filter.finished_after;
  if (filter.finished_before !== undefined) body.failed_before = filter.finished_before;
  return { body };
}

/** The list filter's fields a cancel cannot take: live jobs have not finished. */
const NOT_FOR_CANCEL: readonly FilterField[] = ["finished_after", "finished_before"];

/** The cancel request for a target on `view`: its filter as it is, and the list's status
 *  (pending or running; "all" sends none: both); or the fields it cannot express. */
export function cancelRequest(view: JobListView, target: BulkTarget): { body: CancelRequestWire } | { unsupported: FilterField[] } {
  if ("ids" in target) return { body: { ids: [...target.ids] } };
  const filter = cleanListFilter(target.filter);
  const unsupported = NOT_FOR_CANCEL.filter((field) => filter[field] !== undefined);
  if (unsupported.length > 0) return { unsupported };
  const body: CancelRequestWire = { ...filter };
  const status = viewStatus(view);
  if (status !== null && canCancel(status)) body.status = status;
  return { body };
}

/** The request for a target, or the filter's fields the action cannot take. */
export function bulkRequest(
  kind: BulkKind,
  view: JobListView,
  target: BulkTarget,
  ratePerSec: number | null,
): BulkRequest | { unsupported: FilterField[] } {
  if (kind === "cancel") {
    const built = cancelRequest(view, target);
    return "unsupported" in built ? built : { kind, body: built.body };
  }
  const built = redriveRequest(target);
  return "unsupported" in built ? built : { kind, body: built.body, ratePerSec };
}

export type BulkRequest =
  | { kind: "retry"; body: RedriveRequestWire; ratePerSec: number | null }
  | { kind: "cancel"; body: CancelRequestWire };

/** How many jobs the request matches now, changing nothing. */
export async function previewBulk(credentials: Credentials, request: BulkRequest): Promise<number> {
  if (request.kind === "retry") return (await redrive(credentials, { ...request.body, dry_run: true })).matched;
  return (await cancelJobs(credentials, { ...request.body, dry_run: true })).matched;
}

export interface BulkOutcome extends LoopOutcome {
  /** Of `done`, for a cancel: cancelled at once, and running ones asked to stop. */
  cancelled: number;
  cancelRequested: number;
}

export interface RunBulkOptions {
  onProgress: (progress: LoopProgress) => void;
  stopped?: () => boolean;
}

/** Run the request to the end: the one bulk loop, with the bound each action names. */
export async function runBulk(
  credentials: Credentials,
  request: BulkRequest,
  { onProgress, stopped }: RunBulkOptions,
): Promise<BulkOutcome> {
  const options = { onProgress, ...(stopped && { stopped }) };
  if (request.kind === "retry") {
    const outcome = await redriveAllRequest(credentials, request.body, { ratePerSec: request.ratePerSec, ...options });
    return { ...outcome, cancelled: 0, cancelRequested: 0 };
  }
  let cancelled = 0;
  let cancelRequested = 0;
  const outcome = await loopUntilDone(
    { ...request.body, limit: CANCEL_BATCH },
    "created_before",
    (next) => cancelJobs(credentials, next),
    {
      ...options,
      onProgress: (progress, answer) => {
        cancelled += answer.cancelled;
        cancelRequested += answer.cancelRequested;
        onProgress(progress);
      },
    },
  );
  return { ...outcome, cancelled, cancelRequested };
}
