// Job control on the page: cancelling, the cancelled list, live progress, tracebacks, and
// scheduling and timeouts at submit.

import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { shortId } from "./format";
import { rfc3339FromLocal } from "./services/jobs";
import { apiError, json } from "./test/fakeApi";
import { buildEventWire, buildJobWire, buildMetricsWire } from "./test/factories/job";
import { goLive, type Harness, renderApp, sendEvents, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

/** The list row of job `id`, once it is on screen. */
async function findRow(id: string): Promise<HTMLElement> {
  const panel = screen.getByRole("tabpanel");
  return waitFor(() => {
    const row = panel.querySelector<HTMLElement>(`tr[data-job-id="${id}"]`);
    if (row === null) throw new Error(`no row for job ${id}`);
    return row;
  });
}

function badgeOf(element: HTMLElement): string | undefined {
  return element.querySelector<HTMLElement>(".badge")?.dataset.status;
}

/** The flash message's text, and whether it is an error. */
function flash(): string {
  return document.querySelector(".flash-slot")?.textContent ?? "";
}

function flashIsError(): boolean {
  return document.querySelector(".flash-slot .flash--error") !== null;
}

describe("the cancelled list", () => {
  it("has its tab, count and badge, and retries a cancelled job", async () => {
    const cancelled = buildJobWire({ status: "cancelled", finished_at: "2026-01-02T10:00:05Z" });
    harness.lists.cancelled = [cancelled];
    harness.metrics = buildMetricsWire({ cancelled: 3 });
    const retried = buildJobWire({ retry_of: cancelled.id });
    harness.api.on("POST", /\/retry$/, () => json(retried, 201));
    const { user } = renderApp(harness);
    await goLive(harness);

    await waitFor(() => expect(screen.getByTestId("metric-cancelled").textContent).toBe("3"));
    const tab = screen.getByRole("tab", { name: /^Cancelled/ });
    expect(within(tab).getByText("3")).toBeTruthy();
    await user.click(tab);
    await waitFor(() => expect(window.location.hash).toBe("#/cancelled"));
    expect(harness.api.calls("GET", /^\/jobs\?.*status=cancelled/).length).toBeGreaterThan(0);

    const row = await findRow(cancelled.id);
    expect(badgeOf(row)).toBe("cancelled");
    expect(within(row).getByText("Cancelled", { selector: ".badge" })).toBeTruthy();
    expect(within(row).queryByRole("button", { name: /^Cancel job/ })).toBeNull();
    await user.click(within(row).getByRole("button", { name: `Retry job ${shortId(cancelled.id)}` }));
    expect(harness.api.calls("POST", /\/retry$/)[0]?.path).toBe(`/jobs/${cancelled.id}/retry`);
    expect(await within(row).findByRole("link", { name: /Retried as/ })).toBeTruthy();
  });
});

describe("Cancel", () => {
  it("cancels a pending job: the 200 says it is cancelled, and the row shows it at once", async () => {
    const job = buildJobWire({ status: "pending" });
    harness.lists.pending = [job];
    harness.api.on("POST", /\/cancel$/, () =>
      json({ ...job, status: "cancelled", finished_at: "2026-01-02T10:00:03Z" }),
    );
    const { user } = renderApp(harness);
    await goLive(harness);
    const row = await findRow(job.id);
    expect(within(row).queryByRole("button", { name: /^Retry job/ })).toBeNull();

    await user.click(within(row).getByRole("button", { name: `Cancel job ${shortId(job.id)}` }));
    const [post] = harness.api.calls("POST", /\/cancel$/);
    expect(post?.path).toBe(`/jobs/${job.id}/cancel`);
    expect(post?.body).toBeUndefined();
    await waitFor(() => expect(flash()).toContain(`Job ${shortId(job.id)} cancelled.`));
    expect(badgeOf(row)).toBe("cancelled");
  });

  it("asks a running job to stop: the 202 says it stops shortly, and its events end it", async () => {
    const job = buildJobWire({ status: "running", attempts: 1, lease_owner: "w1", started_at: "2026-01-02T10:00:01Z" });
    harness.lists.running = [job];
    harness.api.on("POST", /\/cancel$/, () => json({ ...job, cancel_requested_at: "2026-01-02T10:00:04Z" }, 202));
    window.location.hash = "#/running";
    const { user } = renderApp(harness);
    await goLive(harness, 10);
    const row = await findRow(job.id);

    await user.click(within(row).getByRole("button", { name: `Cancel job ${shortId(job.id)}` }));
    await waitFor(() =>
      expect(flash()).toContain(`Job ${shortId(job.id)}: cancellation requested — it stops shortly.`),
    );
    expect(badgeOf(row)).toBe("running");
    expect(within(row).getByText("Stopping…")).toBeTruthy();
    expect(within(row).queryByRole("button", { name: /^Cancel job/ })).toBeNull();

    sendEvents(
      harness,
      { seq: 11, jobId: job.id, type: "job_cancel_requested", status: "running", attempt: 1 },
      { seq: 12, jobId: job.id, type: "job_cancelled", status: "cancelled", attempt: 1 },
    );
    await waitFor(() => expect(badgeOf(row)).toBe("cancelled"));
  });

  it("shows the server's reason when the job can no longer be cancelled (409), and refetches", async () => {
    const job = buildJobWire({ status: "pending" });
    harness.lists.pending = [job];
    harness.api.on("POST", /\/cancel$/, () =>
      apiError(409, "invalid_transition", "only pending or running jobs can be cancelled; this one is done"),
    );
    const { user } = renderApp(harness);
    await goLive(harness);
    const row = await findRow(job.id);
    const listCalls = () => harness.api.calls("GET", /^\/jobs\?.*status=pending/).length;
    const before = listCalls();

    harness.lists.pending = [];
    await user.click(within(row).getByRole("button", { name: /^Cancel job/ }));
    await waitFor(() =>
      expect(flash()).toContain(
        `Could not cancel job ${shortId(job.id)}: only pending or running jobs can be cancelled; this one is done`,
      ),
    );
    expect(flashIsError()).toBe(true);
    await waitFor(() => expect(listCalls()).toBeGreaterThan(before), { timeout: 2500 });
  });

  it("cancels from the job's page, which then says the job is being stopped", async () => {
    const job = buildJobWire({ status: "running", attempts: 1, started_at: "2026-01-02T10:00:01Z", events: [] });
    harness.api.on("GET", new RegExp(`^/jobs/${job.id}\\?history=true$`), () => json(job));
    harness.api.on("POST", /\/cancel$/, () => json({ ...job, cancel_requested_at: "2026-01-02T10:00:04Z" }, 202));
    window.location.hash = `#/jobs/${job.id}`;
    const { user } = renderApp(harness);
    await goLive(harness);
    expect(screen.queryByRole("button", { name: "Retry" })).toBeNull();

    await user.click(await screen.findByRole("button", { name: "Cancel" }));
    expect(harness.api.calls("POST", /\/cancel$/)[0]?.path).toBe(`/jobs/${job.id}/cancel`);
    expect((await screen.findByTestId("cancel-requested")).textContent).toContain("Cancellation requested");
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
  });

  it("offers no Cancel on a finished job, and Retry on a cancelled one", async () => {
    const done = buildJobWire({ status: "done", events: [] });
    const cancelled = buildJobWire({ status: "cancelled", events: [] });
    for (const job of [done, cancelled]) {
      harness.api.on("GET", new RegExp(`^/jobs/${job.id}\\?history=true$`), () => json(job));
    }
    window.location.hash = `#/jobs/${done.id}`;
    renderApp(harness);
    await goLive(harness);
    await screen.findByText("Done", { selector: ".detail__status .badge" });
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Retry" })).toBeNull();

    window.location.hash = `#/jobs/${cancelled.id}`;
    await screen.findByText("Cancelled", { selector: ".detail__status .badge" });
    expect(screen.getByRole("button", { name: "Retry" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
  });
});

describe("progress", () => {
  it("moves the running row's bar with job_progress events", async () => {
    const job = buildJobWire({ status: "running", attempts: 1, started_at: "2026-01-02T10:00:01Z" });
    harness.lists.running = [job];
    window.location.hash = "#/running";
    renderApp(harness);
    await goLive(harness, 10);
    const row = await findRow(job.id);
    expect(within(row).queryByRole("progressbar")).toBeNull();

    sendEvents(harness, {
      seq: 11,
      jobId: job.id,
      type: "job_progress",
      status: "running",
      attempt: 1,
      data: { progress: 0.42, message: "3/7 characters" },
    });
    const bar = await within(row).findByRole("progressbar", { name: `Progress of job ${shortId(job.id)}` });
    expect(bar.getAttribute("aria-valuenow")).toBe("42");
    expect(within(row).getByText("42%")).toBeTruthy();
    expect(row.querySelector(".progress")?.getAttribute("title")).toBe("3/7 characters");

    sendEvents(harness, {
      seq: 12,
      jobId: job.id,
      type: "job_progress",
      status: "running",
      attempt: 1,
      data: { progress: 0.86, message: null },
    });
    await waitFor(() => expect(bar.getAttribute("aria-valuenow")).toBe("86"));
    expect(row.querySelector(".progress")?.getAttribute("title")).toBeNull();
  });

  it("shows the detail's bar from the job JSON, then from events, and keeps the timeline to its steps", async () => {
    const job = buildJobWire({
      status: "running",
      attempts: 1,
      started_at: "2026-01-02T10:00:01Z",
      progress: 0.1,
      progress_message: "1/10 characters",
      events: [
        buildEventWire({ seq: 1, type: "job_created", status: "pending" }),
        buildEventWire({ seq: 2, type: "job_leased", status: "running", attempt: 1, worker: "w1" }),
      ],
    });
    harness.api.on("GET", new RegExp(`^/jobs/${job.id}\\?history=true$`), () => json(job));
    window.location.hash = `#/jobs/${job.id}`;
    renderApp(harness);
    await goLive(harness, 2);
    const bar = await screen.findByRole("progressbar");
    expect(bar.getAttribute("aria-valuenow")).toBe("10");
    expect(screen.getByText("1/10 characters")).toBeTruthy();

    sendEvents(harness, {
      seq: 3,
      jobId: job.id,
      type: "job_progress",
      status: "running",
      attempt: 1,
      data: { progress: 0.5, message: "5/10 characters" },
    });
    await waitFor(() => expect(bar.getAttribute("aria-valuenow")).toBe("50"));
    expect(screen.getByText("50%")).toBeTruthy();
    expect(screen.getByText("5/10 characters")).toBeTruthy();
    const timeline = screen.getByRole("list", { name: /Event timeline/ });
    expect(within(timeline).getAllByRole("listitem")).toHaveLength(2);
  });
});

describe("the job's history", () => {
  it("folds each failed attempt's traceback under its error, and opens it on request", async () => {
    const traceback =
      'Traceback (most recent call last):\n  File "conveyor/builtin_tasks.py", line 40, in text\n' +
      "    raise SimulatedFailure(\"Simulated failure for testing\")\nSimulatedFailure: Simulated failure for testing\n";
    const job = buildJobWire({
      status: "failed",
      attempts: 1,
      max_retries: 0,
      last_error: "Simulated failure for testing",
      events: [
        buildEventWire({ seq: 1, type: "job_created", status: "pending" }),
        buildEventWire({ seq: 2, type: "job_leased", status: "running", attempt: 1, worker: "w1" }),
        buildEventWire({
          seq: 3,
          type: "job_failed",
          status: "failed",
          attempt: 1,
          worker: "w1",
          error: "Simulated failure for testing",
          data: { runtime: 0.01, error_type: "SimulatedFailure", traceback },
        }),
      ],
    });
    harness.api.on("GET", new RegExp(`^/jobs/${job.id}\\?history=true$`), () => json(job));
    window.location.hash = `#/jobs/${job.id}`;
    const { user } = renderApp(harness);
    await goLive(harness, 3);

    const timeline = await screen.findByRole("list", { name: /Event timeline/ });
    const failed = within(timeline).getAllByRole("listitem")[2] as HTMLElement;
    expect(within(failed).getByText("Simulated failure for testing")).toBeTruthy();
    const summary = within(failed).getByText("Traceback (SimulatedFailure)");
    const details = summary.closest("details") as HTMLDetailsElement;
    expect(details.open).toBe(false);
    const text = within(details).getByLabelText(/^Traceback of event 3/);
    expect(text.tagName).toBe("PRE");
    expect(text.className).toContain("code");
    expect(text.textContent).toBe(traceback);

    await user.click(summary);
    expect(details.open).toBe(true);
    // Attempts without a traceback show none.
    expect(within(timeline).getAllByText(/^Traceback/, { selector: "summary" })).toHaveLength(1);
  });

  it("says when a pending job is scheduled for, and the timeout it runs with", async () => {
    const runAt = new Date(Date.now() + 3600_000).toISOString();
    const job = buildJobWire({ status: "pending", run_at: runAt, timeout_sec: 90, events: [] });
    harness.api.on("GET", new RegExp(`^/jobs/${job.id}\\?history=true$`), () => json(job));
    window.location.hash = `#/jobs/${job.id}`;
    renderApp(harness);
    await goLive(harness);
    const scheduled = await screen.findByTestId("scheduled");
    expect(scheduled.textContent).toMatch(/^Scheduled for .*\(in 1 h\)/);
    expect(screen.getByText("Timeout").nextElementSibling?.textContent).toBe("1 min 30 s per attempt");
  });
});

describe("submitting with a time and a timeout", () => {
  it("sends run_at as RFC 3339 with the browser's offset, and timeout_sec", async () => {
    harness.api.on("POST", /^\/jobs$/, (request) => json(buildJobWire({ payload: { text: "later" }, ...(request.body as object) }), 201));
    const { user } = renderApp(harness);
    await goLive(harness);
    await user.type(screen.getByLabelText("Text to process"), "later");
    fireEvent.change(screen.getByLabelText("Run at"), { target: { value: "2026-12-01T09:30" } });
    await user.type(screen.getByLabelText("Timeout (s)"), "90");
    await user.click(screen.getByRole("button", { name: "Submit job" }));

    const body = harness.api.calls("POST", /^\/jobs$/)[0]?.body as Record<string, unknown>;
    expect(body).toEqual({ text: "later", run_at: rfc3339FromLocal("2026-12-01T09:30"), timeout_sec: 90 });
    expect(body.run_at).toMatch(/^2026-12-01T09:30:00[+-]\d{2}:\d{2}$/);
    expect(Date.parse(body.run_at as string)).toBe(new Date(2026, 11, 1, 9, 30).getTime());
    expect(screen.getByLabelText<HTMLInputElement>("Run at").value).toBe("");
  });

  it("sends neither when they are empty, and refuses a timeout out of range", async () => {
    harness.api.on("POST", /^\/jobs$/, () => json(buildJobWire(), 201));
    const { user } = renderApp(harness);
    await goLive(harness);
    await user.type(screen.getByLabelText("Text to process"), "now");
    await user.type(screen.getByLabelText("Timeout (s)"), "0");
    await user.click(screen.getByRole("button", { name: "Submit job" }));
    expect(harness.api.calls("POST", /^\/jobs$/)).toHaveLength(0);
    expect(screen.getByTestId("submit-feedback").textContent).toContain("The timeout is a number of seconds from 1 to 86,400");
    expect(document.activeElement).toBe(screen.getByLabelText("Timeout (s)"));

    await user.clear(screen.getByLabelText("Timeout (s)"));
    await user.click(screen.getByRole("button", { name: "Submit job" }));
    expect(harness.api.calls("POST", /^\/jobs$/).map((request) => request.body)).toEqual([{ text: "now" }]);
  });
});
