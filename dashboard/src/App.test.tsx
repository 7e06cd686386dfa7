import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "./App";
import type { DashboardConfig } from "./config";
import type { JobWire } from "./services/jobs";
import { apiError, FakeApi, json } from "./test/fakeApi";
import { FakeSockets } from "./test/fakeSocket";
import { buildJobWire, buildListWire, buildLiveEventWire, buildMetricsWire } from "./test/factories/job";

const CONFIG: DashboardConfig = { apiKeyRequired: false, version: "0.1.0" };

let api: FakeApi;
let sockets: FakeSockets;
let lists: Partial<Record<string, JobWire[]>>;

function baseApi(): FakeApi {
  return new FakeApi()
    .on("GET", /^\/metrics/, () => json(buildMetricsWire({ pending: 1, done: 4, failed: 1, dlq_count: 1, jobs_submitted: 6 })))
    .on("GET", /^\/stats\/throughput/, () => json({ buckets: [] }))
    .on("GET", /^\/workers/, () => json({ workers: [] }))
    .on("GET", /^\/jobs\?/, (request) => {
      const status = new URL(request.path, "http://x").searchParams.get("status") ?? "";
      return json(buildListWire(lists[status] ?? []));
    })
    .on("GET", /^\/dlq\?/, () => json(buildListWire(lists.failed ?? [])));
}

function renderApp(config: DashboardConfig = CONFIG) {
  const user = userEvent.setup();
  const view = render(<App config={config} createSocket={sockets.create} />);
  return { user, ...view };
}

async function goLive(seq = 100) {
  await waitFor(() => expect(sockets.all.length).toBeGreaterThan(0));
  act(() => sockets.last.send({ type: "hello", seq }));
  await screen.findByText("Live");
}

function sendEvents(...events: Parameters<typeof buildLiveEventWire>[0][]) {
  act(() => {
    for (const event of events) sockets.last.send(buildLiveEventWire(event));
  });
}

beforeEach(() => {
  lists = {};
  api = baseApi();
  sockets = new FakeSockets();
  vi.stubGlobal("fetch", api.fetch);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("the dashboard", () => {
  it("shows the counts, the pending list and the Live indicator", async () => {
    lists.pending = [buildJobWire({ payload: { text: "Waiting" } })];
    renderApp();
    await goLive();
    const metrics = screen.getByRole("region", { name: "Queue metrics" });
    await waitFor(() => expect(within(metrics).getByTestId("metric-done").textContent).toBe("4"));
    const panel = screen.getByRole("tabpanel");
    expect(await within(panel).findByText("“Waiting”")).toBeTruthy();
    expect(screen.getByRole("tab", { name: /Pending/ }).getAttribute("aria-selected")).toBe("true");
  });

  it("submits text and follows the job through pending, running and done by events", async () => {
    const created = buildJobWire({ payload: { text: "Hello" } });
    api.on("POST", /^\/jobs$/, () => json(created, 201));
    const { user } = renderApp();
    await goLive(10);
    await user.type(screen.getByLabelText("Text to process"), "Hello");
    await user.click(screen.getByRole("button", { name: "Submit job" }));

    const post = api.calls("POST", /^\/jobs$/)[0];
    expect(post?.body).toEqual({ text: "Hello" });
    expect(post?.headers["Idempotency-Key"]).toBeTruthy();
    const recent = await screen.findByRole("list", { name: "Jobs submitted from this page" });
    const row = () => within(recent).getByText("“Hello”").closest("li") as HTMLElement;
    expect(within(row()).getByText("Pending")).toBeTruthy();

    sendEvents({ seq: 11, jobId: created.id, type: "job_created", status: "pending" });
    sendEvents({ seq: 12, jobId: created.id, type: "job_leased", status: "running", attempt: 1, worker: "w1" });
    await waitFor(() => expect(within(row()).getByText("Running")).toBeTruthy());
    expect(row().className).toContain("is-running");
    sendEvents({ seq: 13, jobId: created.id, type: "job_succeeded", status: "done", attempt: 1 });
    await waitFor(() => expect(within(row()).getByText("Done")).toBeTruthy());
  });

  it("quick-submits SEED.md's demo jobs", async () => {
    api.on("POST", /^\/jobs$/, (request) => json(buildJobWire({ payload: request.body as Record<string, unknown> }), 201));
    const { user } = renderApp();
    await goLive();
    for (const name of ["2 sec", "5 sec", "11 sec", "30 sec (max)", ">30 chars (→ DLQ)", "Fail (→ DLQ)"]) {
      await user.click(screen.getByRole("button", { name }));
    }
    const bodies = api.calls("POST", /^\/jobs$/).map((request) => request.body);
    expect(bodies).toEqual([
      { text: "Hi" },
      { text: "Hello" },
      { text: "Hello world" },
      { text: "The quick brown fox jumps over" },
      { text: "The quick brown fox jumps over the lazy dog" },
      { payload: { fail: true } },
    ]);
    expect((bodies[3] as { text: string }).text).toHaveLength(30);
  });

  it("says when a rate-limited submission may be tried again", async () => {
    api.on("POST", /^\/jobs$/, () =>
      apiError(429, "rate_limited", "rate limit of 10 jobs per minute reached", { retry_after: 12 }, { "Retry-After": "12" }),
    );
    const { user } = renderApp();
    await goLive();
    await user.click(screen.getByRole("button", { name: "5 sec" }));
    const feedback = await screen.findByTestId("submit-feedback");
    await waitFor(() => expect(feedback.textContent).toMatch(/Rate limited: rate limit of 10 jobs per minute reached\. Try again in 1[12] s\./));
  });

  it("asks for the API key, then works once it is entered and keeps it in local storage", async () => {
    api.on("GET", /^\/(metrics|jobs|stats|workers)/, (request) =>
      request.headers["X-API-Key"] === "secret"
        ? json(request.path.startsWith("/metrics") ? buildMetricsWire({ done: 7 }) : request.path.startsWith("/jobs") ? buildListWire([]) : request.path.startsWith("/workers") ? { workers: [] } : { buckets: [] })
        : apiError(401, "unauthorized", "missing or invalid X-API-Key"),
    );
    const { user } = renderApp({ apiKeyRequired: true, version: null });
    await waitFor(() => expect(sockets.all.length).toBe(1));
    act(() => sockets.last.drop(4401));
    const problem = screen.getByTestId("problem");
    await waitFor(() => expect(problem.textContent).toContain("This server requires an API key."));
    expect(screen.getByTestId("live-indicator").textContent).toContain("API key needed");

    await user.click(within(problem).getByRole("button", { name: "Enter API key" }));
    const field = screen.getByLabelText(/^API key/, { selector: "input" });
    expect(document.activeElement).toBe(field);
    await user.type(field, "secret");
    await user.click(screen.getByRole("button", { name: "Save" }));

    await waitFor(() => expect(sockets.all.length).toBe(2));
    expect(new URL(sockets.last.url).searchParams.get("api_key")).toBe("secret");
    act(() => sockets.last.send({ type: "hello", seq: 1 }));
    await waitFor(() => expect(screen.getByTestId("metric-done").textContent).toBe("7"));
    expect(problem.textContent).toBe("");
    expect(window.localStorage.getItem("conveyor.apiKey")).toBe("secret");
  });

  it("retries a DLQ job and links the new job", async () => {
    const failed = buildJobWire({ status: "failed", last_error: "Simulated failure for testing", attempts: 4, payload: { fail: true } });
    const retried = buildJobWire({ retry_of: failed.id, payload: { fail: true } });
    lists.failed = [failed];
    api.on("POST", /\/retry$/, () => json(retried, 201));
    window.location.hash = "#/dlq";
    const { user } = renderApp();
    await goLive();
    const panel = screen.getByRole("tabpanel");
    expect(await within(panel).findByText("Simulated failure for testing")).toBeTruthy();
    await user.click(within(panel).getByRole("button", { name: /^Retry job/ }));
    expect(api.calls("POST", /\/retry$/)[0]?.path).toBe(`/jobs/${failed.id}/retry`);
    const link = await within(panel).findByRole("link", { name: /Retried as/ });
    expect(link.getAttribute("href")).toBe(`#/jobs/${retried.id}`);
    expect(screen.getByRole("link", { name: "View the new job" }).getAttribute("href")).toBe(`#/jobs/${retried.id}`);
  });

  it("shows a job's detail: payload, trace id, timeline and the job it retried", async () => {
    const original = "01920000-0000-7000-8000-0000000000aa";
    const job = buildJobWire({
      status: "done",
      retry_of: original,
      result: { length: 5 },
      events: [
        { seq: 1, type: "job_created", status: "pending", at: "2026-01-02T10:00:00Z", attempt: 0, worker: null, error: null, data: { retry_of: original } },
        { seq: 2, type: "job_leased", status: "running", at: "2026-01-02T10:00:01Z", attempt: 1, worker: "w1", error: null, data: {} },
      ],
    });
    api.on("GET", new RegExp(`^/jobs/${job.id}\\?history=true$`), () => json(job));
    window.location.hash = `#/jobs/${job.id}`;
    renderApp();
    await goLive(2);
    const heading = await screen.findByRole("heading", { name: /^Job / });
    await waitFor(() => expect(document.activeElement).toBe(heading));
    expect(await screen.findByText(job.trace_id ?? "")).toBeTruthy();
    expect(within(screen.getByTestId("retry-of")).getByRole("link").getAttribute("href")).toBe(`#/jobs/${original}`);
    const timeline = screen.getByRole("list", { name: /Event timeline/ });
    expect(within(timeline).getAllByRole("listitem")).toHaveLength(2);

    sendEvents({ seq: 3, jobId: job.id, type: "job_succeeded", status: "done", attempt: 1 });
    await waitFor(() => expect(within(timeline).getAllByRole("listitem")).toHaveLength(3));
  });

  it("goes offline when the socket drops, polls meanwhile, and catches up from the last seq", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      renderApp();
      await goLive(50);
      sendEvents({ seq: 51, type: "job_created", status: "pending" });
      act(() => sockets.last.drop(1006));
      await screen.findByText("Offline");
      const before = api.calls("GET", /^\/metrics/).length;
      await act(async () => {
        await vi.advanceTimersByTimeAsync(2100);
      });
      expect(api.calls("GET", /^\/metrics/).length).toBeGreaterThan(before);
      await waitFor(() => expect(sockets.all.length).toBe(2));
      expect(sockets.last.since).toBe("51");
      act(() => sockets.last.send({ type: "hello", seq: 60 }));
      await screen.findByText("Live");
      const polled = api.calls("GET", /^\/metrics/).length;
      await act(async () => {
        await vi.advanceTimersByTimeAsync(6000);
      });
      expect(api.calls("GET", /^\/metrics/).length).toBeLessThanOrEqual(polled + 1); // no polling while live
    } finally {
      vi.useRealTimers();
    }
  });

  it("says so when the API cannot be reached", async () => {
    api.down = true;
    renderApp();
    await waitFor(() => expect(screen.getByTestId("problem").textContent).toContain("Cannot reach the API."));
    expect(await screen.findByText(/Could not load pending jobs/)).toBeTruthy();
  });

  it("stays calm under an event storm: one render per batch, a refetch at most every second", async () => {
    lists.running = Array.from({ length: 20 }, () => buildJobWire({ status: "running" }));
    window.location.hash = "#/running";
    renderApp();
    await goLive(0);
    await screen.findAllByText("Running", { selector: ".badge" });
    await act(() => new Promise((resolve) => setTimeout(resolve, 1100))); // let the first-connect refetch pass
    const listCalls = () => api.calls("GET", /^\/jobs\?.*status=running/).length;
    const before = listCalls();
    act(() => {
      for (let seq = 1; seq <= 5000; seq += 1) {
        sockets.last.send(buildLiveEventWire({ seq, type: "job_leased", status: "running" }));
      }
    });
    await act(() => new Promise((resolve) => setTimeout(resolve, 1500)));
    expect(listCalls() - before).toBeLessThanOrEqual(2);
    expect(api.calls("GET", /^\/metrics/).length).toBeLessThan(10);
  });

  it("moves between lists with the arrow keys", async () => {
    const { user } = renderApp();
    await goLive();
    screen.getByRole("tab", { name: /Pending/ }).focus();
    await user.keyboard("{ArrowRight}");
    await waitFor(() => expect(window.location.hash).toBe("#/running"));
    expect(document.activeElement).toBe(screen.getByRole("tab", { name: /Running/ }));
    await user.keyboard("{End}");
    await waitFor(() => expect(window.location.hash).toBe("#/all"));
    expect(screen.getByRole("tab", { name: /^All/ }).getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{ArrowLeft}");
    await waitFor(() => expect(window.location.hash).toBe("#/dlq"));
    expect(screen.getByRole("tab", { name: /Dead letter queue/ }).getAttribute("aria-selected")).toBe("true");
  });
});
