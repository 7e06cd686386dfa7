// Schedules, retention and redrive answers in the API's wire shape, with overrides.

import type { RedriveAnswerWire } from "../../services/redrive";
import type { RetentionWire } from "../../services/retention";
import type { ScheduleWire } from "../../services/schedules";

export function buildScheduleWire(overrides: Partial<ScheduleWire> = {}): ScheduleWire {
  return {
    name: "nightly",
    task: "report",
    payload: {},
    queue: "default",
    tenant: "default",
    cron: "0 2 * * *",
    interval_sec: null,
    timezone: "UTC",
    enabled: true,
    overlap: true,
    priority: 0,
    max_retries: null,
    source: "api",
    next_run_at: "2026-01-03T02:00:00Z",
    last_run_at: null,
    last_job_id: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}

export function buildRetentionWire(overrides: Partial<RetentionWire> = {}): RetentionWire {
  return {
    enabled: false,
    days: { done: null, failed: null, cancelled: null },
    last_run_at: null,
    pruned_jobs_total: 0,
    ...overrides,
  };
}

export function buildRedriveAnswerWire(overrides: Partial<RedriveAnswerWire> = {}): RedriveAnswerWire {
  return { matched: 0, redriven: 0, dry_run: false, remaining: 0, jobs: [], skipped: [], ...overrides };
}
