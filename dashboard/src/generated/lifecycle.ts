// Generated from src/conveyor/lifecycle.py by `python -m conveyor.lifecycle`.
// Do not edit: change the lifecycle table and regenerate (a test fails when stale).

export const JOB_STATUSES = ["pending", "running", "done", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES = ["done", "failed", "cancelled"] as const;

export const EVENT_TYPES = [
  "job_created",
  "job_leased",
  "job_succeeded",
  "job_retry_scheduled",
  "job_failed",
  "job_lease_expired",
  "job_released",
  "job_retried",
  "job_cancel_requested",
  "job_cancelled",
  "job_progress",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The status a job has after each event (absent: the job keeps its status). */
export const EVENT_TARGET: Partial<Record<EventType, JobStatus>> = {
  job_created: "pending",
  job_leased: "running",
  job_succeeded: "done",
  job_retry_scheduled: "pending",
  job_failed: "failed",
  job_lease_expired: "pending",
  job_released: "pending",
  job_cancel_requested: "running",
  job_cancelled: "cancelled",
  job_progress: "running",
};

/** The lifecycle verb that writes each event. */
export const EVENT_ACTION: Record<EventType, string> = {
  job_created: "submit",
  job_leased: "lease",
  job_succeeded: "ack",
  job_retry_scheduled: "fail",
  job_failed: "fail",
  job_lease_expired: "rescue",
  job_released: "release",
  job_retried: "retry",
  job_cancel_requested: "cancel",
  job_cancelled: "cancel",
  job_progress: "progress",
};

/** The statuses a job may have before each event (null: it did not exist). */
export const EVENT_SOURCES: Record<EventType, readonly (JobStatus | null)[]> = {
  job_created: [null],
  job_leased: ["pending"],
  job_succeeded: ["running"],
  job_retry_scheduled: ["running"],
  job_failed: ["running"],
  job_lease_expired: ["running"],
  job_released: ["running"],
  job_retried: ["failed", "cancelled"],
  job_cancel_requested: ["running"],
  job_cancelled: ["pending", "running"],
  job_progress: ["running"],
};
