// Bulk actions on a list: rows picked (a row, the page), "Retry selected / all matching" and
// "Cancel selected / all matching", each previewed by a dry run and confirmed, then run call
// after call with a bar and a Stop.

import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { CancelAnswerWire, CancelRequestWire } from "./services/bulk";
import type { RedriveRequestWire } from "./services/redrive";
import { json } from "./test/fakeApi";
import { buildJobWire, buildListWire } from "./test/factories/job";
import { buildRedriveAnswerWire } from "./test/factories/schedule";
import { goLive, type Harness, renderApp, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const AS_OF = "2026-01-02T10:00:00.123456+00:00";
const bulkBar = () => screen.getByTestId("bulk-bar");
const redriveCalls = () => harness.api.calls("POST", /^\/dlq\/redrive$/).map((call) => call.body as RedriveRequestWire);
const cancelCalls = () => harness.api.calls("POST", /^\/jobs\/cancel$/).map((call) => call.body as CancelRequestWire);

/** `left` matching failed jobs; each real call waits for `release()` when `gated`. */
function serveRedrive(left: number, gated = false) {
  const waiting: (() => void)[] = [];
  harness.api.on("POST", /^\/dlq\/redrive$/, async (request) => {
    const body = request.body as RedriveRequestWire;
    const matching = body.ids ? Math.min(left, body.ids.length) : left;
    if (body.dry_run) return json(buildRedriveAnswerWire({ matched: matching, remaining: matching, dry_run: true, as_of: AS_OF }));
    if (gated) await new Promise<void>((resolve) => waiting.push(resolve));
    const redriven = Math.min(matching, body.limit ?? 1000);
    left -= redriven;
    return json(buildRedriveAnswerWire({ matched: matching, redriven, remaining: matching - redriven, as_of: AS_OF }));
  });
  return {
    release: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
    waiting: () => waiting.length,
  };
}

async function findRow(id: string): Promise<HTMLElement> {
  return waitFor(() => {
    const row = document.querySelector<HTMLElement>(`tr[data-job-id="${id}"]`);
    if (row === null) throw new Error(`no row for job ${id}`);
    return row;
  });
}

describe("bulk retry", () => {
  it("retries the rows picked: a preview of their count, a confirm, then the ids sent", async () => {
    const failed = [0, 1, 2].map(() => buildJobWire({ status: "failed", last_error: "boom" }));
    const retried = buildJobWire({ status: "failed", retried_by: "someone" });
    harness.lists.failed = [...failed, retried];
    serveRedrive(3);
    window.location.hash = "#/dlq";
    const { user } = renderApp(harness);
    await goLive(harness);
    const first = await findRow(failed[0]?.id ?? "");
    // A job retried already cannot be picked again.
    expect(within(await findRow(retried.id)).queryByRole("checkbox")).toBeNull();
    await user.click(within(first).getByRole("checkbox"));
    await user.click(within(await findRow(failed[1]?.id ?? "")).getByRole("checkbox"));
    expect(within(bulkBar()).getByTestId("bulk-selected").textContent).toBe("2 jobs selected");

    await user.click(within(bulkBar()).getByRole("button", { name: "Retry selected" }));
    const preview = await within(bulkBar()).findByTestId("bulk-preview");
    await waitFor(() => expect(preview.textContent).toBe("2 jobs match — Retry 2?"));
    expect(redriveCalls()).toEqual([{ ids: [failed[0]?.id, failed[1]?.id], dry_run: true }]);

    await user.click(within(bulkBar()).getByRole("button", { name: "Retry 2 jobs" }));
    await waitFor(() => expect(within(bulkBar()).getByTestId("bulk-message").textContent).toContain("Retried 2 jobs"));
    expect(redriveCalls()[1]).toEqual({ ids: [failed[0]?.id, failed[1]?.id], limit: 250 });
    const bar = within(bulkBar()).getByRole("progressbar", { name: "Bulk progress" });
    expect(bar.getAttribute("aria-valuetext")).toBe("100%, 2 of 2 retried");
    // Done: the selection is cleared.
    expect(within(bulkBar()).getByTestId("bulk-selected").textContent).toBe("No rows selected");
  });

  it("picks a whole page at once, and Back drops the preview without changing anything", async () => {
    harness.lists.failed = [0, 1, 2, 3].map(() => buildJobWire({ status: "failed" }));
    serveRedrive(4);
    window.location.hash = "#/failed";
    const { user } = renderApp(harness);
    await goLive(harness);
    await findRow(harness.lists.failed[3]?.id ?? "");
    await user.click(screen.getByRole("checkbox", { name: "Select page" }));
    expect(within(bulkBar()).getByTestId("bulk-selected").textContent).toBe("4 jobs selected");
    await user.click(within(bulkBar()).getByRole("button", { name: "Retry selected" }));
    await user.click(await within(bulkBar()).findByRole("button", { name: "Back" }));
    expect(within(bulkBar()).queryByTestId("bulk-preview")).toBeNull();
    expect(redriveCalls()).toHaveLength(1); // the dry run only
    await user.click(screen.getByRole("checkbox", { name: "Select page" }));
    expect(within(bulkBar()).getByTestId("bulk-selected").textContent).toBe("No rows selected");
  });

  it("retries all matching the search call after call, with a bar, and stops when asked", async () => {
    const dlq = serveRedrive(600, true);
    window.location.hash = "#/dlq?task=send_email&error=timeout&finished_after=2026-01-01T00%3A00%3A00Z";
    const { user } = renderApp(harness);
    await goLive(harness);
    await user.type(within(bulkBar()).getByLabelText("Rate (jobs/s)"), "100");
    await user.click(within(bulkBar()).getByRole("button", { name: "Retry all matching" }));
    await waitFor(() => expect(within(bulkBar()).getByTestId("bulk-preview").textContent).toBe("600 jobs match — Retry 600?"));
    expect(redriveCalls()[0]).toEqual({
      task: "send_email",
      error: "timeout",
      failed_after: "2026-01-01T00:00:00Z",
      dry_run: true,
    });

    await user.click(within(bulkBar()).getByRole("button", { name: "Retry 600 jobs" }));
    await waitFor(() => expect(dlq.waiting()).toBe(1));
    const bar = within(bulkBar()).getByRole("progressbar", { name: "Bulk progress" });
    expect(bar.getAttribute("aria-valuetext")).toBe("0%, 0 of 600 retried");
    expect(within(bulkBar()).getByRole("button", { name: "Retry all matching" })).toHaveProperty("disabled", true);
    act(() => dlq.release());
    await waitFor(() => expect(bar.getAttribute("aria-valuetext")).toBe("33%, 200 of 600 retried"));
    await waitFor(() => expect(dlq.waiting()).toBe(1));
    await user.click(within(bulkBar()).getByRole("button", { name: "Stop" }));
    expect(within(bulkBar()).getByRole("button", { name: "Stopping…" })).toHaveProperty("disabled", true);
    act(() => dlq.release());
    await waitFor(() =>
      expect(within(bulkBar()).getByTestId("bulk-message").textContent).toContain("Stopped after 400 jobs of 600 retried"),
    );
    // 2 s of jobs a call at the rate; from the second call on, held to the first answer's as_of.
    const body = { task: "send_email", error: "timeout", failed_after: "2026-01-01T00:00:00Z", limit: 200, rate_per_sec: 100 };
    expect(redriveCalls().slice(1)).toEqual([body, { ...body, failed_before: AS_OF }]);
  });

  it("cannot retry all matching a filter the redrive does not know, and says why", async () => {
    window.location.hash = "#/dlq?id_prefix=0193";
    renderApp(harness);
    await goLive(harness);
    const button = within(bulkBar()).getByRole("button", { name: "Retry all matching" });
    expect(button).toHaveProperty("disabled", true);
    expect(button.getAttribute("title")).toMatch(/job id prefix: select the rows instead/);
  });
});

describe("bulk cancel", () => {
  function serveCancel(left: number) {
    harness.api.on("POST", /^\/jobs\/cancel$/, (request) => {
      const body = request.body as CancelRequestWire;
      const matching = body.ids ? body.ids.length : left;
      const answer: CancelAnswerWire = {
        matched: matching,
        cancelled: 0,
        cancel_requested: 0,
        dry_run: body.dry_run === true,
        remaining: matching,
        as_of: AS_OF,
      };
      if (body.dry_run) return json(answer);
      const taken = Math.min(matching, body.limit ?? 1000);
      if (!body.ids) left -= taken;
      return json({ ...answer, cancelled: taken - 1, cancel_requested: 1, remaining: matching - taken });
    });
  }

  it("cancels the rows picked on the running list", async () => {
    const running = [0, 1].map(() => buildJobWire({ status: "running" }));
    const stopping = buildJobWire({ status: "running", cancel_requested_at: "2026-01-02T10:00:00Z" });
    harness.lists.running = [...running, stopping];
    serveCancel(2);
    window.location.hash = "#/running";
    const { user } = renderApp(harness);
    await goLive(harness);
    await findRow(running[1]?.id ?? "");
    expect(within(await findRow(stopping.id)).queryByRole("checkbox")).toBeNull(); // asked to stop already
    await user.click(screen.getByRole("checkbox", { name: "Select page" }));
    await user.click(within(bulkBar()).getByRole("button", { name: "Cancel selected" }));
    await waitFor(() => expect(within(bulkBar()).getByTestId("bulk-preview").textContent).toBe("2 jobs match — Cancel 2?"));
    await user.click(within(bulkBar()).getByRole("button", { name: "Cancel 2 jobs" }));
    await waitFor(() =>
      expect(within(bulkBar()).getByTestId("bulk-message").textContent).toBe("Cancelled 1 job; 1 job running was asked to stop. Dismiss"),
    );
    expect(cancelCalls()).toEqual([
      { ids: [running[0]?.id, running[1]?.id], dry_run: true },
      { ids: [running[0]?.id, running[1]?.id], limit: 1000 },
    ]);
  });

  it("cancels all matching with the list's status and filter, bounded by created_before", async () => {
    serveCancel(1500);
    window.location.hash = "#/pending?queue=emails&payload=alice";
    const { user } = renderApp(harness);
    await goLive(harness);
    await user.click(within(bulkBar()).getByRole("button", { name: "Cancel all matching" }));
    await user.click(await within(bulkBar()).findByRole("button", { name: "Cancel 1,500 jobs" }));
    await waitFor(() => expect(within(bulkBar()).getByTestId("bulk-message").textContent).toContain("Cancelled 1,498 jobs"));
    const filter = { queue: "emails", payload: "alice", status: "pending" };
    expect(cancelCalls()).toEqual([
      { ...filter, dry_run: true },
      { ...filter, limit: 1000 },
      { ...filter, limit: 1000, created_before: AS_OF },
    ]);
  });

  it("cannot cancel all matching a finished range (live jobs have not finished)", async () => {
    window.location.hash = "#/all?finished_after=2026-01-01T00%3A00%3A00Z";
    renderApp(harness);
    await goLive(harness);
    const button = within(bulkBar()).getByRole("button", { name: "Cancel all matching" });
    expect(button).toHaveProperty("disabled", true);
    expect(button.getAttribute("title")).toMatch(/cannot filter by a finished time/);
  });

  it("offers nothing on the done list", async () => {
    window.location.hash = "#/done";
    renderApp(harness);
    await goLive(harness);
    await screen.findByTestId("list-done");
    expect(screen.queryByTestId("bulk-bar")).toBeNull();
  });
});

describe("the selection", () => {
  const selectedText = () => within(bulkBar()).getByTestId("bulk-selected").textContent;

  it("is kept while paging through one list, and dropped for another filter, tenant or tab", async () => {
    const [first, second, older] = [0, 1, 2].map(() => buildJobWire({ status: "failed" }));
    if (first === undefined || second === undefined || older === undefined) throw new Error("no jobs");
    // The failed list, whatever its filter, shows the same two jobs, then an older page.
    harness.api.on("GET", /^\/jobs\?.*status=failed/, (request) =>
      new URL(request.path, "http://x").searchParams.get("cursor") === "c1"
        ? json(buildListWire([older]))
        : json(buildListWire([first, second], { next_cursor: "c1" })),
    );
    harness.lists.failed = [first, second];
    window.location.hash = "#/failed";
    const { user } = renderApp(harness);
    await goLive(harness);
    const pick = async (id: string) => user.click(within(await findRow(id)).getByRole("checkbox"));
    await pick(first.id);
    expect(selectedText()).toBe("1 job selected");

    // Another page of the same list: the picks stay.
    await user.click(screen.getByRole("button", { name: "Older page" }));
    await findRow(older.id);
    await pick(older.id);
    expect(selectedText()).toBe("2 jobs selected");
    await user.click(screen.getByRole("button", { name: "Newer page" }));
    expect(within(await findRow(first.id)).getByRole("checkbox")).toHaveProperty("checked", true);
    expect(selectedText()).toBe("2 jobs selected");

    // Another filter: the same rows show, none picked.
    act(() => {
      window.location.hash = "#/failed?task=send_email";
    });
    await waitFor(() => expect(selectedText()).toBe("No rows selected"));
    expect(within(await findRow(first.id)).getByRole("checkbox")).toHaveProperty("checked", false);

    // Another tenant.
    await pick(first.id);
    expect(selectedText()).toBe("1 job selected");
    const tenant = screen.getByTestId("tenant-filter");
    await user.type(within(tenant).getByLabelText("Tenant"), "acme");
    await user.click(within(tenant).getByRole("button", { name: "Show" }));
    await waitFor(() => expect(window.location.hash).toBe("#/failed?tenant=acme&task=send_email"));
    expect(selectedText()).toBe("No rows selected");

    // Another tab, and a preview counted for the list left is dropped with the picks.
    serveRedrive(1);
    await pick(first.id);
    await user.click(within(bulkBar()).getByRole("button", { name: "Retry selected" }));
    await within(bulkBar()).findByRole("button", { name: "Retry 1 job" });
    await user.click(screen.getByRole("tab", { name: /^Dead letter queue/ }));
    await waitFor(() => expect(window.location.hash).toBe("#/dlq?tenant=acme&task=send_email"));
    expect(selectedText()).toBe("No rows selected");
    expect(within(bulkBar()).queryByTestId("bulk-preview")).toBeNull();
    expect(redriveCalls()).toEqual([{ ids: [first.id], dry_run: true }]); // nothing was retried
  });
});
