import { afterEach, describe, expect, it, vi } from "vitest";

import { buildScheduleWire } from "../test/factories/schedule";
import { apiError, FakeApi, json } from "../test/fakeApi";
import { ApiError } from "./api";
import { listSchedules, scheduleFromWire, setScheduleEnabled, withSchedule } from "./schedules";

afterEach(() => {
  vi.unstubAllGlobals();
});

const CREDENTIALS = { apiKey: "secret", tenant: "acme" };

describe("schedules", () => {
  it("turn a wire schedule into camelCase with Dates", () => {
    const schedule = scheduleFromWire(
      buildScheduleWire({
        name: "tick",
        cron: null,
        interval_sec: 30,
        timezone: "Europe/Paris",
        enabled: false,
        overlap: false,
        max_retries: 2,
        source: "code",
        next_run_at: null,
        last_run_at: "2026-01-02T10:00:00Z",
        last_job_id: "01920000-0000-7000-8000-0000000000aa",
      }),
    );
    expect(schedule).toMatchObject({
      name: "tick",
      cron: null,
      intervalSec: 30,
      timezone: "Europe/Paris",
      enabled: false,
      overlap: false,
      maxRetries: 2,
      source: "code",
      nextRunAt: null,
      lastRunAt: new Date("2026-01-02T10:00:00Z"),
      lastJobId: "01920000-0000-7000-8000-0000000000aa",
      createdAt: new Date("2026-01-01T00:00:00Z"),
    });
    expect(scheduleFromWire(buildScheduleWire()).nextRunAt).toEqual(new Date("2026-01-03T02:00:00Z"));
  });

  it("put a schedule in place, or in name order when it is new", () => {
    const [a, c] = [scheduleFromWire(buildScheduleWire({ name: "a" })), scheduleFromWire(buildScheduleWire({ name: "c" }))];
    const b = scheduleFromWire(buildScheduleWire({ name: "b" }));
    const offA = { ...a, enabled: false };
    expect(withSchedule([a, c], offA)).toEqual([offA, c]);
    expect(withSchedule([a, c], b).map((schedule) => schedule.name)).toEqual(["a", "b", "c"]);
    expect(withSchedule([a], c).map((schedule) => schedule.name)).toEqual(["a", "c"]);
  });

  it("list the schedules, and enable or disable one by its escaped name with a PATCH", async () => {
    const api = new FakeApi()
      .on("GET", /^\/schedules$/, () => json({ schedules: [buildScheduleWire({ name: "a b" })] }))
      .on("PATCH", /^\/schedules\/a%20b$/, (request) =>
        json(buildScheduleWire({ name: "a b", ...(request.body as { enabled: boolean }) })),
      )
      .on("PATCH", /^\/schedules\/gone$/, () => apiError(404, "not_found", "no schedule named gone"));
    vi.stubGlobal("fetch", api.fetch);

    expect((await listSchedules(CREDENTIALS)).map((schedule) => schedule.name)).toEqual(["a b"]);
    expect((await setScheduleEnabled(CREDENTIALS, "a b", false)).enabled).toBe(false);
    expect((await setScheduleEnabled(CREDENTIALS, "a b", true)).enabled).toBe(true);
    const patches = api.calls("PATCH", /./);
    expect(patches.map((request) => [request.path, request.body])).toEqual([
      ["/schedules/a%20b", { enabled: false }],
      ["/schedules/a%20b", { enabled: true }],
    ]);
    expect(patches[0]?.headers).toMatchObject({ "X-API-Key": "secret", "Content-Type": "application/json" });

    const refused = await setScheduleEnabled(CREDENTIALS, "gone", false).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(404);
    expect((refused as ApiError).message).toBe("no schedule named gone");
  });
});
