// The Schedules view: each schedule's timing, runs and switch, enabling and disabling, what the
// page says when that fails, how its data stays current (job events, polling while shown), and
// a scheduled job's page saying which schedule and tick it came from.

import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SCHEDULES_POLL_MS } from "./app/useDashboardData";
import { buildJobWire, buildLiveEventWire, jobId } from "./test/factories/job";
import { buildScheduleWire } from "./test/factories/schedule";
import { apiError, json } from "./test/fakeApi";
import { goLive, type Harness, renderApp, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function findRow(name: string): Promise<HTMLElement> {
  return waitFor(() => {
    const row = document.querySelector<HTMLElement>(`tr[data-schedule="${name}"]`);
    if (row === null) throw new Error(`no row for schedule ${name}`);
    return row;
  });
}

function cell(row: HTMLElement, header: string): string {
  return row.querySelector(`td[data-label="${header}"]`)?.textContent ?? "";
}

function flash(): string {
  return document.querySelector(".flash-slot")?.textContent ?? "";
}

const scheduleCalls = () => harness.api.calls("GET", /^\/schedules$/).length;
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

function openSchedules(): void {
  window.location.hash = "#/schedules";
}

describe("the Schedules view", () => {
  it("is reached from the page's navigation and shows each schedule's timing and runs", async () => {
    const lastJob = jobId();
    harness.schedules = [
      buildScheduleWire({
        name: "cleanup",
        task: "cleanup",
        cron: null,
        interval_sec: 300,
        queue: "maintenance",
        tenant: "acme",
        source: "code",
        next_run_at: inMs(5.5 * 60_000),
        last_run_at: inMs(-150_000),
        last_job_id: lastJob,
      }),
      buildScheduleWire({ name: "nightly", cron: "0 2 * * *", timezone: "Europe/Berlin", enabled: false }),
    ];
    const { user } = renderApp(harness);
    await goLive(harness);
    expect(scheduleCalls()).toBe(0); // not fetched while not shown

    const nav = screen.getByRole("navigation", { name: "Views" });
    await user.click(within(nav).getByRole("link", { name: "Schedules" }));
    await waitFor(() => expect(window.location.hash).toBe("#/schedules"));
    expect(within(nav).getByRole("link", { name: "Schedules" }).getAttribute("aria-current")).toBe("page");
    expect(within(nav).getByRole("link", { name: "Jobs" }).getAttribute("aria-current")).toBeNull();
    expect(screen.getByRole("heading", { name: "Schedules" })).toBeTruthy();

    const row = await findRow("cleanup");
    expect(cell(row, "Schedule")).toBe("cleanupcode");
    expect(cell(row, "Task")).toBe("cleanup");
    expect(cell(row, "Runs")).toBe("every 5 min");
    expect(cell(row, "Timezone")).toBe("UTC");
    expect(cell(row, "Queue")).toBe("maintenance · acme");
    expect(cell(row, "Next run")).toBe("in 5 min");
    expect(cell(row, "Last run")).toContain("2 min ago");
    const link = within(row).getByRole("link", { name: /^Last job of schedule cleanup/ });
    expect(link.getAttribute("href")).toBe(`#/jobs/${lastJob}`);
    const toggle = within(row).getByRole("switch", { name: "Enable schedule cleanup" });
    expect(toggle.getAttribute("aria-checked")).toBe("true");

    const off = await findRow("nightly");
    expect(cell(off, "Runs")).toBe("0 2 * * *");
    expect(cell(off, "Timezone")).toBe("Europe/Berlin");
    expect(cell(off, "Next run")).toBe("disabled");
    expect(cell(off, "Last run")).toBe("never");
    expect(off.getAttribute("data-enabled")).toBe("false");
    expect(within(off).getByRole("switch").getAttribute("aria-checked")).toBe("false");
    expect(screen.getByText("2 schedules · 1 disabled")).toBeTruthy();
  });

  it("says when there are none, and when they could not be loaded", async () => {
    let respond = () => apiError(500, "internal_error", "something broke");
    harness.api.on("GET", /^\/schedules$/, () => respond());
    openSchedules();
    const { user } = renderApp(harness);
    await goLive(harness);
    const alert = await screen.findByText("Could not load the schedules");
    expect(alert.closest("[role=alert]")?.textContent).toContain("something broke (HTTP 500)");

    respond = () => json({ schedules: [] });
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No schedules")).toBeTruthy();
  });

  it("disables a schedule: PATCH {enabled: false}, the switch waits for it, then shows it off", async () => {
    window.localStorage.setItem("conveyor.apiKey", "secret");
    harness.schedules = [buildScheduleWire({ name: "nightly" })];
    let answer!: (response: Response) => void;
    harness.api.on("PATCH", /^\/schedules\/nightly$/, () => new Promise<Response>((resolve) => (answer = resolve)));
    openSchedules();
    const { user } = renderApp(harness);
    await goLive(harness);
    const row = await findRow("nightly");

    const toggle = within(row).getByRole("switch", { name: "Enable schedule nightly" });
    await user.click(toggle);
    const [patch] = harness.api.calls("PATCH", /^\/schedules\//);
    expect(patch?.path).toBe("/schedules/nightly");
    expect(patch?.body).toEqual({ enabled: false });
    expect(patch?.headers["X-API-Key"]).toBe("secret");
    await waitFor(() => expect(toggle.getAttribute("aria-disabled")).toBe("true"));
    expect(toggle.textContent).toBe("Saving…");
    await user.click(toggle);
    expect(harness.api.calls("PATCH", /^\/schedules\//)).toHaveLength(1); // not sent twice

    const disabled = buildScheduleWire({ name: "nightly", enabled: false });
    harness.schedules = [disabled];
    act(() => answer(json(disabled)));
    await waitFor(() => expect(toggle.getAttribute("aria-checked")).toBe("false"));
    expect(toggle.getAttribute("aria-disabled")).toBe("false");
    expect(toggle.textContent).toBe("Off");
    expect(cell(row, "Next run")).toBe("disabled");
    expect(flash()).toContain("Schedule nightly disabled");
  });

  it("enables a disabled one, and shows the API's message when it refuses", async () => {
    harness.schedules = [buildScheduleWire({ name: "a", enabled: false }), buildScheduleWire({ name: "b" })];
    harness.api.on("PATCH", /^\/schedules\/b$/, () => apiError(503, "unavailable", "the store is unavailable"));
    openSchedules();
    const { user } = renderApp(harness);
    await goLive(harness);

    const a = await findRow("a");
    await user.click(within(a).getByRole("switch", { name: "Enable schedule a" }));
    expect(harness.api.calls("PATCH", /./).map((request) => request.body)).toEqual([{ enabled: true }]);
    await waitFor(() => expect(within(a).getByRole("switch").getAttribute("aria-checked")).toBe("true"));
    expect(flash()).toContain("Schedule a enabled");

    const b = await findRow("b");
    await user.click(within(b).getByRole("switch", { name: "Enable schedule b" }));
    await waitFor(() => expect(flash()).toContain("Could not disable schedule b: the store is unavailable"));
    expect(document.querySelector(".flash-slot .flash--error")).not.toBeNull();
    expect(within(b).getByRole("switch").getAttribute("aria-checked")).toBe("true");
  });

  it("refetches when a job is created (a schedule fired), not on other events", async () => {
    harness.schedules = [buildScheduleWire({ name: "tick", cron: null, interval_sec: 5 })];
    openSchedules();
    renderApp(harness);
    await goLive(harness, 0);
    const row = await findRow("tick");
    await act(() => new Promise((resolve) => setTimeout(resolve, 1100))); // past the first-connect refetch
    const before = scheduleCalls();

    act(() => harness.sockets.last.send(buildLiveEventWire({ seq: 1, type: "job_leased", status: "running" })));
    await act(() => new Promise((resolve) => setTimeout(resolve, 400)));
    expect(scheduleCalls()).toBe(before);

    const fired = jobId();
    harness.schedules = [
      buildScheduleWire({ name: "tick", cron: null, interval_sec: 5, last_run_at: inMs(0), last_job_id: fired }),
    ];
    act(() => harness.sockets.last.send(buildLiveEventWire({ seq: 2, type: "job_created", jobId: fired })));
    await waitFor(() => expect(within(row).getByRole("link", { name: /^Last job of schedule tick/ })).toBeTruthy());
    expect(scheduleCalls()).toBe(before + 1);
  });

  it("polls while it is shown, since enabling sends no event, and stops when left", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      harness.schedules = [buildScheduleWire({ name: "nightly" })];
      openSchedules();
      renderApp(harness);
      await goLive(harness);
      const row = await findRow("nightly");
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1100);
      });
      const before = scheduleCalls();

      harness.schedules = [buildScheduleWire({ name: "nightly", enabled: false })];
      await act(async () => {
        await vi.advanceTimersByTimeAsync(SCHEDULES_POLL_MS + 100);
      });
      expect(scheduleCalls()).toBe(before + 1);
      await waitFor(() => expect(row.getAttribute("data-enabled")).toBe("false"));

      act(() => {
        window.location.hash = "#/pending";
      });
      await screen.findByRole("tabpanel");
      const left = scheduleCalls();
      await act(async () => {
        await vi.advanceTimersByTimeAsync(SCHEDULES_POLL_MS * 3);
      });
      expect(scheduleCalls()).toBe(left);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("a scheduled job's page", () => {
  it("names its schedule, linking to the view, and the tick it was fired for", async () => {
    const job = buildJobWire({ schedule: "nightly", scheduled_for: "2026-01-02T02:00:00Z" });
    const plain = buildJobWire();
    harness.api.on("GET", /^\/jobs\/[^?/]+\?history=true$/, (request) =>
      json(request.path.includes(job.id) ? job : plain),
    );
    window.location.hash = `#/jobs/${job.id}`;
    renderApp(harness);
    await goLive(harness);
    const schedule = await screen.findByTestId("job-schedule");
    expect(schedule.textContent).toBe("nightly");
    expect(schedule.getAttribute("href")).toBe("#/schedules");
    const tick = screen.getByTestId("job-scheduled-for").querySelector("time");
    expect(tick?.getAttribute("dateTime")).toBe("2026-01-02T02:00:00.000Z");

    act(() => {
      window.location.hash = `#/jobs/${plain.id}`;
    });
    await waitFor(() => expect(screen.getByRole("heading", { level: 2 }).textContent).toContain(plain.id.slice(-8)));
    await screen.findByText("Payload");
    expect(screen.queryByTestId("job-schedule")).toBeNull();
  });
});
