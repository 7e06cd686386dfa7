// The live feed (live/) wired to what the page shows: every batch of events patches the server
// data and the jobs submitted from this page, a resync (connected, the server's `refresh`, lost
// history) refetches everything, and while the socket is down the page polls instead.

import { useEffect } from "react";

import { useInterval } from "../hooks";
import type { LiveEvents } from "../live/useLiveEvents";
import type { DashboardData } from "./useDashboardData";
import type { JobActions } from "./useJobActions";

/** While the WebSocket is down, poll what the page shows this often. */
export const POLL_MS = 2000;

export interface LiveUpdatesOptions {
  live: LiveEvents;
  data: Pick<DashboardData, "applyEvents" | "refetchAll" | "refetchVisible">;
  actions: Pick<JobActions, "applyEvents">;
}

export function useLiveUpdates({ live, data, actions }: LiveUpdatesOptions): void {
  const { subscribe } = live;
  const { applyEvents: applyToData, refetchAll, refetchVisible } = data;
  const { applyEvents: applyToRecent } = actions;

  // All stable: subscribed once, for as long as the page is open.
  useEffect(
    () =>
      subscribe({
        onEvents: (events) => {
          applyToRecent(events);
          applyToData(events);
        },
        onResync: () => refetchAll(),
      }),
    [subscribe, applyToData, applyToRecent, refetchAll],
  );

  // Live by events; polling only while the WebSocket is down.
  useInterval(refetchVisible, live.state.status === "live" ? null : POLL_MS);
}
