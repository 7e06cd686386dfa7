import { afterEach, describe, expect, it, vi } from "vitest";

import { describeRetention, describeStatusRetention, formatDays } from "../format";
import { buildRetentionWire } from "../test/factories/schedule";
import { FakeApi, json } from "../test/fakeApi";
import { getRetention, keepsEverything, retentionFromWire } from "./retention";

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("retention", () => {
  it("is read from GET /retention, with Dates", async () => {
    const api = new FakeApi().on("GET", /^\/retention$/, () =>
      json(
        buildRetentionWire({
          enabled: true,
          days: { done: 7, failed: 30, cancelled: null },
          last_run_at: "2026-01-02T10:00:00Z",
          pruned_jobs_total: 1234,
        }),
      ),
    );
    vi.stubGlobal("fetch", api.fetch);
    expect(await getRetention({ apiKey: "k", tenant: "" })).toEqual({
      enabled: true,
      days: { done: 7, failed: 30, cancelled: null },
      lastRunAt: new Date("2026-01-02T10:00:00Z"),
      prunedJobsTotal: 1234,
    });
    expect(api.requests[0]?.headers["X-API-Key"]).toBe("k");
  });

  it("keeps everything forever while it is off, whatever days are configured", () => {
    const off = retentionFromWire(buildRetentionWire({ enabled: false, days: { done: 7, failed: 30, cancelled: 7 } }));
    expect(off.days).toEqual({ done: null, failed: null, cancelled: null });
    expect(keepsEverything(off)).toBe(true);
    expect(describeRetention(off)).toBe("Finished jobs kept forever");
    expect(describeStatusRetention("failed", off)).toBe("Failed jobs are kept forever.");
  });

  it("says how long each finished status is kept", () => {
    const on = retentionFromWire(buildRetentionWire({ enabled: true, days: { done: 7, failed: 30, cancelled: null } }));
    expect(keepsEverything(on)).toBe(false);
    expect(describeRetention(on)).toBe("Finished jobs kept: done 7 days, failed 30 days, cancelled forever");
    expect(describeStatusRetention("done", on)).toBe(
      "Done jobs are kept 7 days after they finish, then deleted with their events.",
    );
    expect(describeStatusRetention("cancelled", on)).toBe("Cancelled jobs are kept forever.");
    const nothing = retentionFromWire(buildRetentionWire({ enabled: true }));
    expect(describeRetention(nothing)).toBe("Finished jobs kept forever");
  });

  it("reads days as days, a day, tenths, and hours under a day", () => {
    expect(formatDays(7)).toBe("7 days");
    expect(formatDays(1)).toBe("1 day");
    expect(formatDays(1.5)).toBe("1.5 days");
    expect(formatDays(0.5)).toBe("12 h");
    expect(formatDays(0.001)).toBe("1 h");
    expect(formatDays(-1)).toBe("–");
  });
});
