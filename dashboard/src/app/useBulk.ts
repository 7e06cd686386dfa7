// Bulk actions on the list shown: the rows picked (a selection, kept while paging through one
// list, dropped for another), and one bulk action at a time, Retry or Cancel, of the picked
// rows or of every job the list's filter matches. Nothing happens before a preview: a dry run
// counts what matches and the user confirms that count; the run then loops (bulkLoop.ts) with
// its progress, and may be stopped between calls (the steps a redrive shares: useBulkLoop.ts).
// It lives with the page, so a bulk action goes on while the user looks elsewhere.

import { useCallback, useRef, useState } from "react";

import { formatCount, formatJobs } from "../format";
import type { ApiError, Credentials } from "../services/api";
import { type BulkKind, type BulkOutcome, type BulkRequest, MAX_SELECTION, previewBulk, runBulk } from "../services/bulk";
import { type LoopMessage, type LoopState, useBulkLoop } from "./useBulkLoop";
import type { DashboardData } from "./useDashboardData";

export type BulkPhase = LoopState["phase"];
/** The rows picked, or every job the filter matches. */
export type BulkScope = "selected" | "matching";

export interface BulkState extends LoopState {
  phase: BulkPhase;
  /** The action previewed, confirmed or running (null: none yet). */
  request: BulkRequest | null;
  /** What the preview counted. */
  matched: number | null;
}

export interface Bulk {
  state: BulkState;
  /** The rows picked on this list (ids). */
  selected: ReadonlySet<string>;
  /** Pick or unpick rows (at most MAX_SELECTION in all). Stable. */
  select: (ids: readonly string[], selected: boolean) => void;
  clearSelection: () => void;
  /** Count what `request` matches (a dry run), then ask to confirm. */
  preview: (request: BulkRequest, scope: BulkScope) => Promise<void>;
  /** Run the previewed action to the end. */
  confirm: () => Promise<void>;
  /** Drop the preview (the user said no), or the last message. */
  dismiss: () => void;
  /** Stop after the call in flight. */
  stop: () => void;
  /** The last call's 401, for the page's banner. */
  authError: ApiError | null;
}

export const VERBS: Record<BulkKind, { verb: string; done: string; noun: string }> = {
  retry: { verb: "Retry", done: "retried", noun: "retry" },
  cancel: { verb: "Cancel", done: "cancelled", noun: "cancel" },
};

export function describeBulkOutcome(kind: BulkKind, outcome: BulkOutcome): LoopMessage {
  const { done } = VERBS[kind];
  switch (outcome.end) {
    case "finished": {
      if (outcome.done === 0) return { tone: "info", text: `Nothing to ${VERBS[kind].noun}: no job matches any more.` };
      if (kind === "retry") {
        return { tone: "info", text: `Retried ${formatJobs(outcome.done)}: each is a new pending job.` };
      }
      const asked = outcome.cancelRequested;
      return {
        tone: "info",
        text:
          `Cancelled ${formatJobs(outcome.cancelled)}` +
          (asked > 0 ? `; ${formatJobs(asked)} running ${asked === 1 ? "was" : "were"} asked to stop.` : "."),
      };
    }
    case "stopped":
      return { tone: "info", text: `Stopped after ${formatJobs(outcome.done)} of ${formatCount(outcome.total)} ${done}.` };
    case "stuck": {
      const left = outcome.total - outcome.done;
      const [first] = outcome.skipped;
      return {
        tone: "error",
        text:
          `Stopped after ${formatJobs(outcome.done)} ${done}: the API changed none of the ${formatJobs(left)} left` +
          (first !== undefined ? ` (${first.reason}).` : "."),
      };
    }
  }
}

const IDLE: BulkState = { phase: "idle", request: null, matched: null, progress: null, message: null };
const NONE: ReadonlySet<string> = new Set();

export interface BulkOptions {
  credentials: Credentials;
  /** `listKey`: the list shown; another list starts with nothing picked. */
  data: Pick<DashboardData, "refetchList" | "refetchWhoAmI" | "listKey">;
}

export function useBulk({ credentials, data }: BulkOptions): Bulk {
  const { listKey } = data;
  const { state, setState, busy, count, run, stop, authError } = useBulkLoop({ credentials, data, idle: IDLE });
  const [picked, setPicked] = useState<{ key: string | null; ids: ReadonlySet<string> }>({ key: listKey, ids: NONE });
  // What a confirm runs: React's state may not have re-rendered yet.
  const previewed = useRef<{ request: BulkRequest; scope: BulkScope } | null>(null);

  // Another list: nothing picked (adjusted while rendering, so no render shows the old picks).
  let selection = picked;
  if (listKey !== null && picked.key !== listKey) {
    selection = { key: listKey, ids: NONE };
    setPicked(selection);
    // A preview counted the other list's rows or filter: it does not stand for this one.
    if (state.phase === "confirm") setState(IDLE);
  }

  const select = useCallback((ids: readonly string[], on: boolean) => {
    setPicked((current) => {
      const next = new Set(current.ids);
      for (const id of ids) {
        if (!on) next.delete(id);
        else if (next.size < MAX_SELECTION) next.add(id);
      }
      return { ...current, ids: next };
    });
  }, []);
  const clearSelection = useCallback(() => setPicked((current) => ({ ...current, ids: NONE })), []);

  const preview = useCallback(
    (request: BulkRequest, scope: BulkScope) =>
      count(() => previewBulk(credentials, request), {
        start: () => {
          previewed.current = null;
          setState({ ...IDLE, phase: "previewing", request });
        },
        counted: (matched) => {
          previewed.current = { request, scope };
          setState({ ...IDLE, phase: "confirm", request, matched });
        },
        failed: (message) => setState({ ...IDLE, request, message }),
      }),
    [count, credentials, setState],
  );

  const confirm = useCallback(async () => {
    const shown = previewed.current;
    if (shown === null) return;
    const { request, scope } = shown;
    await run((options) => runBulk(credentials, request, options), {
      start: () => {
        previewed.current = null;
      },
      total: (current) => current.matched ?? 0,
      finished: (outcome) => {
        if (scope === "selected" && outcome.end === "finished") clearSelection();
        return describeBulkOutcome(request.kind, outcome);
      },
      failedAfter: (done) => `Bulk ${VERBS[request.kind].noun} stopped after ${formatJobs(done)}`,
    });
  }, [clearSelection, credentials, run]);

  const dismiss = useCallback(() => {
    if (busy()) return;
    previewed.current = null;
    setState(IDLE);
  }, [busy, setState]);

  return { state, selected: selection.ids, select, clearSelection, preview, confirm, dismiss, stop, authError };
}
