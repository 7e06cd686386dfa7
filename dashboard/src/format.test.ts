import { describe, expect, it } from "vitest";

import { readConfig } from "./config";
import {
  describePayload,
  eventLabel,
  formatAge,
  formatAgo,
  formatDuration,
  formatEvery,
  formatPercent,
  formatRelative,
  shortId,
  STATUS_LABELS,
} from "./format";
import { parseRoute, routeHref } from "./routing";

describe("format", () => {
  it("shortens a UUIDv7 to its random end", () => {
    expect(shortId("01920000-0000-7000-8000-00000000abcd")).toBe("0000abcd");
  });

  it("describes text jobs by their text and others by their payload", () => {
    expect(describePayload({ task: "text", payload: { text: "Hello" } })).toBe("“Hello”");
    expect(describePayload({ task: "text", payload: { fail: true } })).toBe("fail: true");
    expect(describePayload({ task: "email", payload: {} })).toBe("(empty payload)");
    expect(describePayload({ task: "text", payload: { text: "x".repeat(100) } }, 12)).toHaveLength(12);
  });

  it("formats durations and relative times", () => {
    expect(formatDuration(407)).toBe("407 ms");
    expect(formatDuration(2200)).toBe("2.2 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    const now = Date.parse("2026-01-02T10:00:00Z");
    expect(formatRelative(new Date(now - 500), now)).toBe("just now");
    expect(formatRelative(new Date(now - 12_000), now)).toBe("12 s ago");
    expect(formatRelative(new Date(now + 3000), now)).toBe("in 3 s");
    expect(formatRelative(new Date(now - 3 * 3600_000), now)).toBe("3 h ago");
    expect(formatAgo(new Date(now + 3000), now)).toBe("just now"); // a clock behind the event
  });

  it("writes how long a queue's oldest job has waited, coarsely", () => {
    expect(formatAge(0.4)).toBe("< 1 s");
    expect(formatAge(3.9)).toBe("3 s");
    expect(formatAge(59)).toBe("59 s");
    expect(formatAge(150)).toBe("2 min");
    expect(formatAge(2 * 3600 + 59 * 60)).toBe("2 h");
    expect(formatAge(3 * 86_400)).toBe("3 d");
    expect(formatAge(-1)).toBe("–");
  });

  it("names events and statuses", () => {
    expect(eventLabel("job_retry_scheduled")).toBe("Retry scheduled");
    expect(eventLabel("job_cancel_requested")).toBe("Cancel requested");
    expect(STATUS_LABELS.cancelled).toBe("Cancelled");
  });

  it("writes progress as a whole percent that moves off 0 and stops short of 100 until done", () => {
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(0.004)).toBe("1%");
    expect(formatPercent(0.42)).toBe("42%");
    expect(formatPercent(0.996)).toBe("99%");
    expect(formatPercent(1)).toBe("100%");
  });
});

describe("routing", () => {
  it("reads lists and jobs from the hash, and writes them back", () => {
    expect(parseRoute("")).toEqual({ name: "list", view: "pending", filter: {} });
    expect(parseRoute("#/dlq?page=3")).toEqual({ name: "list", view: "dlq", filter: {} }); // pages are not in the address
    expect(parseRoute("#/nonsense")).toEqual({ name: "list", view: "pending", filter: {} });
    expect(parseRoute("#/all")).toEqual({ name: "list", view: "all", filter: {} });
    expect(parseRoute("#/jobs/abc")).toEqual({ name: "job", id: "abc" });
    expect(parseRoute("#/queues")).toEqual({ name: "queues" });
    expect(routeHref({ name: "list", view: "done", filter: {} })).toBe("#/done");
    expect(routeHref({ name: "job", id: "abc" })).toBe("#/jobs/abc");
    expect(routeHref({ name: "queues" })).toBe("#/queues");
    expect(routeHref({ name: "schedules" })).toBe("#/schedules");
    expect(parseRoute("#/schedules")).toEqual({ name: "schedules" });
    expect(parseRoute("#/charts")).toEqual({ name: "charts", minutes: 60 });
    expect(parseRoute("#/charts?minutes=1440")).toEqual({ name: "charts", minutes: 1440 });
    expect(parseRoute("#/charts?minutes=7")).toEqual({ name: "charts", minutes: 60 });
    expect(routeHref({ name: "charts", minutes: 360 })).toBe("#/charts?minutes=360");
    expect(routeHref({ name: "charts", minutes: 60 })).toBe("#/charts");
  });

  it("reads a schedule's interval in the largest units that fit", () => {
    expect(formatEvery(30)).toBe("every 30 s");
    expect(formatEvery(1.5)).toBe("every 1.5 s");
    expect(formatEvery(300)).toBe("every 5 min");
    expect(formatEvery(5400)).toBe("every 1 h 30 min");
    expect(formatEvery(90)).toBe("every 1 min 30 s");
    expect(formatEvery(172_800)).toBe("every 2 d");
    expect(formatEvery(0)).toBe("–");
  });
});

describe("readConfig", () => {
  it("reads what the API injected, and falls back when there is nothing usable", () => {
    document.body.innerHTML = '<script id="conveyor-config" type="application/json">{"apiKeyRequired":true,"version":"0.1.0"}</script>';
    expect(readConfig()).toEqual({ apiKeyRequired: true, version: "0.1.0" });
    document.body.innerHTML = '<script id="conveyor-config" type="application/json">{</script>';
    expect(readConfig()).toEqual({ apiKeyRequired: false, version: null });
    document.body.innerHTML = "";
    expect(readConfig()).toEqual({ apiKeyRequired: false, version: null });
  });
});
