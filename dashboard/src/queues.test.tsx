// The Queues view: each queue's figures, pausing and resuming, what the page says when that
// fails, and how its data stays current (job events, throttled; polling while shown).

import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { QUEUES_POLL_MS } from "./app/useDashboardData";
import { buildLiveEventWire } from "./test/factories/job";
import { buildQueueWire } from "./test/factories/queue";
import { apiError, json } from "./test/fakeApi";
import { goLive, type Harness, renderApp, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

/** The row of queue `name`, once it is on screen. */
async function findRow(name: string): Promise<HTMLElement> {
  return waitFor(() => {
    const row = document.querySelector<HTMLElement>(`tr[data-queue="${name}"]`);
    if (row === null) throw new Error(`no row for queue ${name}`);
    return row;
  });
}

/** The text of a row's cell, by its column's header. */
function cell(row: HTMLElement, header: string): string {
  return row.querySelector(`td[data-label="${header}"]`)?.textContent ?? "";
}

function flash(): string {
  return document.querySelector(".flash-slot")?.textContent ?? "";
}

function flashIsError(): boolean {
  return document.querySelector(".flash-slot .flash--error") !== null;
}

const queueCalls = () => harness.api.calls("GET", /^\/queues$/).length;

function openQueues(): void {
  window.location.hash = "#/queues";
}

describe("the Queues view", () => {
  it("is reached from the page's navigation and shows each queue's figures", async () => {
    harness.queues = [
      buildQueueWire({
        name: "default",
        pending: 2,
        scheduled: 1,
        running: 3,
        oldest_pending_age_sec: 3.4,
        done_last_minute: 1234,
        failed_last_minute: 1,
      }),
      buildQueueWire({
        name: "emails",
        paused: true,
        paused_at: "2026-01-02T10:00:00Z",
        pending: 5,
        oldest_pending_age_sec: 150,
      }),
    ];
    const { user } = renderApp(harness);
    await goLive(harness);
    expect(queueCalls()).toBe(0); // not fetched while not shown

    const nav = screen.getByRole("navigation", { name: "Views" });
    await user.click(within(nav).getByRole("link", { name: "Queues" }));
    await waitFor(() => expect(window.location.hash).toBe("#/queues"));
    expect(within(nav).getByRole("link", { name: "Queues" }).getAttribute("aria-current")).toBe("page");
    expect(within(nav).getByRole("link", { name: "Jobs" }).getAttribute("aria-current")).toBeNull();
    expect(screen.getByRole("heading", { name: "Queues" })).toBeTruthy();

    const row = await findRow("default");
    expect(cell(row, "Queue")).toBe("default");
    expect(cell(row, "State")).toBe("Active");
    expect(cell(row, "Pending")).toBe("2");
    expect(cell(row, "Scheduled")).toBe("1");
    expect(cell(row, "Running")).toBe("3");
    expect(cell(row, "Oldest pending")).toBe("3 s");
    expect(cell(row, "Done (1 min)")).toBe("1,234");
    expect(cell(row, "Failed (1 min)")).toBe("1");
    expect(within(row).getByRole("button", { name: "Pause queue default" }).textContent).toBe("Pause");

    const paused = await findRow("emails");
    expect(within(paused).getByText("Paused", { selector: ".badge" })).toBeTruthy();
    expect(cell(paused, "Oldest pending")).toBe("2 min");
    expect(cell(paused, "Done (1 min)")).toBe("0");
    expect(within(paused).getByRole("button", { name: "Resume queue emails" }).textContent).toBe("Resume");
    expect(screen.getByText("2 queues · 1 paused")).toBeTruthy();
    // In the API's order (by name).
    const names = Array.from(document.querySelectorAll("tr[data-queue]"), (tr) => tr.getAttribute("data-queue"));
    expect(names).toEqual(["default", "emails"]);
  });

  it("says when it is loading, when there are no queues, and when they could not be loaded", async () => {
    let respond = () => apiError(500, "internal_error", "something broke");
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    harness.api.on("GET", /^\/queues$/, async () => {
      await gate;
      return respond();
    });
    openQueues();
    const { user } = renderApp(harness);
    await goLive(harness);
    expect(await screen.findByText("Loading queues…")).toBeTruthy();

    act(() => open());
    const alert = await screen.findByText("Could not load the queues");
    expect(alert.closest("[role=alert]")?.textContent).toContain("something broke (HTTP 500)");

    respond = () => json({ queues: [] });
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No queues to show")).toBeTruthy();
  });

  it("pauses a queue: POST /queues/{name}/pause, the button waits for it, then the row shows Paused", async () => {
    window.localStorage.setItem("conveyor.apiKey", "secret");
    harness.queues = [buildQueueWire({ name: "default", pending: 2 })];
    let answer!: (response: Response) => void;
    harness.api.on("POST", /^\/queues\/default\/pause$/, () => new Promise<Response>((resolve) => (answer = resolve)));
    openQueues();
    const { user } = renderApp(harness);
    await goLive(harness);
    const row = await findRow("default");

    const button = within(row).getByRole("button", { name: "Pause queue default" });
    await user.click(button);
    const [post] = harness.api.calls("POST", /^\/queues\//);
    expect(post?.path).toBe("/queues/default/pause");
    expect(post?.body).toBeUndefined();
    expect(post?.headers["X-API-Key"]).toBe("secret");
    await waitFor(() => expect(button.getAttribute("aria-disabled")).toBe("true"));
    expect(button.textContent).toBe("Pausing…");
    await user.click(button);
    expect(harness.api.calls("POST", /^\/queues\//)).toHaveLength(1); // not sent twice

    const paused = buildQueueWire({ name: "default", pending: 2, paused: true, paused_at: "2026-01-02T10:00:00Z" });
    harness.queues = [paused];
    act(() => answer(json(paused)));
    await waitFor(() => expect(cell(row, "State")).toBe("Paused"));
    expect(row.getAttribute("data-paused")).toBe("true");
    const resume = within(row).getByRole("button", { name: "Resume queue default" });
    expect(resume.getAttribute("aria-disabled")).toBe("false");
    expect(flash()).toContain("Queue default paused: workers take no new jobs from it");
    expect(flashIsError()).toBe(false);
  });

  it("resumes a paused queue: POST /queues/{name}/resume, then the row shows it active", async () => {
    harness.queues = [buildQueueWire({ name: "reports.daily", paused: true, paused_at: "2026-01-02T10:00:00Z" })];
    openQueues();
    const { user } = renderApp(harness);
    await goLive(harness);
    const row = await findRow("reports.daily");
    expect(cell(row, "State")).toBe("Paused");

    await user.click(within(row).getByRole("button", { name: "Resume queue reports.daily" }));
    expect(harness.api.calls("POST", /^\/queues\//).map((request) => request.path)).toEqual([
      "/queues/reports.daily/resume",
    ]);
    await waitFor(() => expect(cell(row, "State")).toBe("Active"));
    expect(within(row).getByRole("button", { name: "Pause queue reports.daily" })).toBeTruthy();
    expect(flash()).toContain("Queue reports.daily resumed: workers take its jobs again.");
  });

  it("shows the server's message when the API refuses, keeps the row as it was, and refetches", async () => {
    harness.queues = [buildQueueWire({ name: "default" })];
    harness.api.on("POST", /\/pause$/, () =>
      apiError(503, "unavailable", "the store is unavailable; try again shortly"),
    );
    openQueues();
    const { user } = renderApp(harness);
    await goLive(harness);
    const row = await findRow("default");
    await act(() => new Promise((resolve) => setTimeout(resolve, 1100))); // past the first-connect refetch
    const before = queueCalls();

    await user.click(within(row).getByRole("button", { name: "Pause queue default" }));
    await waitFor(() =>
      expect(flash()).toContain("Could not pause queue default: the store is unavailable; try again shortly"),
    );
    expect(flashIsError()).toBe(true);
    expect(cell(row, "State")).toBe("Active");
    const button = within(row).getByRole("button", { name: "Pause queue default" });
    await waitFor(() => expect(button.getAttribute("aria-disabled")).toBe("false"));
    await waitFor(() => expect(queueCalls()).toBeGreaterThan(before), { timeout: 2500 });
  });

  it("refetches on job events, at most once a second however many come", async () => {
    harness.queues = [buildQueueWire({ name: "default", pending: 1 })];
    openQueues();
    renderApp(harness);
    await goLive(harness, 0);
    const row = await findRow("default");
    await act(() => new Promise((resolve) => setTimeout(resolve, 1100))); // past the first-connect refetch
    const before = queueCalls();

    harness.queues = [buildQueueWire({ name: "default", pending: 0, running: 1 })];
    act(() => {
      for (let seq = 1; seq <= 2000; seq += 1) {
        harness.sockets.last.send(buildLiveEventWire({ seq, type: "job_leased", status: "running" }));
      }
    });
    await waitFor(() => expect(cell(row, "Running")).toBe("1"));
    await act(() => new Promise((resolve) => setTimeout(resolve, 1500)));
    const after = queueCalls() - before;
    expect(after).toBeGreaterThanOrEqual(1);
    expect(after).toBeLessThanOrEqual(2);
  });

  it("polls while it is shown, since pausing sends no event, and stops when left", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      harness.queues = [buildQueueWire({ name: "default" })];
      openQueues();
      renderApp(harness);
      await goLive(harness);
      const row = await findRow("default");
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1100);
      });
      const before = queueCalls();

      harness.queues = [buildQueueWire({ name: "default", paused: true, paused_at: "2026-01-02T10:00:00Z" })];
      await act(async () => {
        await vi.advanceTimersByTimeAsync(QUEUES_POLL_MS + 100);
      });
      expect(queueCalls()).toBe(before + 1);
      await waitFor(() => expect(cell(row, "State")).toBe("Paused"));

      act(() => {
        window.location.hash = "#/pending";
      });
      await screen.findByRole("tabpanel");
      const left = queueCalls();
      await act(async () => {
        await vi.advanceTimersByTimeAsync(QUEUES_POLL_MS * 3);
      });
      expect(queueCalls()).toBe(left);
    } finally {
      vi.useRealTimers();
    }
  });
});
