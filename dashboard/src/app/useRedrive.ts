// Redriving the dead letter queue by filter: a preview (a dry run that counts the matching
// jobs), then the redrive itself, call after call until none remain, with its progress. It
// lives with the page rather than the panel, so a redrive goes on while the user looks at
// another list, and the panel shows how far it is when they come back.

import { useCallback, useRef, useState } from "react";

import { formatCount, formatJobs } from "../format";
import { ApiError, type Credentials } from "../services/api";
import {
  cleanFilter,
  previewRedrive,
  redriveAll,
  type RedriveFilter,
  type RedriveOutcome,
  type RedriveProgress,
} from "../services/redrive";
import { useAuthError } from "./useAuthError";
import type { DashboardData } from "./useDashboardData";

export type RedrivePhase = "idle" | "previewing" | "running" | "stopping";

/** The panel's fields as typed (kept here, so they are still there, with the redrive they
 *  started, when the user comes back to the DLQ). */
export interface RedriveFields {
  task: string;
  queue: string;
  tenant: string;
  error: string;
  failedAfter: string;
  failedBefore: string;
  rate: string;
}

export const EMPTY_FIELDS: RedriveFields = {
  task: "",
  queue: "",
  tenant: "",
  error: "",
  failedAfter: "",
  failedBefore: "",
  rate: "",
};

export interface RedriveState {
  phase: RedrivePhase;
  /** The last preview, and the filter it counted for (see filterKey). */
  preview: { filterKey: string; matched: number } | null;
  /** The redrive running, or the last one. */
  progress: RedriveProgress | null;
  /** How the last preview or redrive ended, when there is something to say. */
  message: { tone: "info" | "error"; text: string } | null;
}

export interface Redrive {
  state: RedriveState;
  fields: RedriveFields;
  setFields: (fields: RedriveFields) => void;
  preview: (filter: RedriveFilter) => Promise<void>;
  /** Redrive what `filter` matches, at most `ratePerSec` new jobs a second (null: no cap). */
  run: (filter: RedriveFilter, ratePerSec: number | null) => Promise<void>;
  /** Stop after the call in flight. */
  stop: () => void;
  /** The last call's 401, for the page's banner. */
  authError: ApiError | null;
}

/** Equal for filters that match the same jobs: a preview is for one filter. */
export function filterKey(filter: RedriveFilter): string {
  const clean = cleanFilter(filter);
  return JSON.stringify(Object.keys(clean).sort().map((key) => [key, clean[key as keyof RedriveFilter]]));
}

function describeOutcome(outcome: RedriveOutcome): RedriveState["message"] {
  switch (outcome.end) {
    case "finished":
      return {
        tone: "info",
        text:
          outcome.done === 0
            ? "Nothing to redrive: no failed job matches any more."
            : `Redrove ${formatJobs(outcome.done)}: each is a new pending job, and its original says “Retried as …”.`,
      };
    case "stopped":
      return { tone: "info", text: `Stopped after ${formatJobs(outcome.done)} of ${formatCount(outcome.total)}.` };
    case "stuck": {
      const left = outcome.total - outcome.done;
      const [first] = outcome.skipped;
      if (first !== undefined && outcome.skipped.length >= left) {
        return {
          tone: "error",
          text:
            `Redrove ${formatJobs(outcome.done)}; ${formatJobs(outcome.skipped.length)} could not be redriven and ` +
            `${outcome.skipped.length === 1 ? "stays" : "stay"} in the ` +
            `dead letter queue (${first.reason}): retry each one alone to see its error.`,
        };
      }
      return {
        tone: "error",
        text: `Stopped after ${formatJobs(outcome.done)}: the API redrove none of the ${formatJobs(left)} left.`,
      };
    }
  }
}

const IDLE: RedriveState = { phase: "idle", preview: null, progress: null, message: null };

export interface RedriveOptions {
  credentials: Credentials;
  data: Pick<DashboardData, "refetchList" | "refetchWhoAmI">;
}

export function useRedrive({ credentials, data }: RedriveOptions): Redrive {
  const { refetchList, refetchWhoAmI } = data;
  const [state, setState] = useState<RedriveState>(IDLE);
  const [fields, setFields] = useState<RedriveFields>(EMPTY_FIELDS);
  const [authError, setAuthError] = useAuthError(credentials.apiKey);
  // What the loop and a second click read: React's state may not have re-rendered yet.
  const busy = useRef(false);
  const stopRequested = useRef(false);

  const failed = useCallback(
    (error: unknown, what: string): RedriveState["message"] => {
      if (!(error instanceof ApiError)) throw error;
      if (error.isUnauthorized) setAuthError(error);
      if (error.isForbidden) refetchWhoAmI();
      return { tone: "error", text: `${what}: ${error.message}` };
    },
    [refetchWhoAmI, setAuthError],
  );

  const preview = useCallback(
    async (filter: RedriveFilter) => {
      if (busy.current) return;
      busy.current = true;
      setState((current) => ({ ...current, phase: "previewing", message: null }));
      try {
        const matched = await previewRedrive(credentials, filter);
        setAuthError(null);
        setState((current) => ({ ...current, phase: "idle", preview: { filterKey: filterKey(filter), matched } }));
      } catch (error) {
        const message = failed(error, "Could not count the matching jobs");
        setState((current) => ({ ...current, phase: "idle", preview: null, message }));
      } finally {
        busy.current = false;
      }
    },
    [credentials, failed, setAuthError],
  );

  const run = useCallback(
    async (filter: RedriveFilter, ratePerSec: number | null) => {
      if (busy.current) return;
      busy.current = true;
      stopRequested.current = false;
      setState((current) => ({
        ...current,
        phase: "running",
        progress: { done: 0, total: current.preview?.matched ?? 0 },
        message: null,
      }));
      let done = 0;
      try {
        const outcome = await redriveAll(credentials, filter, {
          ratePerSec,
          onProgress: (progress) => {
            done = progress.done;
            setState((current) => ({ ...current, progress }));
          },
          stopped: () => stopRequested.current,
        });
        setAuthError(null);
        // The count was of jobs now redriven: a new preview is needed before another run.
        setState((current) => ({ ...current, phase: "idle", preview: null, message: describeOutcome(outcome) }));
      } catch (error) {
        const message = failed(error, `Redrive stopped after ${formatJobs(done)}`);
        setState((current) => ({ ...current, phase: "idle", preview: null, message }));
      } finally {
        busy.current = false;
        // The rows' "Retried as …" come with the job_retried events; the counts and the list
        // are fetched again as well, in case the events were missed.
        refetchList();
      }
    },
    [credentials, failed, refetchList, setAuthError],
  );

  const stop = useCallback(() => {
    if (!busy.current) return;
    stopRequested.current = true;
    setState((current) => (current.phase === "running" ? { ...current, phase: "stopping" } : current));
  }, []);

  return { state, fields, setFields, preview, run, stop, authError };
}
