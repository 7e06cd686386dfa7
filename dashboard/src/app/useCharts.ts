// The Charts view's data: three resources over the minutes chosen, fetched while the view is
// shown. Workers sample once a minute, so the charts are polled rather than moved by events.
// What it returns is one object while none of it changes (the charts are memoized), so a
// render of the page for something else (a live event) does not draw them again.

import { useCallback, useMemo } from "react";

import { useResource } from "../data/useResource";
import type { ResourceState } from "../data/resource";
import { useInterval } from "../hooks";
import type { Route } from "../routing";
import type { Credentials } from "../services/api";
import {
  chartKeys,
  type FailureBucket,
  getFailures,
  getLatency,
  getQueueSamples,
  type LatencyBucket,
  type QueueSample,
} from "../services/charts";

/** A new sample comes once a minute: a look twice a minute shows it within half of one. */
export const CHARTS_POLL_MS = 30_000;

export interface ChartsData {
  queues: ResourceState<QueueSample[]>;
  latency: ResourceState<LatencyBucket[]>;
  failures: ResourceState<FailureBucket[]>;
  /** Fetch all three again now (the user asked). Stable while the resources are. */
  reload: () => void;
}

export function useCharts({ route, credentials, currentSeq }: { route: Route; credentials: Credentials; currentSeq: () => number }): ChartsData {
  const minutes = route.name === "charts" ? route.minutes : null;
  const [queuesState, queues] = useResource(
    minutes === null ? null : chartKeys.queues(minutes),
    (signal) => getQueueSamples(credentials, minutes ?? 60, signal),
    currentSeq,
    2000,
  );
  const [latencyState, latency] = useResource(
    minutes === null ? null : chartKeys.latency(minutes),
    (signal) => getLatency(credentials, minutes ?? 60, signal),
    currentSeq,
    2000,
  );
  const [failuresState, failures] = useResource(
    minutes === null ? null : chartKeys.failures(minutes),
    (signal) => getFailures(credentials, minutes ?? 60, signal),
    currentSeq,
    2000,
  );
  useInterval(
    () => {
      for (const resource of [queues, latency, failures]) resource?.refetch();
    },
    minutes === null ? null : CHARTS_POLL_MS,
  );
  const reload = useCallback(() => {
    for (const resource of [queues, latency, failures]) resource?.refetchNow();
  }, [queues, latency, failures]);
  return useMemo(
    () => ({ queues: queuesState, latency: latencyState, failures: failuresState, reload }),
    [queuesState, latencyState, failuresState, reload],
  );
}
