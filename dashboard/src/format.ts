// How values read on screen. Pure, so tests pin them down.

import type { Job, JobStatus } from "./services/jobs";
import { keepsEverything, RETAINED_STATUSES, type RetainedStatus, type Retention } from "./services/retention";

/** Each status as a word on screen; a status added to the lifecycle needs one here. */
export const STATUS_LABELS: Record<JobStatus, string> = {
  pending: "Pending",
  running: "Running",
  done: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** The end of a job id. Ids are UUIDv7, whose first digits are a timestamp shared by jobs
 *  created in the same minute; the last ones are random and tell jobs apart. */
export function shortId(id: string): string {
  const hex = id.replace(/-/g, "");
  return hex.length > 8 ? hex.slice(-8) : id;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** One line that says what a job is about: the text for the text task, else the payload. */
export function describePayload(job: Pick<Job, "task" | "payload">, max = 48): string {
  const { payload } = job;
  const keys = Object.keys(payload);
  if (typeof payload.text === "string" && keys.length === 1) return `“${truncate(payload.text, max - 2)}”`;
  if (keys.length === 0) return "(empty payload)";
  return truncate(
    keys.map((key) => `${key}: ${JSON.stringify(payload[key]) ?? "undefined"}`).join(", "),
    max,
  );
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** How long something has waited, coarsely, as a queue's figure reads: "3 s", "2 min",
 *  "5 h", "2 d"; "< 1 s" under a second. */
export function formatAge(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 1) return "< 1 s";
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

/** "just now", "12 s ago", "in 3 s", "4 min ago", then the date. */
export function formatRelative(date: Date, now: number): string {
  const diff = now - date.getTime();
  const ahead = diff < 0;
  const seconds = Math.round(Math.abs(diff) / 1000);
  let amount: string;
  if (seconds < 2) return "just now";
  if (seconds < 60) amount = `${seconds} s`;
  else if (seconds < 3600) amount = `${Math.floor(seconds / 60)} min`;
  else if (seconds < 86_400) amount = `${Math.floor(seconds / 3600)} h`;
  else return formatDateTime(date);
  return ahead ? `in ${amount}` : `${amount} ago`;
}

/** For moments already past (created, started, finished): a clock that ticks coarsely may
 *  be behind them, and "in 2 s" for something that happened would be wrong. */
export function formatAgo(date: Date, now: number): string {
  return formatRelative(date, Math.max(now, date.getTime()));
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** Local time, to the second: "2026-01-02 14:03:05". */
export function formatDateTime(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export function formatClock(date: Date): string {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}

/** "job_retry_scheduled" → "Retry scheduled". */
export function eventLabel(type: string): string {
  const label = type.replace(/^job_/, "").replace(/_/g, " ");
  return label.charAt(0).toUpperCase() + label.slice(1);
}

/** A fraction as a whole percent: 0.42 → "42%". Never "100%" before the end, nor "0%" once
 *  something is done, so a bar that moved says so. */
export function formatPercent(fraction: number): string {
  const percent = Math.round(fraction * 100);
  if (percent === 100 && fraction < 1) return "99%";
  if (percent === 0 && fraction > 0) return "1%";
  return `${percent}%`;
}

/** The browser's offset from UTC at `date`: "UTC+01:00", "UTC−05:00", "UTC". */
export function formatUtcOffset(date: Date): string {
  const offset = -date.getTimezoneOffset();
  if (offset === 0) return "UTC";
  const minutes = Math.abs(offset);
  return `UTC${offset < 0 ? "−" : "+"}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** A retention period in days: "7 days", "1 day", "1.5 days", and hours under a day ("12 h"). */
export function formatDays(days: number): string {
  if (!Number.isFinite(days) || days < 0) return "–";
  if (days < 1) return `${Math.max(1, Math.round(days * 24))} h`;
  const rounded = Math.round(days * 10) / 10;
  return `${rounded} ${rounded === 1 ? "day" : "days"}`;
}

/** A schedule's interval: "every 30 s", "every 5 min", "every 1 h 30 min", "every 2 d". */
export function formatEvery(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "–";
  const parts: string[] = [];
  let rest = Math.round(seconds * 1000) / 1000;
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${Math.round(rest * 10) / 10} s`);
  return `every ${parts.join(" ")}`;
}

/** The whole retention policy in a line: "Finished jobs kept forever", or "Finished jobs kept:
 *  done 7 days, failed 30 days, cancelled forever". */
export function describeRetention(retention: Retention): string {
  if (keepsEverything(retention)) return "Finished jobs kept forever";
  const kept = RETAINED_STATUSES.map((status) => {
    const days = retention.days[status];
    return `${status} ${days === null ? "forever" : formatDays(days)}`;
  });
  return `Finished jobs kept: ${kept.join(", ")}`;
}

/** What happens to the jobs of one finished list: "Failed jobs are kept 30 days after they
 *  finish, then deleted." */
export function describeStatusRetention(status: RetainedStatus, retention: Retention): string {
  const days = retention.days[status];
  const label = STATUS_LABELS[status];
  return days === null
    ? `${label} jobs are kept forever.`
    : `${label} jobs are kept ${formatDays(days)} after they finish, then deleted with their events.`;
}

/** "1 job", "1,204 jobs". */
export function formatJobs(count: number): string {
  return `${formatCount(count)} ${count === 1 ? "job" : "jobs"}`;
}
