// Redriving the dead letter queue by filter: a preview (a dry run that counts the matching
// jobs), then the redrive itself, call after call until none remain, with its progress. It
// lives with the page rather than the panel, so a redrive goes on while the user looks at
// another list, and the panel shows how far it is when they come back. The steps are a bulk
// action's (useBulkLoop.ts).

import { useCallback, useState } from "react";

import { formatCount, formatJobs } from "../format";
import type { ApiError, Credentials } from "../services/api";
import { cleanFilter, previewRedrive, redriveAll, type RedriveFilter, type RedriveOutcome } from "../services/redrive";
import { type LoopMessage, type LoopState, useBulkLoop } from "./useBulkLoop";
import type { DashboardData } from "./useDashboardData";

/** A redrive is run without a confirm step: the Redrive button says the count. */
export type RedrivePhase = Exclude<LoopState["phase"], "confirm">;

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

export interface RedriveState extends LoopState {
  phase: RedrivePhase;
  /** The last preview, and the filter it counted for (see filterKey). */
  preview: { filterKey: string; matched: number } | null;
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

function describeOutcome(outcome: RedriveOutcome): LoopMessage {
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
  const { state, setState, count, run: runLoop, stop, authError } = useBulkLoop({ credentials, data, idle: IDLE });
  const [fields, setFields] = useState<RedriveFields>(EMPTY_FIELDS);

  const preview = useCallback(
    (filter: RedriveFilter) =>
      count(() => previewRedrive(credentials, filter), {
        start: () => setState((current) => ({ ...current, phase: "previewing", message: null })),
        counted: (matched) =>
          setState((current) => ({ ...current, phase: "idle", preview: { filterKey: filterKey(filter), matched } })),
        failed: (message) => setState((current) => ({ ...current, phase: "idle", preview: null, message })),
      }),
    [count, credentials, setState],
  );

  const run = useCallback(
    (filter: RedriveFilter, ratePerSec: number | null) =>
      runLoop((options) => redriveAll(credentials, filter, { ratePerSec, ...options }), {
        total: (current) => current.preview?.matched ?? 0,
        finished: describeOutcome,
        failedAfter: (done) => `Redrive stopped after ${formatJobs(done)}`,
        // The count was of jobs now redriven: a new preview is needed before another run.
        settle: (current) => ({ ...current, preview: null }),
      }),
    [credentials, runLoop],
  );

  return { state, fields, setFields, preview, run, stop, authError };
}
