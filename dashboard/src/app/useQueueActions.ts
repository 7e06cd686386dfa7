// What the user does to queues: pause one (workers stop taking its jobs) or resume it. Each
// keeps the names whose request is in flight and says how it went in the page's flash; a 401
// goes to the banner.

import { useCallback } from "react";

import { ApiError, type Credentials } from "../services/api";
import { type QueueAction, setQueuePaused } from "../services/queues";
import { useAuthError } from "./useAuthError";
import type { DashboardData } from "./useDashboardData";
import type { ShowFlash } from "./useFlash";
import { useInFlight } from "./useInFlight";

export interface QueueActions {
  /** Pause or resume queue `name`. */
  run: (name: string, action: QueueAction) => Promise<void>;
  /** Names of queues whose pause or resume request is in flight. */
  inFlight: ReadonlySet<string>;
  /** The last action's 401, for the page's banner; cleared when the API key changes. */
  authError: ApiError | null;
}

const DONE: Record<QueueAction, (name: string) => string> = {
  pause: (name) => `Queue ${name} paused: workers take no new jobs from it; those running finish.`,
  resume: (name) => `Queue ${name} resumed: workers take its jobs again.`,
};

export interface QueueActionsOptions {
  credentials: Credentials;
  data: Pick<DashboardData, "showQueue" | "refetchQueues" | "refetchWhoAmI">;
  showFlash: ShowFlash;
}

export function useQueueActions({ credentials, data, showFlash }: QueueActionsOptions): QueueActions {
  const { showQueue, refetchQueues, refetchWhoAmI } = data;
  const [inFlight, begin, end] = useInFlight();
  const [authError, setAuthError] = useAuthError(credentials.apiKey);

  const run = useCallback(
    async (name: string, action: QueueAction) => {
      if (!begin(name)) return;
      try {
        showQueue(await setQueuePaused(credentials, name, action));
        setAuthError(null);
        showFlash({ tone: "info", text: DONE[action](name) });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isUnauthorized) setAuthError(error);
        if (error.isForbidden) refetchWhoAmI();
        showFlash({ tone: "error", text: `Could not ${action} queue ${name}: ${error.message}` });
        refetchQueues();
      } finally {
        end(name);
      }
    },
    [credentials, begin, end, showQueue, refetchQueues, refetchWhoAmI, setAuthError, showFlash],
  );

  return { run, inFlight, authError };
}
