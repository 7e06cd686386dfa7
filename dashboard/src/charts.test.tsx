// The Charts view: queue depth and oldest pending age per queue, wait and run percentiles,
// failures by task, from the samples the API stored; a window of 1, 6 or 24 hours; empty states.

import { render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { ChartsData } from "./app/useCharts";
import { FailuresChart, formatSeconds, type LineChartProps, niceTop } from "./components/Charts";
import { ChartsPanel } from "./components/ChartsPanel";
import type { ResourceState } from "./data/resource";
import { fillMinutes } from "./live/apply";
import {
  failuresByTask,
  failuresFromWire,
  type FailuresWire,
  latencyFromWire,
  type LatencyWire,
  percentileSeries,
  queueSamplesFromWire,
  type QueueSamplesWire,
  seriesByQueue,
} from "./services/charts";
import { json } from "./test/fakeApi";
import { goLive, type Harness, renderApp, sendEvents, startHarness } from "./test/harness";

// What the charts compute and draw, counted: each function passes through to the real one, and
// the line chart drawn is the real, memoized one.
const drawn = vi.hoisted(() => ({ lineCharts: 0 }));
vi.mock(import("./services/charts"), async (importOriginal) => {
  const actual = await importOriginal();
  return {
    ...actual,
    seriesByQueue: vi.fn(actual.seriesByQueue),
    percentileSeries: vi.fn(actual.percentileSeries),
    failuresByTask: vi.fn(actual.failuresByTask),
  };
});
vi.mock(import("./components/Charts"), async (importOriginal) => {
  const actual = await importOriginal();
  const { createElement } = await import("react");
  // Rendered each time the panel renders (it is not memoized itself): counts the panel's renders.
  const CountedLineChart = (props: LineChartProps) => {
    drawn.lineCharts += 1;
    return createElement(actual.LineChart, props);
  };
  return {
    ...actual,
    // Called by each line chart of seconds as it renders.
    formatSeconds: vi.fn(actual.formatSeconds),
    LineChart: CountedLineChart as unknown as typeof actual.LineChart,
  };
});
vi.mock(import("./live/apply"), async (importOriginal) => {
  const actual = await importOriginal();
  return { ...actual, fillMinutes: vi.fn(actual.fillMinutes) };
});

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function minutesAgo(n: number): string {
  return new Date(Math.floor(Date.now() / 60_000) * 60_000 - n * 60_000).toISOString();
}

const QUEUES: QueueSamplesWire = {
  samples: [
    { minute: minutesAgo(2), queue: "default", pending: 40, running: 4, oldest_pending_age_sec: 90 },
    { minute: minutesAgo(2), queue: "emails", pending: 3, running: 1, oldest_pending_age_sec: null },
    { minute: minutesAgo(1), queue: "default", pending: 12, running: 4, oldest_pending_age_sec: 4.2 },
    { minute: minutesAgo(1), queue: "emails", pending: 0, running: 0, oldest_pending_age_sec: null },
  ],
};
const LATENCY: LatencyWire = {
  buckets: [
    { minute: minutesAgo(1), jobs: 120, wait_p50: 0.2, wait_p95: 1.5, wait_p99: 3, run_p50: 0.05, run_p95: 0.4, run_p99: 12 },
  ],
};
const FAILURES: FailuresWire = {
  buckets: [
    { minute: minutesAgo(3), task: "send_email", failures: 7 },
    { minute: minutesAgo(1), task: "send_email", failures: 2 },
    { minute: minutesAgo(1), task: "resize", failures: 1 },
  ],
};

function serveCharts(queues: QueueSamplesWire, latency: LatencyWire, failures: FailuresWire) {
  harness.api
    .on("GET", /^\/stats\/queues\?/, () => json(queues))
    .on("GET", /^\/stats\/latency\?/, () => json(latency))
    .on("GET", /^\/stats\/failures\?/, () => json(failures));
}

/** The Charts view, drawn from QUEUES, LATENCY and FAILURES. */
async function openCharts() {
  serveCharts(QUEUES, LATENCY, FAILURES);
  window.location.hash = "#/charts";
  const rendered = renderApp(harness);
  await goLive(harness);
  return rendered;
}

const legend = (testId: string) =>
  within(screen.getByTestId(testId))
    .queryAllByTestId("chart-series")
    .map((item) => item.textContent);

describe("the Charts view", () => {
  it("draws each chart from the API's samples, with each series' last value", async () => {
    await openCharts();
    await waitFor(() => expect(legend("chart-depth")).toEqual(["default 12", "emails 0"]));
    expect(legend("chart-oldest")).toEqual(["default 4.2 s"]); // emails had nothing pending
    expect(legend("chart-wait")).toEqual(["p50 200 ms", "p95 1.5 s", "p99 3.0 s"]);
    expect(legend("chart-run")).toEqual(["p50 50 ms", "p95 400 ms", "p99 12 s"]);
    expect(legend("chart-failures")).toEqual(["send_email 9", "resize 1"]);
    const depth = within(screen.getByTestId("chart-depth")).getByRole("img");
    expect(depth.getAttribute("aria-label")).toBe(
      "Queue depth, last 60 minutes: default now 12 jobs pending; emails now 0 jobs pending; at most 40.",
    );
    expect(depth.querySelectorAll("path.chart__line")).toHaveLength(2);
    // A lone minute (one latency bucket) is a dot: a line through one point draws nothing.
    expect(within(screen.getByTestId("chart-run")).getByRole("img").querySelectorAll("circle.chart__dot")).toHaveLength(3);
    for (const stat of ["queues", "latency", "failures"]) {
      expect(harness.api.calls("GET", new RegExp(`^/stats/${stat}\\?minutes=60$`))).toHaveLength(1);
    }
    expect(screen.getByRole("link", { name: "Charts" }).getAttribute("aria-current")).toBe("page");
  });

  it("asks for 6 or 24 hours when chosen, and keeps the choice in the address", async () => {
    const { user } = await openCharts();
    await user.click(screen.getByRole("button", { name: "24 hours" }));
    await waitFor(() => expect(window.location.hash).toBe("#/charts?minutes=1440"));
    await waitFor(() => expect(harness.api.calls("GET", /^\/stats\/queues\?minutes=1440$/)).toHaveLength(1));
    expect(harness.api.calls("GET", /^\/stats\/latency\?minutes=1440$/)).toHaveLength(1);
    expect(screen.getByRole("button", { name: "24 hours" }).getAttribute("aria-pressed")).toBe("true");
    await waitFor(() => expect(screen.getByTestId("chart-failures").textContent).toContain("per 12 min, last 1440 min"));
  });

  it("says there are no samples yet rather than drawing empty axes", async () => {
    serveCharts({ samples: [] }, { buckets: [] }, { buckets: [] });
    window.location.hash = "#/charts?minutes=360";
    renderApp(harness);
    await goLive(harness);
    await waitFor(() => expect(screen.getAllByText("No samples yet")).toHaveLength(5));
    expect(screen.getByTestId("chart-depth").textContent).toContain("Workers sample every queue once a minute");
    expect(screen.getByTestId("chart-failures").textContent).toContain("No failed attempt in this window");
    expect(screen.queryAllByRole("img")).toHaveLength(0);
  });

  it("says when the API could not be asked", async () => {
    window.location.hash = "#/charts";
    renderApp(harness); // no /stats/queues… in the fake: 404
    await goLive(harness);
    expect(await screen.findByText("Could not load queue depth")).toBeTruthy();
  });
});

describe("the charts' pieces", () => {
  it("groups a long window's failures into fewer bars, stacked by task", () => {
    const now = Date.parse("2026-01-02T10:30:20Z");
    const { container } = render(
      <FailuresChart
        buckets={[
          { minute: Date.parse("2026-01-02T10:29:00Z"), task: "a", failures: 2 },
          { minute: Date.parse("2026-01-02T10:28:00Z"), task: "b", failures: 1 },
        ]}
        minutes={1440}
        now={now}
        error={null}
        onRetry={() => {}}
      />,
    );
    // 10:28 and 10:29 fall in one 12-minute bar: two stacked rectangles.
    expect(container.querySelectorAll("rect")).toHaveLength(2);
    expect(screen.getByRole("img").getAttribute("aria-label")).toBe("Failures by task, last 1440 minutes: 3 in all; a 2, b 1.");
  });

  it("tops a seconds axis just above the peak, fractions too", () => {
    expect([0, 0.243, 1.5, 3, 12, 95].map(niceTop)).toEqual([1, 0.4, 2, 4, 20, 100]);
  });

  it("writes seconds as a chart reads them", () => {
    expect([0.0123, 0.85, 4.24, 42, 600].map(formatSeconds)).toEqual(["12 ms", "850 ms", "4.2 s", "42 s", "10 min"]);
  });
});

describe("the charts, drawn again only when what they show changed", () => {
  const work = () => ({
    series: vi.mocked(seriesByQueue).mock.calls.length + vi.mocked(percentileSeries).mock.calls.length,
    failures: vi.mocked(failuresByTask).mock.calls.length,
    /** The panel's renders (four line charts a render). */
    panel: drawn.lineCharts,
    /** The renders of the three line charts of seconds. */
    secondsCharts: vi.mocked(formatSeconds).mock.calls.length,
  });

  it("draws nothing again when a live event changes something else on the page", async () => {
    await openCharts();
    await waitFor(() => expect(legend("chart-failures")).toEqual(["send_email 9", "resize 1"]));
    await waitFor(() => expect(legend("chart-run")).toHaveLength(3));
    expect(legend("chart-depth")).toEqual(["default 12", "emails 0"]);
    const before = work();
    expect(before.series).toBeGreaterThan(0); // the counters count
    expect(before.panel).toBeGreaterThan(0);
    expect(screen.getByTestId("metric-pending").textContent).toBe("0");

    sendEvents(harness, { seq: 101, type: "job_created", status: "pending" });
    // The page rendered again, for the counts…
    await waitFor(() => expect(screen.getByTestId("metric-pending").textContent).toBe("1"));
    // …and the charts, whose data did not move, neither rendered nor computed anything.
    expect(work()).toEqual(before);
    expect(legend("chart-depth")).toEqual(["default 12", "emails 0"]);
  });

  it("computes a series once per answer: a refetch redraws only the chart whose data came", () => {
    const loaded = <T,>(data: T): ResourceState<T> => ({ data: { data, asOfSeq: 0 }, error: null, loading: false });
    const data: ChartsData = {
      queues: loaded(queueSamplesFromWire(QUEUES)),
      latency: loaded(latencyFromWire(LATENCY)),
      failures: loaded(failuresFromWire(FAILURES)),
      reload: () => {},
    };
    const onMinutes = () => {};
    const now = Date.now();
    const { rerender } = render(<ChartsPanel data={data} minutes={60} onMinutes={onMinutes} now={now} />);
    expect(legend("chart-wait")).toEqual(["p50 200 ms", "p95 1.5 s", "p99 3.0 s"]);
    const before = work();

    // A poll started: the data shown is the same arrays, only the loading flag moved.
    const polling = { ...data, queues: { ...data.queues, loading: true }, latency: { ...data.latency, loading: true } };
    rerender(<ChartsPanel data={polling} minutes={60} onMinutes={onMinutes} now={now} />);
    expect(work()).toEqual({ ...before, panel: before.panel + 4 });

    // New failures came: that chart alone is computed and drawn again.
    const failures = loaded(failuresFromWire({ buckets: [{ minute: QUEUES.samples[0]?.minute ?? "", task: "resize", failures: 5 }] }));
    rerender(<ChartsPanel data={{ ...polling, failures }} minutes={60} onMinutes={onMinutes} now={now} />);
    expect(work()).toEqual({ ...before, panel: before.panel + 8, failures: before.failures + 1 });
    expect(legend("chart-failures")).toEqual(["resize 5"]);
    expect(legend("chart-wait")).toEqual(["p50 200 ms", "p95 1.5 s", "p99 3.0 s"]);
  });

  it("draws the throughput again only when its buckets move, not for another live event", async () => {
    window.location.hash = "#/pending";
    renderApp(harness);
    await goLive(harness);
    await screen.findByTestId("list-pending");
    await waitFor(() => expect(screen.getByRole("img", { name: /^Over the last 60 minutes/ })).toBeTruthy());
    const filled = () => vi.mocked(fillMinutes).mock.calls.length;
    const before = filled();
    expect(before).toBeGreaterThan(0);

    sendEvents(harness, { seq: 101, type: "job_created", status: "pending" });
    await waitFor(() => expect(screen.getByTestId("metric-pending").textContent).toBe("1"));
    expect(filled()).toBe(before);

    // A job that ends moves a bucket: the chart is drawn again, with it.
    sendEvents(harness, { seq: 102, type: "job_succeeded", status: "done", at: new Date().toISOString() });
    await waitFor(() =>
      expect(screen.getByRole("img", { name: /^Over the last 60 minutes/ }).getAttribute("aria-label")).toContain("1 jobs done"),
    );
    expect(filled()).toBeGreaterThan(before);
  });
});
