import type { ChartsData } from "../app/useCharts";
import { formatCount } from "../format";
import { CHART_MINUTES, type ChartMinutes } from "../routing";
import { percentileSeries, seriesByQueue } from "../services/charts";
import { FailuresChart, formatSeconds, LineChart } from "./Charts";

const WINDOW_LABELS: Record<ChartMinutes, string> = { 60: "1 hour", 360: "6 hours", 1440: "24 hours" };

const NO_SAMPLES = "Workers sample every queue once a minute: the first points show a minute after a worker starts.";

interface ChartsPanelProps {
  data: ChartsData;
  minutes: ChartMinutes;
  onMinutes: (minutes: ChartMinutes) => void;
  now: number;
}

/** Queue depth and oldest pending age per queue, wait and run time percentiles, failures by
 *  task: over the last hour, 6 hours or day, from the samples the workers stored. */
export function ChartsPanel({ data, minutes, onMinutes, now }: ChartsPanelProps) {
  const samples = data.queues.data?.data ?? null;
  const latency = data.latency.data?.data ?? null;
  const count = (value: number) => formatCount(Math.round(value));
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
        <LineChart
          title="Queue depth"
          testId="chart-depth"
          series={samples === null ? null : seriesByQueue(samples, (sample) => sample.pending)}
          minutes={minutes}
          now={now}
          format={count}
          unit="jobs pending"
          whole
          error={data.queues.error}
          onRetry={data.reload}
          empty={NO_SAMPLES}
        />
        <LineChart
          title="Oldest pending job"
          testId="chart-oldest"
          series={samples === null ? null : seriesByQueue(samples, (sample) => sample.oldestPendingAgeSec)}
          minutes={minutes}
          now={now}
          format={formatSeconds}
          unit="waiting"
          error={data.queues.error}
          onRetry={data.reload}
          empty={samples !== null && samples.length > 0 ? "No job has been pending in this window." : NO_SAMPLES}
        />
        <LineChart
          title="Wait time"
          testId="chart-wait"
          series={latency === null ? null : percentileSeries(latency, "wait")}
          minutes={minutes}
          now={now}
          format={formatSeconds}
          unit=""
          error={data.latency.error}
          onRetry={data.reload}
          empty="No job started in this window: wait time is from runnable to started."
        />
        <LineChart
          title="Run time"
          testId="chart-run"
          series={latency === null ? null : percentileSeries(latency, "run")}
          minutes={minutes}
          now={now}
          format={formatSeconds}
          unit=""
          error={data.latency.error}
          onRetry={data.reload}
          empty="No job finished in this window: run time is from started to finished."
        />
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
}
