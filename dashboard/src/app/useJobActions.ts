// What the user does to jobs: submit one, retry a failed one. Each keeps what it is doing (the
// form's "sending", the ids being retried) and how it went (the form's feedback, a flash, an
// auth error for the banner), and the jobs submitted from this page, which live events keep
// current.

import { useCallback, useMemo, useRef, useState } from "react";

import type { RetryAction } from "../components/JobTable";
import type { SubmitFeedback } from "../components/SubmitPanel";
import { shortId } from "../format";
import { applyEventToJob, applyToJobs, type ReceivedEvent } from "../live/apply";
import { routeHref } from "../routing";
import { ApiError, type Credentials } from "../services/api";
import { type Job, type LiveEvent, newIdempotencyKey, retryJob, type Submission, submitJob } from "../services/jobs";
import type { DashboardData } from "./useDashboardData";
import { type Flash, useFlash } from "./useFlash";

const RECENT_LIMIT = 6;
/** Events kept per job id for jobs a POST has not returned yet (a race the feed can win). */
const MEMORY_JOBS = 500;

export interface JobActions {
  submit: (submission: Submission) => Promise<void>;
  feedback: SubmitFeedback;
  retry: (job: Job) => Promise<void>;
  /** Ids of jobs whose retry request is in flight. */
  retrying: ReadonlySet<string>;
  /** `retry` and `retrying` together, one object while neither changes (rows are memoized). */
  retryAction: RetryAction;
  /** The last action's 401, for the page's banner; cleared when the API key changes. */
  authError: ApiError | null;
  flash: Flash | null;
  dismissFlash: () => void;
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
  data: Pick<DashboardData, "markRetried" | "refetchJobs">;
}

export function useJobActions({ credentials, data }: JobActionsOptions): JobActions {
  const { markRetried, refetchJobs } = data;
  const [feedback, setFeedback] = useState<SubmitFeedback>({ kind: "idle" });
  const [retrying, setRetrying] = useState<ReadonlySet<string>>(new Set());
  const [recent, setRecent] = useState<Job[]>([]);
  const [flash, showFlash, dismissFlash] = useFlash();
  const memory = useRef(new Map<string, LiveEvent[]>());

  // An action's 401 is about the key it was sent with: a new key clears it, at once, in the
  // render that sees the key (React's "adjust state when a prop changes", not an effect).
  const [authError, setAuthError] = useState<ApiError | null>(null);
  const [authErrorKey, setAuthErrorKey] = useState(credentials.apiKey);
  if (authErrorKey !== credentials.apiKey) {
    setAuthErrorKey(credentials.apiKey);
    setAuthError(null);
  }

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
          setFeedback({
            kind: "error",
            message: error.isUnauthorized
              ? "Not submitted: the API needs a valid API key (see “API key & tenant”)."
              : `Not submitted: ${error.message}`,
          });
        }
      }
    },
    [credentials, showFlash],
  );

  // The ids in flight, read and written only by `retry`: a second click that comes before
  // React has re-rendered with `retrying` must not send a second request.
  const inFlight = useRef(new Set<string>());

  const retry = useCallback(
    async (job: Job) => {
      if (inFlight.current.has(job.id)) return;
      inFlight.current.add(job.id);
      setRetrying((ids) => new Set(ids).add(job.id));
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
        showFlash({ tone: "error", text: `Retry of job ${shortId(job.id)} failed: ${error.message}` });
        refetchJobs();
      } finally {
        inFlight.current.delete(job.id);
        setRetrying((ids) => {
          const next = new Set(ids);
          next.delete(job.id);
          return next;
        });
      }
    },
    [credentials, markRetried, refetchJobs, showFlash],
  );

  const retryAction = useMemo(() => ({ onRetry: (job: Job) => void retry(job), busy: retrying }), [retry, retrying]);

  return { submit, feedback, retry, retrying, retryAction, authError, flash, dismissFlash, recent, applyEvents };
}
