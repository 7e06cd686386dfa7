import { afterEach, describe, expect, it, vi } from "vitest";

import { buildEventWire, buildJobWire } from "../test/factories/job";
import { ApiError } from "./api";
import {
  cancelJob,
  canCancel,
  canRetry,
  JOB_STATUSES,
  jobFromWire,
  parseLiveMessage,
  rfc3339FromLocal,
  throughputFromWire,
} from "./jobs";

const TZ = process.env.TZ;

afterEach(() => {
  vi.unstubAllGlobals();
  if (TZ === undefined) delete process.env.TZ;
  else process.env.TZ = TZ;
});

describe("converters", () => {
  it("turn a wire job into camelCase with Dates, and its events into a timeline", () => {
    const job = jobFromWire(
      buildJobWire({
        max_retries: 2,
        started_at: "2026-01-02T10:00:01Z",
        retry_of: "orig",
        events: [buildEventWire({ seq: 3, data: null })],
      }),
    );
    expect(job.maxRetries).toBe(2);
    expect(job.startedAt).toEqual(new Date("2026-01-02T10:00:01Z"));
    expect(job.finishedAt).toBeNull();
    expect(job.retryOf).toBe("orig");
    expect(job.events).toEqual([expect.objectContaining({ seq: 3, data: {} })]);
    expect(jobFromWire(buildJobWire()).events).toBeUndefined();
  });

  it("read the schedule a job came from, and null for other jobs or an older API", () => {
    const fired = jobFromWire(buildJobWire({ schedule: "nightly", scheduled_for: "2026-01-02T02:00:00Z" }));
    expect(fired.schedule).toBe("nightly");
    expect(fired.scheduledFor).toEqual(new Date("2026-01-02T02:00:00Z"));
    const plain = jobFromWire(buildJobWire({ schedule: null, scheduled_for: null }));
    expect([plain.schedule, plain.scheduledFor]).toEqual([null, null]);
    const older = jobFromWire(buildJobWire());
    expect([older.schedule, older.scheduledFor]).toEqual([null, null]);
  });

  it("read the job control fields", () => {
    const job = jobFromWire(
      buildJobWire({ timeout_sec: 30, cancel_requested_at: "2026-01-02T10:00:04Z", progress: 0.42, progress_message: "3/7 characters" }),
    );
    expect(job).toMatchObject({ timeoutSec: 30, progress: 0.42, progressMessage: "3/7 characters" });
    expect(job.cancelRequestedAt).toEqual(new Date("2026-01-02T10:00:04Z"));
  });

  it("read throughput minutes as epoch milliseconds", () => {
    expect(throughputFromWire({ buckets: [{ minute: "2026-01-02T10:05:00Z", done: 3, failed: 1 }] })).toEqual([
      { minute: Date.parse("2026-01-02T10:05:00Z"), done: 3, failed: 1 },
    ]);
  });
});

describe("parseLiveMessage", () => {
  it("reads hello, refresh, ping and job events", () => {
    expect(parseLiveMessage('{"type":"hello","seq":4}')).toEqual({ type: "hello", seq: 4 });
    expect(parseLiveMessage('{"type":"refresh"}')).toEqual({ type: "refresh", seq: null });
    expect(parseLiveMessage('{"type":"ping"}')).toEqual({ type: "ping" });
    const message = parseLiveMessage(
      JSON.stringify({
        type: "job_leased",
        seq: 42,
        jobId: "j1",
        status: "running",
        attempt: 1,
        at: "2026-01-02T10:00:00Z",
        tenant: "default",
        task: "text",
        worker: "w1",
        error: null,
        data: {},
      }),
    );
    expect(message).toMatchObject({ type: "event", event: { seq: 42, jobId: "j1", status: "running", worker: "w1" } });
  });

  it("returns null for what it cannot use", () => {
    expect(parseLiveMessage("nope")).toBeNull();
    expect(parseLiveMessage("42")).toBeNull();
    expect(parseLiveMessage('{"type":"hello"}')).toBeNull();
    expect(parseLiveMessage('{"type":"job_leased","seq":1,"jobId":"x","status":"weird"}')).toBeNull();
  });
});

describe("job control", () => {
  it("cancels pending and running jobs, and retries failed and cancelled ones", () => {
    expect(JOB_STATUSES.filter(canCancel)).toEqual(["pending", "running"]);
    expect(JOB_STATUSES.filter(canRetry)).toEqual(["failed", "cancelled"]);
  });

  it("tells a cancelled job (200) from one asked to stop (202), and passes a 409 on", async () => {
    const answer = (status: number, body: unknown) =>
      vi.fn(() => Promise.resolve(new Response(JSON.stringify(body), { status })));
    const job = buildJobWire({ status: "cancelled" });
    const fetch = answer(200, job);
    vi.stubGlobal("fetch", fetch);
    expect(await cancelJob({ apiKey: "k", tenant: "" }, job.id)).toMatchObject({ kind: "cancelled", job: { id: job.id } });
    const [path, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe(`/jobs/${job.id}/cancel`);
    expect(init).toMatchObject({ method: "POST", headers: { "X-API-Key": "k" } });
    expect(init.body).toBeUndefined();

    vi.stubGlobal("fetch", answer(202, { ...job, status: "running", cancel_requested_at: "2026-01-02T10:00:04Z" }));
    expect(await cancelJob({ apiKey: "", tenant: "" }, job.id)).toMatchObject({ kind: "requested", job: { status: "running" } });

    const message = "only pending or running jobs can be cancelled; this one is done";
    vi.stubGlobal("fetch", answer(409, { error: { code: "invalid_transition", message } }));
    const error = await cancelJob({ apiKey: "", tenant: "" }, job.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: "invalid_transition", message });
  });
});

describe("rfc3339FromLocal", () => {
  it("writes a datetime-local value with the browser's offset on that date", () => {
    process.env.TZ = "Europe/Paris";
    expect(rfc3339FromLocal("2026-12-01T09:30")).toBe("2026-12-01T09:30:00+01:00");
    expect(rfc3339FromLocal("2026-07-01T09:30:15")).toBe("2026-07-01T09:30:15+02:00"); // summer time
    process.env.TZ = "America/St_Johns";
    expect(rfc3339FromLocal("2026-12-01T23:05")).toBe("2026-12-01T23:05:00-03:30");
    process.env.TZ = "UTC";
    expect(rfc3339FromLocal("2026-12-01T09:30")).toBe("2026-12-01T09:30:00+00:00");
  });

  it("is null for what is not a date and time", () => {
    for (const value of ["", "2026-12-01", "tomorrow", "2026-02-31T10:00", "2026-12-01T9:30"]) {
      expect(rfc3339FromLocal(value)).toBeNull();
    }
  });
});
