// The page at volume: a thousand events arriving at once are applied in one batch (one render
// pass, nothing rendered per event), the counts and the list are refetched at most once a
// second however many events flow, and a search is never refetched by events at all.

import { act, render, screen, waitFor } from "@testing-library/react";
import { Profiler } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "./App";
import type { LiveEventWire } from "./services/jobs";
import { json } from "./test/fakeApi";
import { buildJobWire, buildListWire, buildLiveEventWire, jobId } from "./test/factories/job";
import { CONFIG, goLive, type Harness, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

let commits = 0;

function renderCounted() {
  commits = 0;
  return render(
    <Profiler id="page" onRender={() => (commits += 1)}>
      <App config={CONFIG} createSocket={harness.sockets.create} />
    </Profiler>,
  );
}

const wait = (ms: number) => act(() => new Promise((resolve) => setTimeout(resolve, ms)));

/** `count` events from `seq` on: jobs created, leased, reporting progress and ending, some of
 *  them about the rows shown. */
function storm(seq: number, count: number, rows: readonly string[]): LiveEventWire[] {
  const kinds = [
    { type: "job_created", status: "pending" },
    { type: "job_leased", status: "running" },
    { type: "job_progress", status: "running" },
    { type: "job_succeeded", status: "done" },
  ] as const;
  return Array.from({ length: count }, (_, i) => {
    const row = i % 50 === 0 ? rows[(i / 50) % rows.length] : undefined;
    // The rows shown report progress; other jobs come and go.
    const kind = row !== undefined ? kinds[2] : (kinds[i % kinds.length] ?? kinds[0]);
    return buildLiveEventWire({
      seq: seq + i,
      jobId: row ?? jobId(50_000_000 + i),
      type: kind.type,
      status: kind.status,
      attempt: 1,
      data: kind.type === "job_progress" ? { progress: (i % 100) / 100 } : {},
    });
  });
}

describe("a thousand events at once", () => {
  it("renders once for the batch, not per event, and refetches at most once a second", async () => {
    harness.lists.running = Array.from({ length: 20 }, () => buildJobWire({ status: "running" }));
    const rows = harness.lists.running.map((job) => job.id);
    window.location.hash = "#/running";
    renderCounted();
    await goLive(harness, 0);
    await screen.findAllByText("Running", { selector: ".badge" });
    await wait(1100); // past the first-connect refetch
    const listCalls = () => harness.api.calls("GET", /^\/jobs\?/).length;
    const metricsCalls = () => harness.api.calls("GET", /^\/metrics/).length;
    const [lists, counts] = [listCalls(), metricsCalls()];
    const before = commits;

    const events = storm(1, 1000, rows);
    act(() => {
      for (const event of events) harness.sockets.last.send(event);
    });
    expect(commits).toBe(before); // buffered: nothing rendered per event
    await wait(300);
    // One commit for the batch, one per refetch answer, and the running list's clock ticking:
    // a handful, not one per event.
    expect(commits - before).toBeGreaterThanOrEqual(1);
    expect(commits - before).toBeLessThanOrEqual(8);
    expect(listCalls() - lists).toBeLessThanOrEqual(1);
    expect(metricsCalls() - counts).toBeLessThanOrEqual(1);

    // Events keep flowing, 4 batches a second for 2 seconds: refetches stay at one a second.
    for (let round = 0; round < 8; round += 1) {
      const more = storm(1001 + round * 250, 250, rows);
      act(() => {
        for (const event of more) harness.sockets.last.send(event);
      });
      await wait(250);
    }
    expect(listCalls() - lists).toBeLessThanOrEqual(4);
    expect(metricsCalls() - counts).toBeLessThanOrEqual(4);
  }, 20_000);

  it("never refetches a search because of events, and says it may be outdated", async () => {
    const shown = buildJobWire({ status: "pending", payload: { email: "alice@example.com" } });
    harness.api.on("GET", /^\/jobs\?.*payload=alice/, () => json(buildListWire([shown])));
    window.location.hash = "#/pending?payload=alice";
    renderCounted();
    await goLive(harness, 0);
    await waitFor(() => expect(document.querySelector(`tr[data-job-id="${shown.id}"]`)).not.toBeNull());
    await wait(1100);
    const searches = () => harness.api.calls("GET", /^\/jobs\?.*payload=alice/).length;
    const before = searches();
    for (let round = 0; round < 4; round += 1) {
      const events = storm(1 + round * 1000, 1000, [shown.id]);
      act(() => {
        for (const event of events) harness.sockets.last.send(event);
      });
      await wait(300);
    }
    expect(searches()).toBe(before);
    expect(screen.getByTestId("list-outdated")).toBeTruthy();
  }, 20_000);
});
