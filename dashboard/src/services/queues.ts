// Queue operations: each queue's figures (`GET /queues`) and pausing and resuming one
// (`POST /queues/{name}/pause|resume`). Wire types mirror the JSON; the dashboard's are
// camelCase with Dates, as in jobs.ts. Pausing emits no live event, so what a POST answers is
// what the page shows until the next fetch.

import { apiFetch, type Credentials } from "./api";

// ---- wire types ---------------------------------------------------------------------------

export interface QueueWire {
  name: string;
  paused: boolean;
  paused_at: string | null;
  /** Runnable now. */
  pending: number;
  /** Pending with a future run_at. */
  scheduled: number;
  running: number;
  /** Age of the oldest runnable pending job; null when none. */
  oldest_pending_age_sec: number | null;
  done_last_minute: number;
  failed_last_minute: number;
}

export interface QueuesWire {
  queues: QueueWire[];
}

// ---- dashboard types ----------------------------------------------------------------------

export interface Queue {
  name: string;
  paused: boolean;
  pausedAt: Date | null;
  pending: number;
  scheduled: number;
  running: number;
  oldestPendingAgeSec: number | null;
  doneLastMinute: number;
  failedLastMinute: number;
}

/** What the Pause / Resume button of a queue asks for. */
export type QueueAction = "pause" | "resume";

// ---- converters ---------------------------------------------------------------------------

export function queueFromWire(wire: QueueWire): Queue {
  return {
    name: wire.name,
    paused: wire.paused,
    pausedAt: wire.paused_at === null ? null : new Date(wire.paused_at),
    pending: wire.pending,
    scheduled: wire.scheduled,
    running: wire.running,
    oldestPendingAgeSec: wire.oldest_pending_age_sec,
    doneLastMinute: wire.done_last_minute,
    failedLastMinute: wire.failed_last_minute,
  };
}

/** `queues` with `queue` in place of the one of its name, or added in name order (the API's). */
export function withQueue(queues: readonly Queue[], queue: Queue): Queue[] {
  const others = queues.filter((known) => known.name !== queue.name);
  const at = others.findIndex((known) => known.name > queue.name);
  return at === -1 ? [...others, queue] : [...others.slice(0, at), queue, ...others.slice(at)];
}

// ---- calls --------------------------------------------------------------------------------

export async function listQueues(credentials: Credentials, signal?: AbortSignal): Promise<Queue[]> {
  const wire = await apiFetch<QueuesWire>("/queues", { credentials, ...(signal && { signal }) });
  return wire.queues.map(queueFromWire);
}

/** Pause or resume queue `name`; resolves to the queue as it is now. No body is sent. */
export async function setQueuePaused(credentials: Credentials, name: string, action: QueueAction): Promise<Queue> {
  const wire = await apiFetch<QueueWire>(`/queues/${encodeURIComponent(name)}/${action}`, {
    method: "POST",
    credentials,
  });
  return queueFromWire(wire);
}
