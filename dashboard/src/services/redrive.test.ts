import { afterEach, describe, expect, it, vi } from "vitest";

import { buildRedriveAnswerWire } from "../test/factories/schedule";
import { apiError, FakeApi, json, type Recorded } from "../test/fakeApi";
import { ApiError } from "./api";
import {
  batchSize,
  cleanFilter,
  loopBound,
  previewRedrive,
  REDRIVE_BATCH,
  redriveAll,
  type RedriveProgress,
  type RedriveRequestWire,
} from "./redrive";

afterEach(() => {
  vi.unstubAllGlobals();
});

const CREDENTIALS = { apiKey: "secret", tenant: "" };

/** A DLQ of `failed` matching jobs: each call redrives up to its limit, as the API would. */
function fakeDlq(failed: number, answer?: (request: RedriveRequestWire, left: number) => Response | null) {
  let left = failed;
  const api = new FakeApi().on("POST", /^\/dlq\/redrive$/, (request: Recorded) => {
    const body = request.body as RedriveRequestWire;
    const special = answer?.(body, left);
    if (special) return special;
    if (body.dry_run) return json(buildRedriveAnswerWire({ matched: left, remaining: left, dry_run: true }));
    const redriven = Math.min(left, body.limit ?? 1000);
    const matched = left;
    left -= redriven;
    const jobs = Array.from({ length: redriven }, (_, index) => ({ id: `old${index}`, retried_by: `new${index}` }));
    return json(buildRedriveAnswerWire({ matched, redriven, remaining: left, jobs }));
  });
  vi.stubGlobal("fetch", api.fetch);
  return api;
}

describe("redrive", () => {
  it("sends only the filter's fields that say something", () => {
    expect(cleanFilter({ task: " text ", queue: "", tenant: "  ", error: "boom", failed_after: "2026-01-02T10:00:00Z" })).toEqual({
      task: "text",
      error: "boom",
      failed_after: "2026-01-02T10:00:00Z",
    });
    expect(cleanFilter({})).toEqual({});
  });

  it("asks for about two seconds of jobs a call at a rate, a batch without one", () => {
    expect(batchSize(null)).toBe(REDRIVE_BATCH);
    expect(batchSize(10)).toBe(20);
    expect(batchSize(0.2)).toBe(1);
    expect(batchSize(100_000)).toBe(REDRIVE_BATCH);
  });

  it("previews with a dry run, redriving nothing", async () => {
    const api = fakeDlq(42);
    expect(await previewRedrive(CREDENTIALS, { task: "text", queue: "" })).toBe(42);
    expect(api.requests.map((request) => request.body)).toEqual([{ task: "text", dry_run: true }]);
    expect(api.requests[0]?.headers["X-API-Key"]).toBe("secret");
  });

  it("loops until nothing remains, saying how far it is after each call", async () => {
    const api = fakeDlq(600);
    const seen: RedriveProgress[] = [];
    const outcome = await redriveAll(CREDENTIALS, { error: "boom" }, { ratePerSec: null, onProgress: (p) => seen.push(p) });
    expect(outcome).toEqual({ done: 600, total: 600, end: "finished", skipped: [] });
    expect(seen).toEqual([
      { done: 250, total: 600 },
      { done: 500, total: 600 },
      { done: 600, total: 600 },
    ]);
    expect(api.requests.map((request) => request.body)).toEqual(Array(3).fill({ error: "boom", limit: REDRIVE_BATCH }));
  });

  it("passes the rate on, and sizes each call by it", async () => {
    const api = fakeDlq(5);
    const outcome = await redriveAll(CREDENTIALS, {}, { ratePerSec: 2, onProgress: () => {} });
    expect(outcome).toEqual({ done: 5, total: 5, end: "finished", skipped: [] });
    expect(api.requests.map((request) => request.body)).toEqual([
      { limit: 4, rate_per_sec: 2 },
      { limit: 4, rate_per_sec: 2 },
    ]);
  });

  it("grows the total when more matching jobs fail while it runs", async () => {
    let calls = 0;
    fakeDlq(10, (_body, left) => {
      calls += 1;
      if (calls !== 1) return null;
      // The first call redrives 4 of 10, and 3 more failed meanwhile: 9 remain.
      return json(buildRedriveAnswerWire({ matched: left, redriven: 4, remaining: 9, jobs: [] }));
    });
    const seen: RedriveProgress[] = [];
    await redriveAll(CREDENTIALS, {}, { ratePerSec: 1, onProgress: (p) => seen.push(p) });
    expect(seen[0]).toEqual({ done: 4, total: 13 });
  });

  it("stops between calls when asked, and when the API redrives nothing though jobs remain", async () => {
    fakeDlq(600);
    let stop = false;
    const stopped = await redriveAll(CREDENTIALS, {}, {
      ratePerSec: null,
      onProgress: () => (stop = true),
      stopped: () => stop,
    });
    expect(stopped).toEqual({ done: 250, total: 600, end: "stopped", skipped: [] });

    const api = fakeDlq(3, () => json(buildRedriveAnswerWire({ matched: 3, redriven: 0, remaining: 3 })));
    const stuck = await redriveAll(CREDENTIALS, {}, { ratePerSec: null, onProgress: () => {} });
    expect(stuck).toEqual({ done: 0, total: 3, end: "stuck", skipped: [] });
    expect(api.requests).toHaveLength(1);
  });

  it("ends when only jobs the API skips are left, with each of them once", async () => {
    let calls = 0;
    const skipped = [{ id: "big", reason: "payload is over 64 KiB" }];
    fakeDlq(0, () => {
      calls += 1;
      return calls === 1
        ? json(buildRedriveAnswerWire({ matched: 5, redriven: 4, remaining: 1, skipped }))
        : json(buildRedriveAnswerWire({ matched: 1, redriven: 0, remaining: 1, skipped }));
    });
    const outcome = await redriveAll(CREDENTIALS, {}, { ratePerSec: null, onProgress: () => {} });
    expect(outcome).toEqual({ done: 4, total: 5, end: "stuck", skipped });
    expect(calls).toBe(2);
  });

  it("rejects with the API's error after the calls that succeeded", async () => {
    let calls = 0;
    fakeDlq(600, () => {
      calls += 1;
      return calls === 2 ? apiError(503, "unavailable", "the store is unavailable") : null;
    });
    const seen: RedriveProgress[] = [];
    const error = await redriveAll(CREDENTIALS, {}, { ratePerSec: null, onProgress: (p) => seen.push(p) }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("the store is unavailable");
    expect(seen).toEqual([{ done: 250, total: 600 }]);
  });
});

/** A DLQ on a clock, as the store keeps it: each call begins a second later (its `as_of`),
 *  takes the oldest jobs that failed before then (and before `failed_before`), and each copy it
 *  makes fails again at once, after `as_of`: the job of a bug not fixed yet. */
function fakeDlqOnAClock(failed: number) {
  let clock = Date.parse("2026-01-02T10:00:00Z");
  let next = 0;
  const jobs: { id: string; failedAt: number; retried: boolean }[] = Array.from({ length: failed }, () => ({
    id: `job${next++}`,
    failedAt: clock - 60_000,
    retried: false,
  }));
  const api = new FakeApi().on("POST", /^\/dlq\/redrive$/, (request: Recorded) => {
    const body = request.body as RedriveRequestWire;
    clock += 1000;
    // As the API writes it: with microseconds, which the loop must send back as they came.
    const asOf = new Date(clock).toISOString().replace("Z", "123+00:00");
    const before = Math.min(clock, body.failed_before === undefined ? Infinity : Date.parse(body.failed_before));
    const matching = () => jobs.filter((job) => !job.retried && job.failedAt < before);
    const matched = matching().length;
    const taken = matching().slice(0, body.limit ?? 1000);
    for (const job of taken) {
      job.retried = true;
      jobs.push({ id: `job${next++}`, failedAt: clock + 1, retried: false });
    }
    const redriven = taken.map((job, index) => ({ id: job.id, retried_by: `copy${index}` }));
    return json(
      buildRedriveAnswerWire({ matched, redriven: taken.length, remaining: matching().length, jobs: redriven, as_of: asOf }),
    );
  });
  vi.stubGlobal("fetch", api.fetch);
  return api;
}

describe("redriveAll, against copies that fail again at once", () => {
  it("holds to the jobs that had failed when it began: failed_before is the first answer's as_of", async () => {
    const api = fakeDlqOnAClock(600);
    let calls = 0;
    const outcome = await redriveAll(CREDENTIALS, { task: "text" }, {
      ratePerSec: null,
      onProgress: () => (calls += 1),
      stopped: () => calls >= 20, // without the bound, the copies match again and it never ends
    });
    expect(outcome).toEqual({ done: 600, total: 600, end: "finished", skipped: [] });
    const bodies = api.requests.map((request) => request.body as RedriveRequestWire);
    expect(bodies).toHaveLength(3);
    expect(bodies[0]).toEqual({ task: "text", limit: REDRIVE_BATCH });
    // The first answer's as_of, as the API wrote it, on every call after it (not the later ones').
    expect(bodies[1]).toEqual({ task: "text", limit: REDRIVE_BATCH, failed_before: "2026-01-02T10:00:01.000123+00:00" });
    expect(bodies[2]).toEqual(bodies[1]);
  });

  it("keeps the user's own failed_before when it is the earlier one", async () => {
    const api = fakeDlqOnAClock(300); // failed at 09:59:00
    const failedBefore = "2026-01-02T09:59:30+00:00"; // after them, before the first call began
    const outcome = await redriveAll(CREDENTIALS, { failed_before: failedBefore }, { ratePerSec: 50, onProgress: () => {} });
    expect(outcome).toEqual({ done: 300, total: 300, end: "finished", skipped: [] });
    const sent = api.requests.map((request) => (request.body as RedriveRequestWire).failed_before);
    expect(sent).toEqual([failedBefore, failedBefore, failedBefore]);

    expect(loopBound(failedBefore, "2026-01-02T10:00:01.000123+00:00")).toBe(failedBefore);
    expect(loopBound("2026-01-02T11:00:00+01:00", "2026-01-02T10:00:01.000123+00:00")).toBe("2026-01-02T11:00:00+01:00");
    expect(loopBound("2026-01-02T12:00:00+00:00", "2026-01-02T10:00:01.000123+00:00")).toBe(
      "2026-01-02T10:00:01.000123+00:00",
    );
    expect(loopBound(undefined, "2026-01-02T10:00:01.000123+00:00")).toBe("2026-01-02T10:00:01.000123+00:00");
  });
});
