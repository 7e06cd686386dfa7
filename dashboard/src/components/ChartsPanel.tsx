import { memo, useMemo } from "react";

import type { ChartsData } from "../app/useCharts";
import { formatCount } from "../format";
import { CHART_MINUTES, type ChartMinutes } from "../routing";
import { percentileSeries, seriesByQueue } from "../services/charts";
import { FailuresChart, formatSeconds, LineChart, type LineChartProps } from "./Charts";

const WINDOW_LABELS: Record<ChartMinutes, string> = { 60: "1 hour", 360: "6 hours", 1440: "24 hours" };

const NO_SAMPLES = "Workers sample every queue once a minute: the first points show a minute after a worker starts.";
const NO_PENDING = "No job has been pending in this window.";

/** A count as an axis and a legend read it (one function, so the charts' props stay equal). */
const formatWhole = (value: number) => formatCount(Math.round(value));

/** What one line chart of the panel is drawn from; the window, the time and the retry are all
 *  of theirs. */
type LineProps = Omit<LineChartProps, "minutes" | "now" | "onRetry">;

/** The two charts of the queues' samples: their own words. */
const QUEUE_CHARTS = {
  depth: { title: "Queue depth", testId: "chart-depth", format: formatWhole, unit: "jobs pending", whole: true },
  oldest: { title: "Oldest pending job", testId: "chart-oldest", format: formatSeconds, unit: "waiting" },
} as const;

/** The two latency charts: the same percentiles of one measure each, in this order. */
const LATENCY_CHARTS = [
  {
    measure: "wait",
    title: "Wait time",
    testId: "chart-wait",
    empty: "No job started in this window: wait time is from runnable to started.",
  },
  {
    measure: "run",
    title: "Run time",
    testId: "chart-run",
    empty: "No job finished in this window: run time is from started to finished.",
  },
] as const;

interface ChartsPanelProps {
  /** One object while none of it changes (useCharts). */
  data: ChartsData;
  minutes: ChartMinutes;
  /** Stable: the panel is memoized. */
  onMinutes: (minutes: ChartMinutes) => void;
  now: number;
}

/** Queue depth and oldest pending age per queue, wait and run time percentiles, failures by
 *  task: over the last hour, 6 hours or day, from the samples the workers stored. Memoized,
 *  and each series is computed once per answer: a render of the page for something else (a
 *  live event, a refetch's loading flag) draws nothing again. */
export const ChartsPanel = memo(function ChartsPanel({ data, minutes, onMinutes, now }: ChartsPanelProps) {
  const samples = data.queues.data?.data ?? null;
  const latency = data.latency.data?.data ?? null;
  const depth = useMemo(() => (samples === null ? null : seriesByQueue(samples, (sample) => sample.pending)), [samples]);
  const oldest = useMemo(
    () => (samples === null ? null : seriesByQueue(samples, (sample) => sample.oldestPendingAgeSec)),
    [samples],
  );
  const percentiles = useMemo(
    () => (latency === null ? null : { wait: percentileSeries(latency, "wait"), run: percentileSeries(latency, "run") }),
    [latency],
  );
  // The line charts, in order. Their props are equal from one render to the next while the
  // data is (memoized series, module-level words and functions).
  const someSamples = samples !== null && samples.length > 0;
  const lines: LineProps[] = [
    { ...QUEUE_CHARTS.depth, series: depth, error: data.queues.error, empty: NO_SAMPLES },
    { ...QUEUE_CHARTS.oldest, series: oldest, error: data.queues.error, empty: someSamples ? NO_PENDING : NO_SAMPLES },
    ...LATENCY_CHARTS.map(({ measure, ...chart }) => ({
      ...chart,
      series: percentiles === null ? null : percentiles[measure],
      format: formatSeconds,
      unit: "",
      error: data.latency.error,
    })),
  ];
  return (
    <section className="charts" aria-labelledby="charts-title" data-testid="charts">
      <div className="charts__head">
        <h2 id="charts-title" className="panel__title" tabIndex={-1}>
          Charts
        </h2>
        <div className="charts__window" role="group" aria-label="Time window">
          {CHART_MINUTES.map((choice) => (
            <button
              key={choice}
              type="button"
              className={`button button--small${choice === minutes ? " button--primary" : ""}`}
              aria-pressed={choice === minutes}
              onClick={() => onMinutes(choice)}
            >
              {WINDOW_LABELS[choice]}
            </button>
          ))}
        </div>
      </div>
      <div className="charts__grid">
        {lines.map((line) => (
          <LineChart key={line.testId} {...line} minutes={minutes} now={now} onRetry={data.reload} />
        ))}
        <FailuresChart
          buckets={data.failures.data?.data ?? null}
          minutes={minutes}
          now={now}
          error={data.failures.error}
          onRetry={data.reload}
        />
      </div>
    </section>
  );
});
