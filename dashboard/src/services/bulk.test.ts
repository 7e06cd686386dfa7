import { afterEach, describe, expect, it, vi } from "vitest";

import { buildRedriveAnswerWire } from "../test/factories/schedule";
import { FakeApi, json, type Recorded } from "../test/fakeApi";
import {
  bulkKindOf,
  CANCEL_BATCH,
  type CancelAnswerWire,
  cancelRequest,
  type CancelRequestWire,
  previewBulk,
  redriveRequest,
  runBulk,
} from "./bulk";
import type { RedriveRequestWire } from "./redrive";

afterEach(() => {
  vi.unstubAllGlobals();
});

const CREDENTIALS = { apiKey: "", tenant: "" };
const AS_OF = "2026-01-02T10:00:00.123456+00:00";

function cancelAnswer(overrides: Partial<CancelAnswerWire>): CancelAnswerWire {
  return { matched: 0, cancelled: 0, cancel_requested: 0, dry_run: false, remaining: 0, as_of: AS_OF, ...overrides };
}

describe("which bulk action a list offers", () => {
  it("retries failed jobs and cancels live ones", () => {
    expect(bulkKindOf("dlq")).toBe("retry");
    expect(bulkKindOf("failed")).toBe("retry");
    expect(bulkKindOf("pending")).toBe("cancel");
    expect(bulkKindOf("running")).toBe("cancel");
    expect(bulkKindOf("all")).toBe("cancel");
    expect(bulkKindOf("done")).toBeNull();
    expect(bulkKindOf("cancelled")).toBeNull();
  });
});

describe("the requests", () => {
  it("sends a selection as ids alone, and a filter as its fields", () => {
    expect(redriveRequest({ ids: ["a", "b"] })).toEqual({ body: { ids: ["a", "b"] } });
    expect(
      redriveRequest({
        filter: { task: "t", payload: "alice", trace_id: "tr", finished_after: "2026-01-01T00:00:00Z", tenant: "acme" },
      }),
    ).toEqual({ body: { task: "t", payload: "alice", trace_id: "tr", failed_after: "2026-01-01T00:00:00Z", tenant: "acme" } });
    expect(redriveRequest({ filter: { id_prefix: "0193", created_after: "2026-01-01T00:00:00Z" } })).toEqual({
      unsupported: ["id_prefix", "created_after"],
    });
    expect(cancelRequest("pending", { filter: { queue: "q", id_prefix: "01" } })).toEqual({
      body: { queue: "q", id_prefix: "01", status: "pending" },
    });
    expect(cancelRequest("all", { filter: { task: "t" } })).toEqual({ body: { task: "t" } });
    expect(cancelRequest("running", { ids: ["x"] })).toEqual({ body: { ids: ["x"] } });
    expect(cancelRequest("all", { filter: { finished_before: "2026-01-01T00:00:00Z" } })).toEqual({
      unsupported: ["finished_before"],
    });
  });
});

describe("runBulk", () => {
  it("previews with a dry run", async () => {
    const api = new FakeApi().on("POST", /^\/jobs\/cancel$/, () => json(cancelAnswer({ matched: 7, remaining: 7, dry_run: true })));
    vi.stubGlobal("fetch", api.fetch);
    expect(await previewBulk(CREDENTIALS, { kind: "cancel", body: { task: "t" } })).toBe(7);
    expect(api.requests[0]?.body).toEqual({ task: "t", dry_run: true });
  });

  it("cancels call after call, bounded by the first answer's as_of, counting cancelled and asked to stop", async () => {
    let left = 2500;
    const api = new FakeApi().on("POST", /^\/jobs\/cancel$/, (request: Recorded) => {
      const body = request.body as CancelRequestWire;
      const taken = Math.min(left, body.limit ?? 1000);
      const matched = left;
      left -= taken;
      return json(cancelAnswer({ matched, cancelled: taken - 1, cancel_requested: 1, remaining: left }));
    });
    vi.stubGlobal("fetch", api.fetch);
    const seen: unknown[] = [];
    const outcome = await runBulk(CREDENTIALS, { kind: "cancel", body: { status: "pending" } }, { onProgress: (p) => seen.push(p) });
    expect(outcome).toEqual({ done: 2500, total: 2500, end: "finished", skipped: [], cancelled: 2497, cancelRequested: 3 });
    expect(seen).toEqual([
      { done: 1000, total: 2500 },
      { done: 2000, total: 2500 },
      { done: 2500, total: 2500 },
    ]);
    expect(api.requests.map((request) => request.body)).toEqual([
      { status: "pending", limit: CANCEL_BATCH },
      { status: "pending", limit: CANCEL_BATCH, created_before: AS_OF },
      { status: "pending", limit: CANCEL_BATCH, created_before: AS_OF },
    ]);
  });

  it("keeps the user's own created_before when it is earlier, and stops when a call changed nothing", async () => {
    const api = new FakeApi().on("POST", /^\/jobs\/cancel$/, () => json(cancelAnswer({ matched: 3, remaining: 3 })));
    vi.stubGlobal("fetch", api.fetch);
    const outcome = await runBulk(
      CREDENTIALS,
      { kind: "cancel", body: { created_before: "2025-01-01T00:00:00Z" } },
      { onProgress: () => {} },
    );
    expect(outcome.end).toBe("stuck");
    expect(api.requests).toHaveLength(1);
  });

  it("retries with the same loop, failed_before bound, and stops between calls when asked", async () => {
    let left = 600;
    const api = new FakeApi().on("POST", /^\/dlq\/redrive$/, (request: Recorded) => {
      const body = request.body as RedriveRequestWire;
      const redriven = Math.min(left, body.limit ?? 1000);
      const matched = left;
      left -= redriven;
      return json(buildRedriveAnswerWire({ matched, redriven, remaining: left, as_of: AS_OF }));
    });
    vi.stubGlobal("fetch", api.fetch);
    let stop = false;
    const outcome = await runBulk(
      CREDENTIALS,
      { kind: "retry", body: { ids: ["a"] }, ratePerSec: null },
      { onProgress: () => (stop = true), stopped: () => stop },
    );
    expect(outcome).toEqual({ done: 250, total: 600, end: "stopped", skipped: [], cancelled: 0, cancelRequested: 0 });
    expect(api.requests.map((request) => request.body)).toEqual([{ ids: ["a"], limit: 250 }]);
  });
});
