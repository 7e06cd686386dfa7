// Schedules: the recurring jobs the scheduler fires (`GET /schedules`), and enabling or
// disabling one (`PATCH /schedules/{name}` with `{"enabled": …}`). Wire types mirror the JSON;
// the dashboard's are camelCase with Dates, as in jobs.ts. Editing a schedule sends no live
// event (firing one does: its job's `job_created`), so what a PATCH answers is what the page
// shows until the next fetch.

import { apiFetch, type Credentials } from "./api";

// ---- wire types ---------------------------------------------------------------------------

export interface ScheduleWire {
  name: string;
  task: string;
  payload: Record<string, unknown>;
  queue: string;
  tenant: string;
  /** Exactly one of `cron` and `interval_sec` is set. */
  cron: string | null;
  interval_sec: number | null;
  /** The IANA zone the cron expression is read in ("UTC", "Europe/Paris"). */
  timezone: string;
  enabled: boolean;
  /** Whether a tick fires while the last tick's job is still pending or running. */
  overlap: boolean;
  priority: number;
  max_retries: number | null;
  /** Declared in code (the worker's registry) or created over the API. */
  source: "code" | "api";
  next_run_at: string | null;
  /** The last tick that fired, and the job it made. */
  last_run_at: string | null;
  last_job_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface SchedulesWire {
  schedules: ScheduleWire[];
}

// ---- dashboard types ----------------------------------------------------------------------

export interface Schedule {
  name: string;
  task: string;
  payload: Record<string, unknown>;
  queue: string;
  tenant: string;
  cron: string | null;
  intervalSec: number | null;
  timezone: string;
  enabled: boolean;
  overlap: boolean;
  priority: number;
  maxRetries: number | null;
  source: "code" | "api";
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastJobId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

// ---- converters ---------------------------------------------------------------------------

function dateOrNull(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}

export function scheduleFromWire(wire: ScheduleWire): Schedule {
  return {
    name: wire.name,
    task: wire.task,
    payload: wire.payload,
    queue: wire.queue,
    tenant: wire.tenant,
    cron: wire.cron,
    intervalSec: wire.interval_sec,
    timezone: wire.timezone,
    enabled: wire.enabled,
    overlap: wire.overlap,
    priority: wire.priority,
    maxRetries: wire.max_retries,
    source: wire.source,
    nextRunAt: dateOrNull(wire.next_run_at),
    lastRunAt: dateOrNull(wire.last_run_at),
    lastJobId: wire.last_job_id,
    createdAt: new Date(wire.created_at),
    updatedAt: new Date(wire.updated_at),
  };
}

/** `schedules` with `schedule` in place of the one of its name, or added in name order (the
 *  API's). */
export function withSchedule(schedules: readonly Schedule[], schedule: Schedule): Schedule[] {
  const others = schedules.filter((known) => known.name !== schedule.name);
  const at = others.findIndex((known) => known.name > schedule.name);
  return at === -1 ? [...others, schedule] : [...others.slice(0, at), schedule, ...others.slice(at)];
}

// ---- calls --------------------------------------------------------------------------------

export async function listSchedules(credentials: Credentials, signal?: AbortSignal): Promise<Schedule[]> {
  const wire = await apiFetch<SchedulesWire>("/schedules", { credentials, ...(signal && { signal }) });
  return wire.schedules.map(scheduleFromWire);
}

/** Enable or disable schedule `name`; resolves to the schedule as it is now. A disabled
 *  schedule fires nothing until it is enabled again; the jobs it already made are untouched. */
export async function setScheduleEnabled(
  credentials: Credentials,
  name: string,
  enabled: boolean,
): Promise<Schedule> {
  const wire = await apiFetch<ScheduleWire>(`/schedules/${encodeURIComponent(name)}`, {
    method: "PATCH",
    body: { enabled },
    credentials,
  });
  return scheduleFromWire(wire);
}
