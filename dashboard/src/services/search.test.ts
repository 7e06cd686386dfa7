import { describe, expect, it } from "vitest";

import { parseRoute, routeHref } from "../routing";
import {
  cleanListFilter,
  fieldProblem,
  formatTotal,
  isNarrowed,
  type ListFilter,
  listFilterKey,
  listPath,
  localFromRfc3339,
  readFilter,
  writeFilter,
} from "./search";
import { rfc3339FromLocal } from "./jobs";

describe("the filter in the address", () => {
  it("round-trips every field through the page address, with the API's names", () => {
    const filter: ListFilter = {
      tenant: "acme",
      queue: "emails",
      task: "send_email",
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      id_prefix: "0193a4",
      error: "timeout after 30 s",
      payload: "alice@example.com",
      created_after: "2026-01-02T10:30:00+01:00",
      created_before: "2026-01-03T00:00:00Z",
      finished_after: "2026-01-02T11:00:00-05:00",
      finished_before: "2026-01-04T00:00:00+00:00",
    };
    const href = routeHref({ name: "list", view: "failed", filter });
    expect(href.startsWith("#/failed?tenant=acme&queue=emails&task=send_email&")).toBe(true);
    expect(href).toContain("error=timeout+after+30+s");
    expect(href).toContain("payload=alice%40example.com");
    expect(href).toContain("created_after=2026-01-02T10%3A30%3A00%2B01%3A00");
    expect(parseRoute(href)).toEqual({ name: "list", view: "failed", filter });
  });

  it("leaves out empty fields, trims the others, and ignores what it does not know", () => {
    expect(routeHref({ name: "list", view: "all", filter: { task: "  x ", queue: "", error: " " } })).toBe("#/all?task=x");
    expect(parseRoute("#/pending?task=x&colour=blue&created_after=yesterday&page=4")).toEqual({
      name: "list",
      view: "pending",
      filter: { task: "x" },
    });
    expect(readFilter(new URLSearchParams("error=a%26b"))).toEqual({ error: "a&b" });
    expect(writeFilter({ error: "a&b" }, new URLSearchParams()).toString()).toBe("error=a%26b");
  });

  it("names filters that match the same jobs alike", () => {
    expect(listFilterKey({ task: "x", queue: "q" })).toBe(listFilterKey({ queue: "q ", task: "x", error: "" }));
    expect(listFilterKey({})).toBe("");
    expect(cleanListFilter({ task: " " })).toEqual({});
  });

  it("tells a search from a list of one tenant", () => {
    expect(isNarrowed({})).toBe(false);
    expect(isNarrowed({ tenant: "acme" })).toBe(false);
    expect(isNarrowed({ tenant: "acme", payload: "x" })).toBe(true);
  });

  it("shows a moment on this browser's clock and writes it back with the offset", () => {
    const local = "2026-07-01T09:30:15";
    const moment = rfc3339FromLocal(local) ?? "";
    expect(localFromRfc3339(moment)).toBe(local);
    expect(localFromRfc3339("not a date")).toBe("");
  });

  it("says which values the API would refuse", () => {
    expect(fieldProblem("id_prefix", "0193a4-7")).toBeNull();
    expect(fieldProblem("id_prefix", "xyz")).toMatch(/hex/);
    expect(fieldProblem("payload", "a".repeat(201))).toMatch(/200/);
    expect(fieldProblem("error", "")).toBeNull();
  });
});

describe("a page of a list", () => {
  it("asks by keyset: page 1 without a cursor, the next with the previous page's next_cursor", () => {
    expect(listPath("running", { filter: {}, cursor: null })).toBe("/jobs?limit=20&status=running");
    expect(listPath("running", { filter: {}, cursor: "c2" })).toBe("/jobs?limit=20&cursor=c2&status=running");
    expect(listPath("all", { filter: { task: "x" }, cursor: null })).toBe("/jobs?limit=20&task=x");
  });

  it("asks /dlq for the whole DLQ, and the failed jobs for a filtered one", () => {
    expect(listPath("dlq", { filter: {}, cursor: "c" })).toBe("/dlq?limit=20&cursor=c");
    expect(listPath("dlq", { filter: { error: "boom" }, cursor: null })).toBe("/jobs?limit=20&status=failed&error=boom");
  });

  it("says a total the API stopped counting as at least that many", () => {
    expect(formatTotal(134, true)).toBe("134");
    expect(formatTotal(10_000, false)).toBe("10,000+");
  });
});
