import { describe, expect, it } from "vitest";

import { buildEvent, buildJob, jobId } from "../test/factories/job";
import type { JobPage, Metrics } from "../services/jobs";
import {
  applyCancelAnswer,
  applyEventToJob,
  applyToJob,
  applyToJobs,
  applyToMetrics,
  applyToPage,
  applyToThroughput,
  fillMinutes,
  MINUTE_MS,
} from "./apply";

const zero: Metrics = { pending: 0, running: 0, done: 0, failed: 0, cancelled: 0, dlqCount: 0, jobsSubmitted: 0, retries: 0 };

function page(...jobs: ReturnType<typeof buildJob>[]): JobPage {
  return { jobs, total: jobs.length, totalExact: true, limit: 20, offset: 0, nextCursor: null, outdated: false };
}

describe("applyToMetrics", () => {
  it("moves counts through a job's whole life", () => {
    const id = "a";
    const events = [
      buildEvent({ seq: 1, jobId: id, type: "job_created", status: "pending" }),
      buildEvent({ seq: 2, jobId: id, type: "job_leased", status: "running", attempt: 1 }),
      buildEvent({ seq: 3, jobId: id, type: "job_retry_scheduled", status: "pending", attempt: 1 }),
      buildEvent({ seq: 4, jobId: id, type: "job_leased", status: "running", attempt: 2 }),
      buildEvent({ seq: 5, jobId: id, type: "job_failed", status: "failed", attempt: 2 }),
      buildEvent({ seq: 6, jobId: id, type: "job_retried", status: "failed", data: { retried_by: "b" } }),
      buildEvent({ seq: 7, jobId: "b", type: "job_created", status: "pending" }),
    ];
    const { data, stale } = applyToMetrics(zero, events, 0);
    expect(data).toEqual({ pending: 1, running: 0, done: 0, failed: 1, cancelled: 0, dlqCount: 1, jobsSubmitted: 2, retries: 1 });
    expect(stale).toBe(false);
  });

  it("counts a lease that expired as a retry, and a released job as none", () => {
    const start = { ...zero, running: 2 };
    const { data } = applyToMetrics(
      start,
      [
        buildEvent({ seq: 1, type: "job_lease_expired", status: "pending" }),
        buildEvent({ seq: 2, type: "job_released", status: "pending" }),
      ],
      0,
    );
    expect(data).toMatchObject({ running: 0, pending: 2, retries: 1 });
  });

  it("skips events the snapshot already reflects, and leaves replayed ones to a refetch", () => {
    const start = { ...zero, pending: 1 };
    const old = buildEvent({ seq: 5, type: "job_created" });
    const replayed = buildEvent({ seq: 9, type: "job_created" }, true);
    expect(applyToMetrics(start, [old], 5)).toEqual({ data: start, stale: false });
    expect(applyToMetrics(start, [replayed], 5)).toEqual({ data: start, stale: true });
  });

  it("never goes below zero when it missed the start of a job", () => {
    const { data } = applyToMetrics(zero, [buildEvent({ seq: 1, type: "job_succeeded", status: "done" })], 0);
    expect(data.running).toBe(0);
    expect(data.done).toBe(1);
  });
});

describe("applyEventToJob", () => {
  it("takes the status, attempt, worker and error the event carries", () => {
    const job = buildJob();
    const leased = applyEventToJob(
      job,
      buildEvent({ jobId: job.id, seq: 2, type: "job_leased", status: "running", attempt: 1, worker: "w1", at: "2026-01-02T10:00:01Z" }),
    );
    expect(leased).toMatchObject({ status: "running", attempts: 1, leaseOwner: "w1" });
    expect(leased.startedAt?.toISOString()).toBe("2026-01-02T10:00:01.000Z");
    const failed = applyEventToJob(
      leased,
      buildEvent({ jobId: job.id, seq: 3, type: "job_failed", status: "failed", attempt: 1, error: "boom" }),
    );
    expect(failed).toMatchObject({ status: "failed", lastError: "boom", leaseOwner: null });
    expect(failed.finishedAt).not.toBeNull();
  });

  it("links a retried job to its new job", () => {
    const job = buildJob({ status: "failed" });
    const next = applyEventToJob(
      job,
      buildEvent({ jobId: job.id, type: "job_retried", status: "failed", data: { retried_by: "new-id" } }),
    );
    expect(next.retriedBy).toBe("new-id");
  });

  it("ignores events about other jobs", () => {
    const job = buildJob();
    expect(applyEventToJob(job, buildEvent({ jobId: "other" }))).toBe(job);
  });
});

describe("applyToJob (the detail view)", () => {
  it("appends new events to the timeline once and asks for a refetch", () => {
    const job = buildJob({ events: [] });
    job.events = [];
    const leased = buildEvent({ jobId: job.id, seq: 4, type: "job_leased", status: "running", attempt: 1 });
    const created = buildEvent({ jobId: job.id, seq: 3, type: "job_created" });
    const first = applyToJob(job, [created, leased], 0);
    expect(first.stale).toBe(true);
    expect(first.data.events?.map((event) => event.seq)).toEqual([3, 4]);
    expect(first.data.status).toBe("running");
    const again = applyToJob(first.data, [leased], 0);
    expect(again).toEqual({ data: first.data, stale: false });
  });
});

describe("applyToPage", () => {
  it("patches a row in place and marks the page stale when the job left the list", () => {
    const job = buildJob({ status: "pending" });
    const result = applyToPage(page(job), "pending", [
      buildEvent({ jobId: job.id, seq: 2, type: "job_leased", status: "running", attempt: 1 }),
    ], 0);
    expect(result.stale).toBe(true);
    expect(result.data.jobs[0]?.status).toBe("running");
  });

  it("marks the page stale when a job entered its list", () => {
    const result = applyToPage(page(), "running", [buildEvent({ seq: 2, type: "job_leased", status: "running" })], 0);
    expect(result.stale).toBe(true);
  });

  it("leaves a page alone for events about other lists", () => {
    const job = buildJob({ status: "done" });
    const current = page(job);
    const result = applyToPage(current, "done", [
      buildEvent({ seq: 2, type: "job_created", status: "pending" }),
      buildEvent({ seq: 3, type: "job_leased", status: "running" }),
    ], 0);
    expect(result).toEqual({ data: current, stale: false });
  });

  it("shows a DLQ row as retried without refetching", () => {
    const job = buildJob({ status: "failed" });
    const result = applyToPage(page(job), "dlq", [
      buildEvent({ jobId: job.id, seq: 9, type: "job_retried", status: "failed", data: { retried_by: "n" } }),
      buildEvent({ jobId: "n", seq: 8, type: "job_created", status: "pending", data: { retry_of: job.id } }),
    ], 0);
    expect(result.stale).toBe(false);
    expect(result.data.jobs[0]?.retriedBy).toBe("n");
  });

  it("ignores events up to the seq the page was fetched at", () => {
    const current = page();
    expect(applyToPage(current, "running", [buildEvent({ seq: 2, type: "job_leased", status: "running" })], 2).stale).toBe(
      false,
    );
  });
});

describe("applyToPage, by where the page sits", () => {
  const [newest, middle, oldest] = [jobId(900_030), jobId(900_020), jobId(900_010)];
  const rows = () => [newest, middle, oldest].map((id) => buildJob({ id, status: "done" }));
  const ended = (id: string, seq: number) => buildEvent({ jobId: id, seq, type: "job_succeeded", status: "done", attempt: 1 });

  it("keeps an older page as it is when jobs enter newer or older pages than it", () => {
    const older = { ...page(...rows()), nextCursor: "next" };
    const place = { first: false, narrowed: false };
    expect(applyToPage(older, "done", [ended(jobId(900_040), 2)], 0, place).stale).toBe(false); // newer: page 1
    expect(applyToPage(older, "done", [ended(jobId(900_005), 3)], 0, place).stale).toBe(false); // older: next page
    // One whose id is within the page's range lands on it.
    expect(applyToPage(older, "done", [ended(jobId(900_015), 4)], 0, place).stale).toBe(true);
    // The first page takes every new job; the last page every older one.
    expect(applyToPage(page(...rows()), "done", [ended(jobId(900_040), 2)], 0, { first: true, narrowed: false }).stale).toBe(true);
    expect(applyToPage(page(...rows()), "done", [ended(jobId(900_005), 2)], 0, place).stale).toBe(true);
  });

  it("on 'all', only a new job enters, and a status change keeps the row", () => {
    const list = page(...rows());
    const moved = applyToPage(list, "all", [buildEvent({ jobId: newest, seq: 2, type: "job_retried", status: "done" })], 0);
    expect(moved.stale).toBe(false);
    const created = buildEvent({ jobId: jobId(900_040), seq: 2, type: "job_created" });
    expect(applyToPage(list, "all", [created], 0).stale).toBe(true);
    expect(applyToPage(list, "all", [created], 0, { first: false, narrowed: false }).stale).toBe(false);
  });

  it("under a search, moves the rows shown and marks the page outdated instead of stale", () => {
    const pending = buildJob({ id: newest, status: "pending" });
    const result = applyToPage(
      page(pending),
      "pending",
      [
        buildEvent({ jobId: newest, seq: 2, type: "job_leased", status: "running", attempt: 1 }),
        buildEvent({ jobId: jobId(900_040), seq: 3, type: "job_created" }),
      ],
      0,
      { first: true, narrowed: true },
    );
    expect(result.stale).toBe(false);
    expect(result.data.outdated).toBe(true);
    expect(result.data.jobs[0]?.status).toBe("running");
  });
});

describe("applyToJobs", () => {
  it("returns the same array when nothing changed", () => {
    const jobs = [buildJob()];
    expect(applyToJobs(jobs, [buildEvent({ jobId: "nobody" })])).toBe(jobs);
  });

  it("updates the jobs the events are about", () => {
    const a = buildJob();
    const b = buildJob();
    const next = applyToJobs([a, b], [buildEvent({ jobId: b.id, seq: 2, type: "job_leased", status: "running" })]);
    expect(next.map((job) => job.status)).toEqual(["pending", "running"]);
    expect(next[0]).toBe(a);
  });
});

describe("throughput", () => {
  const minute = Date.parse("2026-01-02T10:05:00Z");

  it("counts jobs that ended into their minute", () => {
    const { data } = applyToThroughput(
      [{ minute, done: 2, failed: 0 }],
      [
        buildEvent({ seq: 1, type: "job_succeeded", status: "done", at: "2026-01-02T10:05:30Z" }),
        buildEvent({ seq: 2, type: "job_failed", status: "failed", at: "2026-01-02T10:06:10Z" }),
        buildEvent({ seq: 3, type: "job_leased", status: "running", at: "2026-01-02T10:06:10Z" }),
      ],
      0,
    );
    expect(data).toEqual([
      { minute, done: 3, failed: 0 },
      { minute: minute + MINUTE_MS, done: 0, failed: 1 },
    ]);
  });

  it("fills minutes the API left out with zeros, oldest first", () => {
    const now = minute + 2 * MINUTE_MS + 5000;
    const filled = fillMinutes([{ minute, done: 4, failed: 1 }], 4, now);
    expect(filled).toEqual([
      { minute: minute - MINUTE_MS, done: 0, failed: 0 },
      { minute, done: 4, failed: 1 },
      { minute: minute + MINUTE_MS, done: 0, failed: 0 },
      { minute: minute + 2 * MINUTE_MS, done: 0, failed: 0 },
    ]);
  });
});

describe("scale", () => {
  it("applies 10,000 events (10 s at 1,000 jobs/s) to a page, the counts and the chart quickly", () => {
    const jobs = Array.from({ length: 20 }, () => buildJob({ status: "running" }));
    const events = Array.from({ length: 10_000 }, (_, i) =>
      buildEvent({ seq: i + 1, jobId: jobs[i % 20]?.id ?? "x", type: "job_succeeded", status: "done" }),
    );
    const started = performance.now();
    applyToPage(page(...jobs), "running", events, 0);
    applyToMetrics({ ...zero, running: 10_000 }, events, 0);
    applyToThroughput([], events, 0);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("job control events", () => {
  it("takes a job's progress and message from job_progress, keeping its status", () => {
    const job = buildJob({ status: "running", attempts: 1 });
    const halfway = applyEventToJob(
      job,
      buildEvent({ jobId: job.id, seq: 5, type: "job_progress", status: "running", attempt: 1, data: { progress: 0.42, message: "3/7 characters" } }),
    );
    expect(halfway).toMatchObject({ status: "running", progress: 0.42, progressMessage: "3/7 characters" });
    const quiet = applyEventToJob(
      halfway,
      buildEvent({ jobId: job.id, seq: 6, type: "job_progress", status: "running", attempt: 1, data: { progress: 0.5, message: null } }),
    );
    expect(quiet).toMatchObject({ progress: 0.5, progressMessage: null });
  });

  it("marks the cancel request, then the cancellation", () => {
    const job = buildJob({ status: "running", attempts: 1, lease_owner: "w1" });
    const asked = applyEventToJob(
      job,
      buildEvent({ jobId: job.id, seq: 7, type: "job_cancel_requested", status: "running", attempt: 1, at: "2026-01-02T10:00:04Z" }),
    );
    expect(asked.status).toBe("running");
    expect(asked.cancelRequestedAt?.toISOString()).toBe("2026-01-02T10:00:04.000Z");
    const cancelled = applyEventToJob(
      asked,
      buildEvent({ jobId: job.id, seq: 8, type: "job_cancelled", status: "cancelled", attempt: 1, at: "2026-01-02T10:00:05Z" }),
    );
    expect(cancelled).toMatchObject({ status: "cancelled", leaseOwner: null });
    expect(cancelled.finishedAt?.toISOString()).toBe("2026-01-02T10:00:05.000Z");
  });

  it("starts a new attempt's progress from nothing", () => {
    const job = buildJob({ status: "pending", attempts: 1, progress: 0.6, progress_message: "6/10 characters" });
    const leased = applyEventToJob(job, buildEvent({ jobId: job.id, seq: 9, type: "job_leased", status: "running", attempt: 2 }));
    expect(leased).toMatchObject({ progress: null, progressMessage: null });
  });

  it("keeps progress out of the detail's timeline, and refetches nothing for it", () => {
    const job = buildJob({ status: "running", attempts: 1 });
    job.events = [];
    const progress = buildEvent({ jobId: job.id, seq: 5, type: "job_progress", status: "running", attempt: 1, data: { progress: 0.3 } });
    const result = applyToJob(job, [progress], 0);
    expect(result.stale).toBe(false);
    expect(result.data.progress).toBe(0.3);
    expect(result.data.events).toEqual([]);
    const asked = applyToJob(result.data, [buildEvent({ jobId: job.id, seq: 6, type: "job_cancel_requested", status: "running", attempt: 1 })], 0);
    expect(asked.stale).toBe(true);
    expect(asked.data.events?.map((event) => event.type)).toEqual(["job_cancel_requested"]);
  });

  it("counts: a cancel is left to the refetch (pending or running?), progress and requests move nothing", () => {
    const start = { ...zero, pending: 1, running: 1, cancelled: 1 };
    const { data, stale } = applyToMetrics(
      start,
      [
        buildEvent({ seq: 1, type: "job_progress", status: "running", attempt: 1 }),
        buildEvent({ seq: 2, type: "job_cancel_requested", status: "running", attempt: 1 }),
        buildEvent({ seq: 3, type: "job_retried", status: "cancelled", data: { retried_by: "n" } }),
      ],
      0,
    );
    expect(data).toEqual(start);
    expect(stale).toBe(false);
    const cancel = applyToMetrics(start, [buildEvent({ seq: 4, type: "job_cancelled", status: "cancelled" })], 0);
    expect(cancel).toEqual({ data: start, stale: true });
  });

  it("lists: a cancelled job enters the cancelled list; progress of a job on another page changes nothing", () => {
    expect(applyToPage(page(), "cancelled", [buildEvent({ seq: 2, type: "job_cancelled", status: "cancelled" })], 0).stale).toBe(true);
    const running = page(buildJob({ status: "running" }));
    expect(
      applyToPage(running, "running", [buildEvent({ seq: 3, type: "job_progress", status: "running", data: { progress: 0.5 } })], 0),
    ).toEqual({ data: running, stale: false });
    const cancelled = buildJob({ status: "cancelled" });
    const retried = applyToPage(page(cancelled), "cancelled", [
      buildEvent({ jobId: cancelled.id, seq: 4, type: "job_retried", status: "cancelled", data: { retried_by: "n" } }),
    ], 0);
    expect(retried.stale).toBe(false);
    expect(retried.data.jobs[0]?.retriedBy).toBe("n");
  });
});

describe("applyCancelAnswer", () => {
  it("takes a 200's cancelled job, keeping the page's timeline", () => {
    const job = buildJob({ status: "pending", events: [] });
    const answer = buildJob({ id: job.id, status: "cancelled", finished_at: "2026-01-02T10:00:03Z" });
    const next = applyCancelAnswer(job, answer);
    expect(next.status).toBe("cancelled");
    expect(next.finishedAt).not.toBeNull();
    expect(next.events).toBe(job.events);
  });

  it("takes only the request from a 202, which events may have overtaken", () => {
    const running = buildJob({ status: "running" });
    const answer = buildJob({ id: running.id, status: "running", cancel_requested_at: "2026-01-02T10:00:04Z" });
    expect(applyCancelAnswer(running, answer)).toMatchObject({ status: "running", cancelRequestedAt: answer.cancelRequestedAt });
    const ended = buildJob({ id: running.id, status: "cancelled" });
    expect(applyCancelAnswer(ended, answer)).toMatchObject({ status: "cancelled", cancelRequestedAt: answer.cancelRequestedAt });
    expect(applyCancelAnswer(buildJob(), answer).cancelRequestedAt).toBeNull(); // another job
  });
});
