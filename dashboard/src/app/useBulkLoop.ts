// The steps every bulk action goes through, which the bulk bar's (useBulk) and the redrive's
// (useRedrive) share: one at a time, a count first (a dry run), then the loop (bulkLoop.ts)
// with its progress, which may be stopped between calls. Each call's 401 is kept for the page's
// banner; a 403 asks again who the key is. The state is the caller's (each says more than this
// knows: a bulk action's request, a redrive's preview), with the fields every one of them has.

import { type Dispatch, type SetStateAction, useCallback, useRef, useState } from "react";

import { ApiError, type Credentials } from "../services/api";
import type { LoopOutcome, LoopProgress } from "../services/bulkLoop";
import { useAuthError } from "./useAuthError";
import type { DashboardData } from "./useDashboardData";

/** How a count or a run ended, when there is something to say. */
export interface LoopMessage {
  tone: "info" | "error";
  text: string;
}

/** What every bulk action's state holds. */
export interface LoopState {
  /** `confirm`: counted, waiting for the user's yes (the bulk bar asks; a redrive's button says
   *  the count instead). */
  phase: "idle" | "previewing" | "confirm" | "running" | "stopping";
  /** The run going on, or the last one. */
  progress: LoopProgress | null;
  message: LoopMessage | null;
}

/** What a count does to the caller's state (each step once, in this order; `counted` or
 *  `failed`). */
export interface CountSteps {
  /** It starts: nothing else was going on. */
  start: () => void;
  counted: (matched: number) => void;
  failed: (message: LoopMessage) => void;
}

/** What the loop passes each call of `loopUntilDone` (services/bulkLoop.ts). */
export interface LoopCallOptions {
  onProgress: (progress: LoopProgress) => void;
  stopped: () => boolean;
}

/** What a run does beyond the phase, the progress and the message, which it sets itself. */
export interface RunSteps<S, O extends LoopOutcome> {
  /** It starts (nothing else was going on), before the state says so. */
  start?: () => void;
  /** The jobs it starts from: the count the user saw. */
  total: (current: S) => number;
  /** Once, when the loop ended: what to say (and anything else the end changes). */
  finished: (outcome: O) => LoopMessage | null;
  /** The words before a failed call's error, given the jobs done until then. */
  failedAfter: (done: number) => string;
  /** The rest of the state once it ended, either way (unchanged if absent). */
  settle?: (current: S) => S;
}

export interface BulkLoop<S extends LoopState> {
  state: S;
  setState: Dispatch<SetStateAction<S>>;
  /** A count or a run is going on: what a second click reads (React may not have re-rendered). */
  busy: () => boolean;
  /** Count what an action matches with `call`, unless something is going on. */
  count: (call: () => Promise<number>, steps: CountSteps) => Promise<void>;
  /** Run the loop `call` starts to its end, unless something is going on; the list and the
   *  counts are fetched again after. */
  run: <O extends LoopOutcome>(call: (options: LoopCallOptions) => Promise<O>, steps: RunSteps<S, O>) => Promise<void>;
  /** Stop after the call in flight. */
  stop: () => void;
  /** The last call's 401, for the page's banner. */
  authError: ApiError | null;
}

export interface BulkLoopOptions<S> {
  credentials: Credentials;
  data: Pick<DashboardData, "refetchList" | "refetchWhoAmI">;
  /** The state before anything was done. */
  idle: S;
}

export function useBulkLoop<S extends LoopState>({ credentials, data, idle }: BulkLoopOptions<S>): BulkLoop<S> {
  const { refetchList, refetchWhoAmI } = data;
  const [state, setState] = useState<S>(idle);
  const [authError, setAuthError] = useAuthError(credentials.apiKey);
  // What the loop and a second click read: React's state may not have re-rendered yet.
  const busyRef = useRef(false);
  const stopRequested = useRef(false);

  const busy = useCallback(() => busyRef.current, []);

  const failed = useCallback(
    (error: unknown, what: string): LoopMessage => {
      if (!(error instanceof ApiError)) throw error;
      if (error.isUnauthorized) setAuthError(error);
      if (error.isForbidden) refetchWhoAmI();
      return { tone: "error", text: `${what}: ${error.message}` };
    },
    [refetchWhoAmI, setAuthError],
  );

  const count = useCallback(
    async (call: () => Promise<number>, steps: CountSteps) => {
      if (busyRef.current) return;
      busyRef.current = true;
      steps.start();
      try {
        const matched = await call();
        setAuthError(null);
        steps.counted(matched);
      } catch (error) {
        steps.failed(failed(error, "Could not count the matching jobs"));
      } finally {
        busyRef.current = false;
      }
    },
    [failed, setAuthError],
  );

  const run = useCallback(
    async <O extends LoopOutcome>(call: (options: LoopCallOptions) => Promise<O>, steps: RunSteps<S, O>) => {
      if (busyRef.current) return;
      busyRef.current = true;
      stopRequested.current = false;
      steps.start?.();
      setState((current) => ({
        ...current,
        phase: "running",
        progress: { done: 0, total: steps.total(current) },
        message: null,
      }));
      const settle = steps.settle ?? ((current: S) => current);
      let done = 0;
      try {
        const outcome = await call({
          onProgress: (progress) => {
            done = progress.done;
            setState((current) => ({ ...current, progress }));
          },
          stopped: () => stopRequested.current,
        });
        setAuthError(null);
        const message = steps.finished(outcome);
        setState((current) => ({ ...settle(current), phase: "idle", message }));
      } catch (error) {
        const message = failed(error, steps.failedAfter(done));
        setState((current) => ({ ...settle(current), phase: "idle", message }));
      } finally {
        busyRef.current = false;
        // The rows move with the events (a redrive's "Retried as …" too); the list and the
        // counts are fetched again as well, in case the events were missed.
        refetchList();
      }
    },
    [failed, refetchList, setAuthError],
  );

  const stop = useCallback(() => {
    if (!busyRef.current) return;
    stopRequested.current = true;
    setState((current) => (current.phase === "running" ? { ...current, phase: "stopping" } : current));
  }, []);

  return { state, setState, busy, count, run, stop, authError };
}
