import { afterEach, describe, expect, it, vi } from "vitest";

import { buildEventWire, buildJobWire, buildListWire } from "../test/factories/job";
import { jobFromWire, listJobs, parseLiveMessage, throughputFromWire } from "./jobs";

afterEach(() => {
  vi.unstubAllGlobals();
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

describe("listJobs", () => {
  it("asks /jobs with the status and /dlq for the dead letter queue, 20 a page", async () => {
    const fetch = vi.fn(() => Promise.resolve(new Response(JSON.stringify(buildListWire([buildJobWire()], { total: 41 })))));
    vi.stubGlobal("fetch", fetch);
    const page = await listJobs({ apiKey: "", tenant: "" }, "running", 2);
    expect(page.total).toBe(41);
    await listJobs({ apiKey: "", tenant: "" }, "dlq", 0);
    const paths = fetch.mock.calls.map((call) => (call as unknown as [string])[0]);
    expect(paths).toEqual(["/jobs?limit=20&offset=40&status=running", "/dlq?limit=20&offset=0"]);
  });
});
