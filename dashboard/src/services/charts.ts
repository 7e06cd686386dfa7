// The charts' data: samples the workers take once a minute into the store (so they survive a
// reload and a restart): each queue's depth and oldest pending age (`GET /stats/queues`), wait
// and run time percentiles (`GET /stats/latency`) and failures by task (`GET /stats/failures`).

import { apiFetch, type Credentials } from "./api";

// ---- wire types ---------------------------------------------------------------------------

export interface QueueSamplesWire {
  samples: {
    minute: string;
    queue: string;
    pending: number;
    running: number;
    oldest_pending_age_sec: number | null;
  }[];
}

export interface LatencyWire {
  buckets: {
    minute: string;
    jobs: number;
    wait_p50: number | null;
    wait_p95: number | null;
    wait_p99: number | null;
    run_p50: number | null;
    run_p95: number | null;
    run_p99: number | null;
  }[];
}

export interface FailuresWire {
  buckets: { minute: string; task: string; failures: number }[];
}

// ---- dashboard types ----------------------------------------------------------------------

export interface QueueSample {
  /** Start of the minute, ms since the epoch. */
  minute: number;
  queue: string;
  pending: number;
  running: number;
  /** Seconds the oldest pending job had waited; null: none was pending. */
  oldestPendingAgeSec: number | null;
}

export interface LatencyBucket {
  minute: number;
  /** Jobs that ended in that minute. */
  jobs: number;
  /** Seconds: wait = started − runnable, run = finished − started. */
  wait: { p50: number | null; p95: number | null; p99: number | null };
  run: { p50: number | null; p95: number | null; p99: number | null };
}

export interface FailureBucket {
  minute: number;
  task: string;
  failures: number;
}

export function queueSamplesFromWire(wire: QueueSamplesWire): QueueSample[] {
  return wire.samples.map((sample) => ({
    minute: Date.parse(sample.minute),
    queue: sample.queue,
    pending: sample.pending,
    running: sample.running,
    oldestPendingAgeSec: sample.oldest_pending_age_sec,
  }));
}

export function latencyFromWire(wire: LatencyWire): LatencyBucket[] {
  return wire.buckets.map((bucket) => ({
    minute: Date.parse(bucket.minute),
    jobs: bucket.jobs,
    wait: { p50: bucket.wait_p50, p95: bucket.wait_p95, p99: bucket.wait_p99 },
    run: { p50: bucket.run_p50, p95: bucket.run_p95, p99: bucket.run_p99 },
  }));
}

export function failuresFromWire(wire: FailuresWire): FailureBucket[] {
  return wire.buckets.map((bucket) => ({ minute: Date.parse(bucket.minute), task: bucket.task, failures: bucket.failures }));
}

// ---- calls --------------------------------------------------------------------------------

export async function getQueueSamples(credentials: Credentials, minutes: number, signal?: AbortSignal): Promise<QueueSample[]> {
  const wire = await apiFetch<QueueSamplesWire>(`/stats/queues?minutes=${minutes}`, { credentials, ...(signal && { signal }) });
  return queueSamplesFromWire(wire);
}

export async function getLatency(credentials: Credentials, minutes: number, signal?: AbortSignal): Promise<LatencyBucket[]> {
  const wire = await apiFetch<LatencyWire>(`/stats/latency?minutes=${minutes}`, { credentials, ...(signal && { signal }) });
  return latencyFromWire(wire);
}

export async function getFailures(credentials: Credentials, minutes: number, signal?: AbortSignal): Promise<FailureBucket[]> {
  const wire = await apiFetch<FailuresWire>(`/stats/failures?minutes=${minutes}`, { credentials, ...(signal && { signal }) });
  return failuresFromWire(wire);
}

export const chartKeys = {
  queues: (minutes: number) => `stats:queues:${minutes}`,
  latency: (minutes: number) => `stats:latency:${minutes}`,
  failures: (minutes: number) => `stats:failures:${minutes}`,
} as const;

// ---- shaping for the charts ---------------------------------------------------------------

/** One line: its name and its points (time in ms, value; null: a gap). */
export interface Series {
  name: string;
  points: { t: number; v: number | null }[];
}

/** One series per queue, of `value` of each sample, oldest first; queues by name. */
export function seriesByQueue(samples: readonly QueueSample[], value: (sample: QueueSample) => number | null): Series[] {
  const byQueue = new Map<string, Series>();
  for (const sample of samples) {
    let series = byQueue.get(sample.queue);
    if (series === undefined) {
      series = { name: sample.queue, points: [] };
      byQueue.set(sample.queue, series);
    }
    series.points.push({ t: sample.minute, v: value(sample) });
  }
  for (const series of byQueue.values()) series.points.sort((a, b) => a.t - b.t);
  return [...byQueue.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** p50, p95 and p99 of one measure (wait or run) as three series. */
export function percentileSeries(buckets: readonly LatencyBucket[], measure: "wait" | "run"): Series[] {
  const sorted = [...buckets].sort((a, b) => a.minute - b.minute);
  return (["p50", "p95", "p99"] as const).map((p) => ({
    name: p,
    points: sorted.map((bucket) => ({ t: bucket.minute, v: bucket[measure][p] })),
  }));
}

/** The tasks that failed, most failures first, and each minute's failures per task. */
export function failuresByTask(buckets: readonly FailureBucket[]): {
  tasks: { task: string; total: number }[];
  minutes: Map<number, Map<string, number>>;
} {
  const totals = new Map<string, number>();
  const minutes = new Map<number, Map<string, number>>();
  for (const bucket of buckets) {
    totals.set(bucket.task, (totals.get(bucket.task) ?? 0) + bucket.failures);
    let minute = minutes.get(bucket.minute);
    if (minute === undefined) {
      minute = new Map();
      minutes.set(bucket.minute, minute);
    }
    minute.set(bucket.task, (minute.get(bucket.task) ?? 0) + bucket.failures);
  }
  const tasks = [...totals].map(([task, total]) => ({ task, total })).sort((a, b) => b.total - a.total || (a.task < b.task ? -1 : 1));
  return { tasks, minutes };
}
