// Bulk actions on the list shown: the rows picked (a selection, kept while paging through one
// list, dropped for another), and one bulk action at a time, Retry or Cancel, of the picked
// rows or of every job the list's filter matches. Nothing happens before a preview: a dry run
// counts what matches and the user confirms that count; the run then loops (bulkLoop.ts) with
// its progress, and may be stopped between calls. It lives with the page, so a bulk action
// goes on while the user looks elsewhere.

import { useCallback, useRef, useState } from "react";

import { formatCount, formatJobs } from "../format";
import { ApiError, type Credentials } from "../services/api";
import { type BulkKind, type BulkOutcome, type BulkRequest, MAX_SELECTION, previewBulk, runBulk } from "../services/bulk";
import type { LoopProgress } from "../services/bulkLoop";
import { useAuthError } from "./useAuthError";
import type { DashboardData } from "./useDashboardData";

export type BulkPhase = "idle" | "previewing" | "confirm" | "running" | "stopping";
/** The rows picked, or every job the filter matches. */
export type BulkScope = "selected" | "matching";

export interface BulkState {
  phase: BulkPhase;
  /** The action previewed, confirmed or running (null: none yet). */
  request: BulkRequest | null;
  scope: BulkScope | null;
  /** What the preview counted. */
  matched: number | null;
  progress: LoopProgress | null;
  /** How the last preview or run ended, when there is something to say. */
  message: { tone: "info" | "error"; text: string } | null;
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

export function describeBulkOutcome(kind: BulkKind, outcome: BulkOutcome): BulkState["message"] {
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

const IDLE: BulkState = { phase: "idle", request: null, scope: null, matched: null, progress: null, message: null };
const NONE: ReadonlySet<string> = new Set();

export interface BulkOptions {
  credentials: Credentials;
  data: Pick<DashboardData, "refetchList" | "refetchWhoAmI">;
  /** The list shown (view and filter; null: none): another list starts with nothing picked. */
  listKey: string | null;
}

export function useBulk({ credentials, data, listKey }: BulkOptions): Bulk {
  const { refetchList, refetchWhoAmI } = data;
  const [state, setState] = useState<BulkState>(IDLE);
  const [picked, setPicked] = useState<{ key: string | null; ids: ReadonlySet<string> }>({ key: listKey, ids: NONE });
  const [authError, setAuthError] = useAuthError(credentials.apiKey);
  // What the loop and a second click read: React's state may not have re-rendered yet.
  const busy = useRef(false);
  const stopRequested = useRef(false);
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

  const failed = useCallback(
    (error: unknown, what: string): BulkState["message"] => {
      if (!(error instanceof ApiError)) throw error;
      if (error.isUnauthorized) setAuthError(error);
      if (error.isForbidden) refetchWhoAmI();
      return { tone: "error", text: `${what}: ${error.message}` };
    },
    [refetchWhoAmI, setAuthError],
  );

  const preview = useCallback(
    async (request: BulkRequest, scope: BulkScope) => {
      if (busy.current) return;
      busy.current = true;
      previewed.current = null;
      setState({ ...IDLE, phase: "previewing", request, scope });
      try {
        const matched = await previewBulk(credentials, request);
        setAuthError(null);
        previewed.current = { request, scope };
        setState({ ...IDLE, phase: "confirm", request, scope, matched });
      } catch (error) {
        setState({ ...IDLE, request, scope, message: failed(error, "Could not count the matching jobs") });
      } finally {
        busy.current = false;
      }
    },
    [credentials, failed, setAuthError],
  );

  const confirm = useCallback(async () => {
    const shown = previewed.current;
    if (busy.current || shown === null) return;
    busy.current = true;
    stopRequested.current = false;
    previewed.current = null;
    const { request, scope } = shown;
    setState((current) => ({
      ...current,
      phase: "running",
      progress: { done: 0, total: current.matched ?? 0 },
      message: null,
    }));
    let done = 0;
    try {
      const outcome = await runBulk(credentials, request, {
        onProgress: (progress) => {
          done = progress.done;
          setState((current) => ({ ...current, progress }));
        },
        stopped: () => stopRequested.current,
      });
      setAuthError(null);
      if (scope === "selected" && outcome.end === "finished") clearSelection();
      setState((current) => ({ ...current, phase: "idle", message: describeBulkOutcome(request.kind, outcome) }));
    } catch (error) {
      const message = failed(error, `Bulk ${VERBS[request.kind].noun} stopped after ${formatJobs(done)}`);
      setState((current) => ({ ...current, phase: "idle", message }));
    } finally {
      busy.current = false;
      // The rows move with the events; the list and the counts are fetched again as well.
      refetchList();
    }
  }, [clearSelection, credentials, failed, refetchList, setAuthError]);

  const dismiss = useCallback(() => {
    if (busy.current) return;
    previewed.current = null;
    setState(IDLE);
  }, []);

  const stop = useCallback(() => {
    if (!busy.current) return;
    stopRequested.current = true;
    setState((current) => (current.phase === "running" ? { ...current, phase: "stopping" } : current));
  }, []);

  return { state, selected: selection.ids, select, clearSelection, preview, confirm, dismiss, stop, authError };
}
