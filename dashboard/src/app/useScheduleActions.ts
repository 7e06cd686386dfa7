// What the user does to schedules: enable or disable one. It keeps the names whose request is
// in flight and says how it went in the page's flash; a 401 goes to the banner.

import { useCallback } from "react";

import { ApiError, type Credentials } from "../services/api";
import { setScheduleEnabled } from "../services/schedules";
import { useAuthError } from "./useAuthError";
import type { DashboardData } from "./useDashboardData";
import type { ShowFlash } from "./useFlash";
import { useInFlight } from "./useInFlight";

export interface ScheduleActions {
  /** Enable or disable schedule `name`. */
  setEnabled: (name: string, enabled: boolean) => Promise<void>;
  /** Names of schedules whose request is in flight. */
  inFlight: ReadonlySet<string>;
  /** The last action's 401, for the page's banner; cleared when the API key changes. */
  authError: ApiError | null;
}

export interface ScheduleActionsOptions {
  credentials: Credentials;
  data: Pick<DashboardData, "showSchedule" | "refetchSchedules" | "refetchWhoAmI">;
  showFlash: ShowFlash;
}

export function useScheduleActions({ credentials, data, showFlash }: ScheduleActionsOptions): ScheduleActions {
  const { showSchedule, refetchSchedules, refetchWhoAmI } = data;
  const [inFlight, begin, end] = useInFlight();
  const [authError, setAuthError] = useAuthError(credentials.apiKey);

  const setEnabled = useCallback(
    async (name: string, enabled: boolean) => {
      if (!begin(name)) return;
      try {
        showSchedule(await setScheduleEnabled(credentials, name, enabled));
        setAuthError(null);
        showFlash({
          tone: "info",
          text: enabled
            ? `Schedule ${name} enabled: it fires at its next run.`
            : `Schedule ${name} disabled: it fires nothing until it is enabled; its jobs already made still run.`,
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isUnauthorized) setAuthError(error);
        if (error.isForbidden) refetchWhoAmI();
        showFlash({
          tone: "error",
          text: `Could not ${enabled ? "enable" : "disable"} schedule ${name}: ${error.message}`,
        });
        refetchSchedules();
      } finally {
        end(name);
      }
    },
    [credentials, begin, end, showSchedule, refetchSchedules, refetchWhoAmI, setAuthError, showFlash],
  );

  return { setEnabled, inFlight, authError };
}
