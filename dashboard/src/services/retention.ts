// What the API keeps (`GET /retention`): finished jobs are deleted, with their events, this
// many days after they finish, per status; null keeps them forever. The page says so where
// finished jobs are listed, so nobody looks for a job that was pruned by design.

import { apiFetch, type Credentials } from "./api";
import { TERMINAL_STATUSES } from "./jobs";

/** The statuses retention applies to: the finished ones, from the generated lifecycle, so a
 *  new terminal status is one `days` must say something about. */
export type RetainedStatus = (typeof TERMINAL_STATUSES)[number];
export const RETAINED_STATUSES: readonly RetainedStatus[] = TERMINAL_STATUSES;

// ---- wire types ---------------------------------------------------------------------------

export interface RetentionWire {
  enabled: boolean;
  /** Days each finished status is kept; null: forever. */
  days: Record<RetainedStatus, number | null>;
  last_run_at: string | null;
  pruned_jobs_total: number;
}

// ---- dashboard types ----------------------------------------------------------------------

export interface Retention {
  enabled: boolean;
  /** Days kept per status; null: forever (also every status while retention is off). */
  days: Record<RetainedStatus, number | null>;
  lastRunAt: Date | null;
  prunedJobsTotal: number;
}

export function retentionFromWire(wire: RetentionWire): Retention {
  return {
    enabled: wire.enabled,
    days: Object.fromEntries(
      RETAINED_STATUSES.map((status) => [status, wire.enabled ? (wire.days[status] ?? null) : null]),
    ) as Record<RetainedStatus, number | null>,
    lastRunAt: wire.last_run_at === null ? null : new Date(wire.last_run_at),
    prunedJobsTotal: wire.pruned_jobs_total,
  };
}

/** True when nothing is ever deleted. */
export function keepsEverything(retention: Retention): boolean {
  return RETAINED_STATUSES.every((status) => retention.days[status] === null);
}

// ---- calls --------------------------------------------------------------------------------

export async function getRetention(credentials: Credentials, signal?: AbortSignal): Promise<Retention> {
  return retentionFromWire(await apiFetch<RetentionWire>("/retention", { credentials, ...(signal && { signal }) }));
}
