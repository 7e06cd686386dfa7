// Searching the lists: the filter bar (debounced, in the address, reopened from a copied
// address), keyset paging (Older, Newer, the totals), and live events on a search (rows shown
// move; "may match — refresh" instead of a refetch per event).

import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FILTER_DEBOUNCE_MS } from "./components/FilterBar";
import { rfc3339FromLocal } from "./services/jobs";
import { localFromRfc3339 } from "./services/search";
import { json } from "./test/fakeApi";
import { buildJobWire, buildListWire, buildMetricsWire, jobId } from "./test/factories/job";
import { goLive, type Harness, renderApp, sendEvents, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const listCalls = () => harness.api.calls("GET", /^\/(jobs|dlq)\?/);
const paramsOf = (path: string | undefined) => new URL(path ?? "/", "http://x").searchParams;
const bar = () => screen.getByTestId("filter-bar");
const rowIds = () =>
  Array.from(screen.getByRole("tabpanel").querySelectorAll<HTMLElement>("tr[data-job-id]"), (row) => row.dataset.jobId);

describe("the filter bar", () => {
  it("searches once typing pauses, not per key, and puts the filter in the address", async () => {
    const match = buildJobWire({ status: "failed", task: "send_email", last_error: "timeout after 30 s" });
    harness.api.on("GET", /^\/jobs\?.*task=send_email/, () => json(buildListWire([match])));
    window.location.hash = "#/failed";
    const { user } = renderApp(harness);
    await goLive(harness);
    await screen.findByTestId("list-failed");
    const before = listCalls().length;

    await user.type(within(bar()).getByLabelText("Task"), "send_email");
    await user.type(within(bar()).getByLabelText("Error contains"), "timeout");
    await waitFor(() => expect(window.location.hash).toBe("#/failed?task=send_email&error=timeout"));
    await screen.findByText("timeout after 30 s");
    await act(() => new Promise((resolve) => setTimeout(resolve, FILTER_DEBOUNCE_MS + 100)));

    const searches = listCalls().slice(before);
    // 17 keys typed; at most a request per pause (the fields are typed one after the other).
    expect(searches.length).toBeLessThanOrEqual(2);
    const last = paramsOf(searches.at(-1)?.path);
    expect(last.get("status")).toBe("failed");
    expect(last.get("task")).toBe("send_email");
    expect(last.get("error")).toBe("timeout");
    expect(last.get("cursor")).toBeNull();
    // The counts on the tabs are of every job: none beside a search.
    expect(within(screen.getByRole("tab", { name: /^Failed/ })).queryByText(/\d/)).toBeNull();
  });

  it("reopens a copied address as the same search: its fields filled, the same request", async () => {
    const after = rfc3339FromLocal("2026-01-02T10:30:00") ?? "";
    window.location.hash =
      `#/all?queue=emails&trace_id=4bf92f35&id_prefix=0193a4&payload=alice%40example.com` +
      `&created_after=${encodeURIComponent(after)}`;
    renderApp(harness);
    await goLive(harness);
    await waitFor(() => expect(listCalls().length).toBeGreaterThan(0));
    const sent = paramsOf(listCalls().at(-1)?.path);
    expect(Object.fromEntries(sent)).toEqual({
      limit: "20",
      queue: "emails",
      trace_id: "4bf92f35",
      id_prefix: "0193a4",
      payload: "alice@example.com",
      created_after: after,
    });
    expect(within(bar()).getByLabelText("Queue")).toHaveProperty("value", "emails");
    expect(within(bar()).getByLabelText("Payload contains")).toHaveProperty("value", "alice@example.com");
    // The field shows the moment on this browser's clock (the input drops ":00" seconds).
    expect(within(bar()).getByLabelText<HTMLInputElement>("Created after").value).toBe(
      localFromRfc3339(after).replace(/:00$/, ""),
    );
    expect(screen.getByRole("tab", { name: /^All/ }).getAttribute("aria-selected")).toBe("true");
    await screen.findByText("No job matches this search");
  });

  it("keeps the search across tabs, says why a field is wrong, and clears", async () => {
    window.location.hash = "#/pending?task=x";
    const { user } = renderApp(harness);
    await goLive(harness);
    await user.click(screen.getByRole("tab", { name: /^Running/ }));
    await waitFor(() => expect(window.location.hash).toBe("#/running?task=x"));

    await user.type(within(bar()).getByLabelText("Job id starts with"), "zz");
    await user.keyboard("{Enter}");
    expect((await screen.findByText(/A job id prefix is hex digits/)).textContent).toContain("Job id starts with");
    expect(window.location.hash).toBe("#/running?task=x");

    await user.click(within(bar()).getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(window.location.hash).toBe("#/running"));
    expect(within(bar()).getByLabelText("Task")).toHaveProperty("value", "");
  });

  it("applies typing that was still waiting to the tab chosen meanwhile, not the one typed on", async () => {
    window.location.hash = "#/failed";
    const { user } = renderApp(harness);
    await goLive(harness);
    await screen.findByTestId("list-failed");

    // The pause has not ended when the tab changes: the search lands on the new tab (the tab
    // alone leaves the filter empty, so this address is the waiting search arriving).
    await user.type(within(bar()).getByLabelText("Payload contains"), "fine");
    await user.click(screen.getByRole("tab", { name: /^All/ }));
    await waitFor(() => expect(window.location.hash).toBe("#/all?payload=fine"));
    expect(screen.getByRole("tab", { name: /^All/ }).getAttribute("aria-selected")).toBe("true");
  });
});

/** Pages of a long list by cursor, newest first: `pages[i]` has `next_cursor` `c{i+1}`. */
function servePages(status: string, sizes: number[], total = 10_000, exact = false) {
  let n = 10_000_000;
  const pages = sizes.map((size) => Array.from({ length: size }, () => buildJobWire({ id: jobId(n--), status: status as never })));
  harness.api.on("GET", new RegExp(`^/jobs\\?.*status=${status}`), (request) => {
    const cursor = paramsOf(request.path).get("cursor");
    const index = cursor === null ? 0 : Number(cursor.slice(1));
    const jobs = pages[index] ?? [];
    return json(
      buildListWire(jobs, { total, total_exact: exact, next_cursor: index + 1 < pages.length ? `c${index + 1}` : null }),
    );
  });
  return pages;
}

describe("keyset paging", () => {
  it("goes older by next_cursor and back newer by the stack of cursors, with 10,000+ as the total", async () => {
    const pages = servePages("done", [20, 20, 5]);
    window.location.hash = "#/done";
    const { user } = renderApp(harness);
    await goLive(harness);
    const range = () => screen.getByTestId("list-range");
    const newer = () => screen.getByRole("button", { name: "Newer page" });
    const older = () => screen.getByRole("button", { name: "Older page" });
    await waitFor(() => expect(range().textContent).toBe("1–20 of 10,000+"));
    expect(range().getAttribute("title")).toMatch(/At least 10,000 jobs match/);
    expect(newer()).toHaveProperty("disabled", true);

    await user.click(older());
    await waitFor(() => expect(range().textContent).toBe("21–40 of 10,000+"));
    expect(paramsOf(listCalls().at(-1)?.path).get("cursor")).toBe("c1");
    expect(rowIds()).toEqual(pages[1]?.map((job) => job.id));
    await user.click(older());
    await waitFor(() => expect(range().textContent).toBe("41–45 of 10,000+"));
    expect(older()).toHaveProperty("disabled", true);
    expect(screen.getByText("Page 3")).toBeTruthy();

    await user.click(newer());
    await waitFor(() => expect(range().textContent).toBe("21–40 of 10,000+"));
    expect(paramsOf(listCalls().at(-1)?.path).get("cursor")).toBe("c1");
    await user.click(newer());
    await waitFor(() => expect(range().textContent).toBe("1–20 of 10,000+"));
    expect(paramsOf(listCalls().at(-1)?.path).get("cursor")).toBeNull();
    expect(rowIds()).toEqual(pages[0]?.map((job) => job.id));
    // The address holds the list, not the page.
    expect(window.location.hash).toBe("#/done");
  });

  it("shows an exact total as it is", async () => {
    servePages("pending", [20, 3], 23, true);
    renderApp(harness);
    await goLive(harness);
    await waitFor(() => expect(screen.getByTestId("list-range").textContent).toBe("1–20 of 23"));
  });

  it("does not shift an older page while new jobs arrive, and another list starts at page 1", async () => {
    const pages = servePages("pending", [20, 20]);
    const { user } = renderApp(harness);
    await goLive(harness, 10);
    await user.click(await screen.findByRole("button", { name: "Older page" }));
    await waitFor(() => expect(screen.getByTestId("list-range").textContent).toBe("21–40 of 10,000+"));
    await act(() => new Promise((resolve) => setTimeout(resolve, 1100))); // past the refetch throttle
    const before = listCalls().length;
    // New jobs are newer than every row of page 2: they land on page 1, not here.
    sendEvents(
      harness,
      ...Array.from({ length: 50 }, (_, i) => ({ seq: 11 + i, jobId: jobId(20_000_000 + i), type: "job_created", status: "pending" as const })),
    );
    await act(() => new Promise((resolve) => setTimeout(resolve, 400)));
    expect(listCalls().length).toBe(before);
    expect(rowIds()).toEqual(pages[1]?.map((job) => job.id));

    await user.click(screen.getByRole("tab", { name: /^Running/ }));
    await waitFor(() => expect(paramsOf(listCalls().at(-1)?.path).get("status")).toBe("running"));
    expect(paramsOf(listCalls().at(-1)?.path).get("cursor")).toBeNull();
  });
});

describe("live events on a search", () => {
  it("moves the rows shown, and offers a refresh instead of refetching per event", async () => {
    const shown = buildJobWire({ status: "pending", task: "send_email" });
    harness.metrics = buildMetricsWire({ pending: 1 });
    harness.api.on("GET", /^\/jobs\?.*task=send_email/, () => json(buildListWire([shown])));
    window.location.hash = "#/all?task=send_email";
    const { user } = renderApp(harness);
    await goLive(harness, 10);
    const row = await waitFor(() => {
      const found = document.querySelector<HTMLElement>(`tr[data-job-id="${shown.id}"]`);
      if (found === null) throw new Error("no row yet");
      return found;
    });
    await act(() => new Promise((resolve) => setTimeout(resolve, 1100)));
    const before = listCalls().length;

    sendEvents(
      harness,
      { seq: 11, jobId: shown.id, type: "job_leased", status: "running", attempt: 1, task: "send_email" },
      ...Array.from({ length: 200 }, (_, i) => ({ seq: 12 + i, type: "job_created", status: "pending" as const })),
    );
    await waitFor(() => expect(row.dataset.status).toBe("running"));
    const notice = await screen.findByTestId("list-outdated");
    expect(notice.textContent).toContain("new or changed jobs may match");
    await act(() => new Promise((resolve) => setTimeout(resolve, 1200)));
    expect(listCalls().length).toBe(before); // no refetch of the search

    await user.click(within(notice).getByRole("button", { name: "Refresh" }));
    await waitFor(() => expect(listCalls().length).toBe(before + 1));
    await waitFor(() => expect(screen.queryByTestId("list-outdated")).toBeNull());
  });
});
