// What the user does to jobs: submit one, retry a failed or cancelled one, cancel a pending or
// running one. Each keeps what it is doing (the form's "sending", the ids being retried or
// cancelled) and how it went (the form's feedback, a flash, an auth error for the banner), and
// the jobs submitted from this page, which live events keep current.

import { useCallback, useMemo, useRef, useState } from "react";

import type { RowActions } from "../components/JobTable";
import type { SubmitFeedback } from "../components/SubmitPanel";
import { shortId } from "../format";
import { applyCancelAnswer, applyEventToJob, applyToJobs, type ReceivedEvent } from "../live/apply";
import { routeHref } from "../routing";
import { ApiError, type Credentials } from "../services/api";
import {
  cancelJob,
  type Job,
  type LiveEvent,
  newIdempotencyKey,
  retryJob,
  type Submission,
  submitJob,
} from "../services/jobs";
import { useAuthError } from "./useAuthError";
import type { DashboardData } from "./useDashboardData";
import type { ShowFlash } from "./useFlash";
import { useInFlight } from "./useInFlight";

const RECENT_LIMIT = 6;
/** Events kept per job id for jobs a POST has not returned yet (a race the feed can win). */
const MEMORY_JOBS = 500;

export interface JobActions {
  submit: (submission: Submission) => Promise<void>;
  feedback: SubmitFeedback;
  retry: (job: Job) => Promise<void>;
  /** Ids of jobs whose retry request is in flight. */
  retrying: ReadonlySet<string>;
  cancel: (job: Job) => Promise<void>;
  /** Ids of jobs whose cancel request is in flight. */
  cancelling: ReadonlySet<string>;
  /** What a row's buttons need, one object while none of it changes (rows are memoized); the
   *  page adds whether the key may use them. */
  rowActions: Omit<RowActions, "denied">;
  /** The last action's 401, for the page's banner; cleared when the API key changes. */
  authError: ApiError | null;
  /** Jobs submitted (or retried) from this page, newest first. */
  recent: readonly Job[];
  /** Keep `recent` current with a batch of live events. */
  applyEvents: (events: readonly ReceivedEvent[]) => void;
}

/** Remember each job's events, most recently active jobs last, at most MEMORY_JOBS jobs. */
function remember(memory: Map<string, LiveEvent[]>, events: readonly LiveEvent[]): void {
  for (const event of events) {
    const known = memory.get(event.jobId);
    memory.delete(event.jobId);
    memory.set(event.jobId, known ? [...known, event] : [event]);
  }
  for (const id of memory.keys()) {
    if (memory.size <= MEMORY_JOBS) break;
    memory.delete(id);
  }
}

export interface JobActionsOptions {
  credentials: Credentials;
  data: Pick<DashboardData, "markRetried" | "showCancelAnswer" | "refetchJobs" | "refetchWhoAmI">;
  /** The page's one flash message, shared with the other actions. */
  showFlash: ShowFlash;
}

export function useJobActions({ credentials, data, showFlash }: JobActionsOptions): JobActions {
  const { markRetried, showCancelAnswer, refetchJobs, refetchWhoAmI } = data;
  const [feedback, setFeedback] = useState<SubmitFeedback>({ kind: "idle" });
  const [retrying, beginRetry, endRetry] = useInFlight();
  const [cancelling, beginCancel, endCancel] = useInFlight();
  const [recent, setRecent] = useState<Job[]>([]);
  const memory = useRef(new Map<string, LiveEvent[]>());

  const [authError, setAuthError] = useAuthError(credentials.apiKey);

  const applyEvents = useCallback((events: readonly ReceivedEvent[]) => {
    remember(memory.current, events);
    setRecent((jobs) => applyToJobs(jobs, events));
  }, []);

  const submit = useCallback(
    async (submission: Submission) => {
      setFeedback({ kind: "sending" });
      try {
        const created = await submitJob(credentials, submission, newIdempotencyKey());
        // Events about the job may have come before the POST's answer: catch up with them.
        const seen = memory.current.get(created.id) ?? [];
        const current = seen.reduce(applyEventToJob, created);
        setRecent((jobs) => [current, ...jobs.filter((job) => job.id !== created.id)].slice(0, RECENT_LIMIT));
        setFeedback({ kind: "idle" });
        setAuthError(null);
        showFlash({
          tone: "info",
          text: `Submitted job ${shortId(created.id)}.`,
          link: { href: routeHref({ name: "job", id: created.id }), label: "View job" },
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isRateLimited) {
          const seconds = Math.ceil(error.retryAfterSec ?? 60);
          setFeedback({
            kind: "rate_limited",
            until: Date.now() + seconds * 1000,
            seconds,
            message: `Rate limited: ${error.message}.`.replace(/\.\.$/, "."),
          });
        } else {
          if (error.isUnauthorized) setAuthError(error);
          if (error.isForbidden) refetchWhoAmI();
          setFeedback({
            kind: "error",
            message: error.isUnauthorized
              ? "Not submitted: the API needs a valid API key (see “API key & tenant”)."
              : `Not submitted: ${error.message}`,
          });
        }
      }
    },
    [credentials, refetchWhoAmI, setAuthError, showFlash],
  );

  const retry = useCallback(
    async (job: Job) => {
      if (!beginRetry(job.id)) return;
      try {
        const created = await retryJob(credentials, job.id);
        markRetried(job.id, created.id);
        setRecent((jobs) => [created, ...jobs].slice(0, RECENT_LIMIT));
        setAuthError(null);
        showFlash({
          tone: "info",
          text: `Job ${shortId(job.id)} retried as new job ${shortId(created.id)}.`,
          link: { href: routeHref({ name: "job", id: created.id }), label: "View the new job" },
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isUnauthorized) setAuthError(error);
        if (error.isForbidden) refetchWhoAmI();
        showFlash({ tone: "error", text: `Retry of job ${shortId(job.id)} failed: ${error.message}` });
        refetchJobs();
      } finally {
        endRetry(job.id);
      }
    },
    [credentials, beginRetry, endRetry, markRetried, refetchJobs, refetchWhoAmI, setAuthError, showFlash],
  );

  const cancel = useCallback(
    async (job: Job) => {
      if (!beginCancel(job.id)) return;
      try {
        const outcome = await cancelJob(credentials, job.id);
        showCancelAnswer(outcome.job);
        setRecent((jobs) => jobs.map((known) => applyCancelAnswer(known, outcome.job)));
        setAuthError(null);
        showFlash({
          tone: "info",
          text:
            outcome.kind === "cancelled"
              ? `Job ${shortId(job.id)} cancelled.`
              : `Job ${shortId(job.id)}: cancellation requested — it stops shortly.`,
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isUnauthorized) setAuthError(error);
        if (error.isForbidden) refetchWhoAmI();
        // A 409 says why (it finished meanwhile): the server's words, then what is true now.
        showFlash({ tone: "error", text: `Could not cancel job ${shortId(job.id)}: ${error.message}` });
        refetchJobs();
      } finally {
        endCancel(job.id);
      }
    },
    [credentials, beginCancel, endCancel, showCancelAnswer, refetchJobs, refetchWhoAmI, setAuthError, showFlash],
  );

  const rowActions = useMemo(
    () => ({
      onRetry: (job: Job) => void retry(job),
      onCancel: (job: Job) => void cancel(job),
      retrying,
      cancelling,
    }),
    [retry, cancel, retrying, cancelling],
  );

  return {
    submit,
    feedback,
    retry,
    retrying,
    cancel,
    cancelling,
    rowActions,
    authError,
    recent,
    applyEvents,
  };
}
