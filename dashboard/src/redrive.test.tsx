// The dead letter queue's "Redrive by filter" (a preview, then the redrive call after call with
// a bar, its buttons off meanwhile) and what the page says is kept of finished jobs.

import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { type RedriveRequestWire } from "./services/redrive";
import { buildRedriveAnswerWire, buildRetentionWire } from "./test/factories/schedule";
import { apiError, json } from "./test/fakeApi";
import { goLive, type Harness, renderApp, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const redriveCalls = () => harness.api.calls("POST", /^\/dlq\/redrive$/);

/** A DLQ of `left` matching jobs; each real call waits for `release()` when `gated`. */
function serveDlq(left: number, gated = false) {
  const waiting: (() => void)[] = [];
  harness.api.on("POST", /^\/dlq\/redrive$/, async (request) => {
    const body = request.body as RedriveRequestWire;
    if (body.dry_run) return json(buildRedriveAnswerWire({ matched: left, remaining: left, dry_run: true }));
    if (gated) await new Promise<void>((resolve) => waiting.push(resolve));
    const redriven = Math.min(left, body.limit ?? 1000);
    const matched = left;
    left -= redriven;
    return json(buildRedriveAnswerWire({ matched, redriven, remaining: left }));
  });
  return {
    release: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
    waiting: () => waiting.length,
  };
}

async function openRedrive() {
  window.location.hash = "#/dlq";
  const rendered = renderApp(harness);
  await goLive(harness);
  const panel = await screen.findByTestId("redrive");
  await rendered.user.click(within(panel).getByText("Redrive by filter"));
  return { ...rendered, panel };
}

describe("Redrive by filter", () => {
  it("is on the dead letter queue only", async () => {
    window.location.hash = "#/failed";
    renderApp(harness);
    await goLive(harness);
    await screen.findByTestId("list-failed");
    expect(screen.queryByTestId("redrive")).toBeNull();
  });

  it("previews the filter with a dry run, sending only the fields filled in, times as RFC 3339", async () => {
    serveDlq(12);
    const { user, panel } = await openRedrive();
    const redrive = within(panel).getByRole("button", { name: "Redrive" });
    expect(redrive).toHaveProperty("disabled", true); // nothing counted yet

    await user.type(within(panel).getByLabelText("Task"), "text");
    await user.type(within(panel).getByLabelText("Error contains"), "too long");
    await user.type(within(panel).getByLabelText("Failed after"), "2026-01-02T10:30:00");
    await user.click(within(panel).getByRole("button", { name: "Preview" }));

    await waitFor(() => expect(screen.getByTestId("redrive-preview").textContent).toBe("12 jobs match."));
    const [call] = redriveCalls();
    const body = call?.body as RedriveRequestWire;
    expect(body).toMatchObject({ task: "text", error: "too long", dry_run: true });
    expect(Object.keys(body).sort()).toEqual(["dry_run", "error", "failed_after", "task"]);
    expect(new Date(body.failed_after ?? "").getTime()).toBe(new Date(2026, 0, 2, 10, 30, 0).getTime());
    expect(body.failed_after).toMatch(/^2026-01-02T10:30:00[+-]\d\d:\d\d$/);
    expect(within(panel).getByRole("button", { name: "Redrive 12" })).toHaveProperty("disabled", false);

    // Another filter is another count: the preview no longer stands for it.
    await user.type(within(panel).getByLabelText("Queue"), "emails");
    expect(screen.getByTestId("redrive-preview").textContent).toBe("");
    expect(within(panel).getByRole("button", { name: "Redrive" })).toHaveProperty("disabled", true);
  });

  it("redrives call after call until none remain, with a bar, its buttons off meanwhile", async () => {
    const dlq = serveDlq(600, true);
    const { user, panel } = await openRedrive();
    await user.click(within(panel).getByRole("button", { name: "Preview" }));
    await user.click(await within(panel).findByRole("button", { name: "Redrive 600" }));

    await waitFor(() => expect(dlq.waiting()).toBe(1));
    expect(within(panel).getByRole("button", { name: "Redriving…" })).toHaveProperty("disabled", true);
    expect(within(panel).getByRole("button", { name: "Preview" })).toHaveProperty("disabled", true);
    expect(within(panel).getByLabelText("Task")).toHaveProperty("disabled", true);
    const bar = within(panel).getByRole("progressbar", { name: "Redrive progress" });
    expect(bar.getAttribute("aria-valuenow")).toBe("0");

    act(() => dlq.release());
    await waitFor(() => expect(bar.getAttribute("aria-valuetext")).toBe("42%, 250 of 600 redriven"));
    await waitFor(() => expect(dlq.waiting()).toBe(1));
    act(() => dlq.release());
    await waitFor(() => expect(bar.getAttribute("aria-valuetext")).toBe("83%, 500 of 600 redriven"));
    await waitFor(() => expect(dlq.waiting()).toBe(1));
    act(() => dlq.release());

    const message = await screen.findByTestId("redrive-message");
    await waitFor(() => expect(message.textContent).toContain("Redrove 600 jobs"));
    expect(bar.getAttribute("aria-valuetext")).toBe("100%, 600 of 600 redriven");
    const bodies = redriveCalls().map((request) => request.body as RedriveRequestWire);
    expect(bodies).toEqual([{ dry_run: true }, { limit: 250 }, { limit: 250 }, { limit: 250 }]);
    // Done: a new preview is needed before another run.
    expect(within(panel).getByRole("button", { name: "Redrive" })).toHaveProperty("disabled", true);
    expect(within(panel).getByRole("button", { name: "Preview" })).toHaveProperty("disabled", false);
  });

  it("goes on while another list is shown, and shows its filter and bar on the way back", async () => {
    const dlq = serveDlq(300, true);
    const { user, panel } = await openRedrive();
    await user.type(within(panel).getByLabelText("Task"), "text");
    await user.click(within(panel).getByRole("button", { name: "Preview" }));
    await user.click(await within(panel).findByRole("button", { name: "Redrive 300" }));
    await waitFor(() => expect(dlq.waiting()).toBe(1));

    act(() => {
      window.location.hash = "#/pending";
    });
    await screen.findByTestId("list-pending");
    expect(screen.queryByTestId("redrive")).toBeNull();
    act(() => dlq.release());
    await waitFor(() => expect(dlq.waiting()).toBe(1)); // the second call: it went on

    act(() => {
      window.location.hash = "#/dlq";
    });
    const back = await screen.findByTestId("redrive");
    expect(back.hasAttribute("open")).toBe(true);
    expect(within(back).getByLabelText("Task")).toHaveProperty("value", "text");
    expect(within(back).getByRole("progressbar", { name: "Redrive progress" }).getAttribute("aria-valuetext")).toBe(
      "83%, 250 of 300 redriven",
    );
    act(() => dlq.release());
    await waitFor(() => expect(screen.getByTestId("redrive-message").textContent).toContain("Redrove 300 jobs"));
    expect(redriveCalls().map((request) => request.body)).toEqual([
      { task: "text", dry_run: true },
      { task: "text", limit: 250 },
      { task: "text", limit: 250 },
    ]);
  });

  it("passes the rate on, and stops between calls when asked", async () => {
    const dlq = serveDlq(100, true);
    const { user, panel } = await openRedrive();
    await user.type(within(panel).getByLabelText("Rate (jobs/s)"), "5");
    await user.click(within(panel).getByRole("button", { name: "Preview" }));
    await user.click(await within(panel).findByRole("button", { name: "Redrive 100" }));
    await waitFor(() => expect(dlq.waiting()).toBe(1));
    expect(redriveCalls().at(-1)?.body).toEqual({ limit: 10, rate_per_sec: 5 });

    await user.click(within(panel).getByRole("button", { name: "Stop" }));
    expect(within(panel).getByRole("button", { name: "Stopping…" })).toHaveProperty("disabled", true);
    act(() => dlq.release());
    const message = await screen.findByTestId("redrive-message");
    expect(message.textContent).toBe("Stopped after 10 jobs of 100.");
    expect(redriveCalls()).toHaveLength(2); // the preview and one call
  });

  it("says why a field is wrong instead of sending it", async () => {
    serveDlq(1);
    const { user, panel } = await openRedrive();
    await user.type(within(panel).getByLabelText("Rate (jobs/s)"), "-2");
    await user.click(within(panel).getByRole("button", { name: "Preview" }));
    expect(within(panel).getByRole("alert").textContent).toBe("The rate is a number of jobs a second, from 0.1 to 10,000.");
    expect(within(panel).getByLabelText("Rate (jobs/s)").getAttribute("aria-invalid")).toBe("true");
    expect(redriveCalls()).toHaveLength(0);
  });

  it("shows the API's message when a call fails, with how many were redriven before", async () => {
    let calls = 0;
    harness.api.on("POST", /^\/dlq\/redrive$/, (request) => {
      if ((request.body as RedriveRequestWire).dry_run) return json(buildRedriveAnswerWire({ matched: 300, remaining: 300 }));
      calls += 1;
      return calls === 1
        ? json(buildRedriveAnswerWire({ matched: 300, redriven: 250, remaining: 50 }))
        : apiError(503, "unavailable", "the store is unavailable");
    });
    const { user, panel } = await openRedrive();
    await user.click(within(panel).getByRole("button", { name: "Preview" }));
    await user.click(await within(panel).findByRole("button", { name: "Redrive 300" }));
    const message = await screen.findByTestId("redrive-message");
    await waitFor(() =>
      expect(message.textContent).toBe("Redrive stopped after 250 jobs: the store is unavailable"),
    );
    expect(message.getAttribute("role")).toBe("alert");
    expect(within(panel).getByRole("button", { name: "Preview" })).toHaveProperty("disabled", false);
  });

  it("ends when only jobs the API cannot redrive are left, saying why", async () => {
    const skipped = [{ id: "big", reason: "the payload is over 64 KiB" }];
    harness.api.on("POST", /^\/dlq\/redrive$/, (request) =>
      json(
        (request.body as RedriveRequestWire).dry_run
          ? buildRedriveAnswerWire({ matched: 3, remaining: 3, dry_run: true })
          : redriveCalls().length === 2
            ? buildRedriveAnswerWire({ matched: 3, redriven: 2, remaining: 1, skipped })
            : buildRedriveAnswerWire({ matched: 1, redriven: 0, remaining: 1, skipped }),
      ),
    );
    const { user, panel } = await openRedrive();
    await user.click(within(panel).getByRole("button", { name: "Preview" }));
    await user.click(await within(panel).findByRole("button", { name: "Redrive 3" }));
    const message = await screen.findByTestId("redrive-message");
    expect(message.textContent).toBe(
      "Redrove 2 jobs; 1 job could not be redriven and stays in the dead letter queue (the payload is over 64 KiB): " +
        "retry each one alone to see its error.",
    );
    expect(redriveCalls()).toHaveLength(3);
  });
});

describe("what is kept", () => {
  it("is said in the footer and under the finished lists, from GET /retention", async () => {
    harness.retention = buildRetentionWire({
      enabled: true,
      days: { done: 7, failed: 30, cancelled: null },
      last_run_at: new Date(Date.now() - 5 * 60_000).toISOString(),
      pruned_jobs_total: 1234,
    });
    window.location.hash = "#/dlq";
    renderApp(harness);
    await goLive(harness);
    const summary = await screen.findByTestId("retention");
    expect(summary.textContent).toBe(
      "Finished jobs kept: done 7 days, failed 30 days, cancelled forever (last pruned 5 min ago; 1,234 deleted in all)",
    );
    expect(screen.getByTestId("retention-note").textContent).toBe(
      "Failed jobs are kept 30 days after they finish, then deleted with their events.",
    );

    act(() => {
      window.location.hash = "#/cancelled";
    });
    await screen.findByTestId("list-cancelled");
    expect(screen.getByTestId("retention-note").textContent).toBe("Cancelled jobs are kept forever.");
    act(() => {
      window.location.hash = "#/pending";
    });
    await screen.findByTestId("list-pending");
    expect(screen.queryByTestId("retention-note")).toBeNull();
  });

  it("says finished jobs are kept forever while retention is off, and nothing on an API without it", async () => {
    window.location.hash = "#/done";
    const { unmount } = renderApp(harness);
    await goLive(harness);
    expect((await screen.findByTestId("retention")).textContent).toBe("Finished jobs kept forever");
    expect(screen.getByTestId("retention-note").textContent).toBe("Done jobs are kept forever.");
    unmount();

    harness.api.on("GET", /^\/retention$/, () => apiError(404, "not_found", "Not Found"));
    renderApp(harness);
    await goLive(harness);
    await screen.findByTestId("list-done");
    await waitFor(() => expect(harness.api.calls("GET", /^\/retention$/).length).toBeGreaterThanOrEqual(2));
    expect(screen.queryByTestId("retention")).toBeNull();
    expect(screen.queryByTestId("retention-note")).toBeNull();
    expect(screen.getByTestId("problem").textContent).toBe(""); // no banner for it
  });
});
