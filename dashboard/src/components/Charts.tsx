// The Charts view's charts, drawn as SVG like ThroughputChart (no chart library): lines over
// time (a queue's depth, its oldest pending age, the latency percentiles) and stacked bars of
// failures per task. Each says in words what it shows (aria-label), and says so when there is
// nothing to show yet. Both are memoized: given the same props (series computed once per
// answer, stable functions), a render of their parent draws nothing again.

import { memo, useId } from "react";

import { formatAge, formatClock, formatCount } from "../format";
import { minuteOf, MINUTE_MS } from "../live/apply";
import type { ApiError } from "../services/api";
import { type FailureBucket, failuresByTask, type Series } from "../services/charts";
import { EmptyState, ErrorState, LoadingState } from "./States";
import { niceMax, useWidth } from "./ThroughputChart";

const HEIGHT = 170;
const PAD = { top: 10, right: 10, bottom: 22, left: 46 };
/** Line and bar colors, in series order (enough to tell the usual handful apart). */
export const PALETTE = ["#2f5bd3", "#e0584e", "#22b07d", "#a15c07", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
/** Bars drawn at most: a long window groups minutes (1440 minutes: 12 a bar). */
const MAX_BARS = 120;
/** Series drawn at most in a bar chart; the rest are summed as "other". */
const MAX_STACKED = 6;

/** An axis top for any positive value (fractions of a second too): 1, 2, 4, 6 or 8 × 10^n, so
 *  the middle tick reads well. Counts use niceMax (whole numbers, at least 4). */
export function niceTop(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (value <= step * power * (1 + 1e-9)) return step * power;
  }
  return 10 * power;
}

/** "now", "−15m", "−4h": how long before now a point of the time axis is. */
export function agoLabel(minutesAgo: number): string {
  if (minutesAgo <= 0) return "now";
  return minutesAgo < 120 ? `−${Math.round(minutesAgo)}m` : `−${Math.round(minutesAgo / 60)}h`;
}

/** Seconds as a chart reads them: "850 ms", "4.2 s", "3 min". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  return formatAge(seconds);
}

interface Frame {
  /** The time axis: from `start` to `end` (ms). */
  start: number;
  end: number;
  width: number;
  plotWidth: number;
  plotHeight: number;
  top: number;
  x: (t: number) => number;
  y: (v: number) => number;
}

function frame(width: number, minutes: number, now: number, peak: number, whole = true): Frame {
  const end = minuteOf(now) + MINUTE_MS;
  const start = end - minutes * MINUTE_MS;
  const plotWidth = Math.max(10, width - PAD.left - PAD.right);
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const top = whole ? niceMax(peak) : niceTop(peak);
  return {
    start,
    end,
    width,
    plotWidth,
    plotHeight,
    top,
    x: (t) => PAD.left + ((t - start) / (end - start)) * plotWidth,
    y: (v) => PAD.top + plotHeight - (Math.min(v, top) / top) * plotHeight,
  };
}

function Axes({ f, minutes, format }: { f: Frame; minutes: number; format: (v: number) => string }) {
  const ticks = [0, f.top / 2, f.top];
  const steps = 4;
  return (
    <>
      {ticks.map((tick) => (
        <g key={tick} className="chart__grid">
          <line x1={PAD.left} x2={PAD.left + f.plotWidth} y1={f.y(tick)} y2={f.y(tick)} />
          <text x={PAD.left - 6} y={f.y(tick)} dy="0.32em" textAnchor="end">
            {format(tick)}
          </text>
        </g>
      ))}
      {Array.from({ length: steps + 1 }, (_, i) => {
        const minutesAgo = minutes - (i * minutes) / steps;
        return (
          <text
            key={i}
            className="chart__axis"
            x={PAD.left + (i * f.plotWidth) / steps}
            y={HEIGHT - 6}
            textAnchor={i === 0 ? "start" : i === steps ? "end" : "middle"}
          >
            {agoLabel(minutesAgo)}
          </text>
        );
      })}
    </>
  );
}

/** Points with no drawn neighbour (a lone minute): a path through them draws nothing, so
 *  they get a dot. */
function lonePoints(series: Series, f: Frame): { x: number; y: number }[] {
  const points = series.points;
  const lone: { x: number; y: number }[] = [];
  points.forEach((point, index) => {
    if (point.v === null || point.t < f.start || point.t > f.end) return;
    const before = points[index - 1]?.v ?? null;
    const after = points[index + 1]?.v ?? null;
    if (before === null && after === null) lone.push({ x: f.x(point.t + MINUTE_MS / 2), y: f.y(point.v) });
  });
  return lone;
}

/** A path through a series' points, broken where a value is missing. */
function linePath(series: Series, f: Frame): string {
  let d = "";
  let open = false;
  for (const point of series.points) {
    if (point.v === null || point.t < f.start || point.t > f.end) {
      open = false;
      continue;
    }
    d += `${open ? "L" : "M"}${f.x(point.t + MINUTE_MS / 2).toFixed(1)},${f.y(point.v).toFixed(1)}`;
    open = true;
  }
  return d;
}

function lastValue(series: Series): number | null {
  for (let i = series.points.length - 1; i >= 0; i -= 1) {
    const value = series.points[i]?.v;
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

interface ChartFrameProps {
  title: string;
  testId: string;
  /** What the chart is of, beside the title ("per minute, last 60 min"). */
  note: string;
  /** The data arrived (null until the first answer). */
  loaded: boolean;
  error: ApiError | null;
  onRetry: () => void;
  /** Nothing to draw: the empty state's words (null: there is). */
  empty: string | null;
  legend: React.ReactNode;
  children: (width: number) => React.ReactNode;
}

function ChartFrame({ title, testId, note, loaded, error, onRetry, empty, legend, children }: ChartFrameProps) {
  const titleId = useId();
  const [ref, width] = useWidth(560);
  let body: React.ReactNode;
  if (!loaded && error !== null) {
    body = <ErrorState title={`Could not load ${title.toLowerCase()}`} error={error} onRetry={onRetry} />;
  } else if (!loaded) {
    body = <LoadingState label={`Loading ${title.toLowerCase()}…`} />;
  } else if (empty !== null) {
    body = (
      <EmptyState title="No samples yet">
        {empty}
      </EmptyState>
    );
  } else {
    body = children(width);
  }
  return (
    <section className="panel chart chart--stats" aria-labelledby={titleId} data-testid={testId}>
      <div className="chart__head">
        <h2 id={titleId} className="panel__title">
          {title}
        </h2>
        <p className="chart__legend">
          {legend}
          <span className="muted">{note}</span>
        </p>
      </div>
      <div ref={ref} className="chart__canvas">
        {body}
      </div>
      {loaded && error !== null && <p className="muted">Showing the last data received: {error.message}</p>}
    </section>
  );
}

export interface LineChartProps {
  title: string;
  testId: string;
  series: Series[] | null;
  minutes: number;
  now: number;
  /** How a value reads (axis, legend). */
  format: (value: number) => string;
  /** What a value is, for the summary ("jobs pending"). */
  unit: string;
  /** Whole numbers (counts): the axis top is too. */
  whole?: boolean;
  error: ApiError | null;
  onRetry: () => void;
  /** The empty state's words, when no sample has a value. */
  empty: string;
}

/** Lines over the last `minutes` minutes, one per series, with each one's last value. */
export const LineChart = memo(function LineChart({
  title,
  testId,
  series,
  minutes,
  now,
  format,
  unit,
  whole = false,
  error,
  onRetry,
  empty,
}: LineChartProps) {
  const shown = (series ?? []).filter((one) => one.points.some((point) => point.v !== null));
  const peak = shown.reduce((best, one) => one.points.reduce((max, point) => Math.max(max, point.v ?? 0), best), 0);
  const legend =
    shown.length === 0
      ? null
      : shown.map((one, index) => {
          const last = lastValue(one);
          return (
            <span key={one.name} className="legend" data-testid="chart-series">
              <span className="legend__swatch" style={{ background: PALETTE[index % PALETTE.length] }} aria-hidden="true" />
              {one.name} {last === null ? "–" : format(last)}
            </span>
          );
        });
  const summary =
    `${title}, last ${minutes} minutes: ` +
    shown.map((one) => `${one.name} now ${format(lastValue(one) ?? 0)} ${unit}`).join("; ") +
    (peak > 0 ? `; at most ${format(peak)}.` : ".");
  return (
    <ChartFrame
      title={title}
      testId={testId}
      note={`last ${minutes} min`}
      loaded={series !== null}
      error={error}
      onRetry={onRetry}
      empty={shown.length === 0 ? empty : null}
      legend={legend}
    >
      {(width) => {
        const f = frame(width, minutes, now, peak, whole);
        return (
          <svg width={width} height={HEIGHT} role="img" aria-label={summary} className="chart__svg">
            <Axes f={f} minutes={minutes} format={format} />
            {shown.map((one, index) => {
              const color = PALETTE[index % PALETTE.length];
              return (
                <g key={one.name}>
                  <title>{`${one.name}: last ${format(lastValue(one) ?? 0)}`}</title>
                  <path
                    className="chart__line"
                    d={linePath(one, f)}
                    fill="none"
                    stroke={color}
                    strokeWidth={1.8}
                    strokeLinejoin="round"
                  />
                  {lonePoints(one, f).map((point) => (
                    <circle key={point.x} className="chart__dot" cx={point.x} cy={point.y} r={2.5} fill={color} />
                  ))}
                </g>
              );
            })}
          </svg>
        );
      }}
    </ChartFrame>
  );
});

export interface FailuresChartProps {
  buckets: FailureBucket[] | null;
  minutes: number;
  now: number;
  error: ApiError | null;
  onRetry: () => void;
}

/** Failed attempts per minute (grouped for long windows), stacked by task: the tasks that fail
 *  most, the rest as "other". */
export const FailuresChart = memo(function FailuresChart({ buckets, minutes, now, error, onRetry }: FailuresChartProps) {
  const { tasks, minutes: byMinute } = failuresByTask(buckets ?? []);
  const named = tasks.slice(0, MAX_STACKED).map((task) => task.task);
  const otherTotal = tasks.slice(MAX_STACKED).reduce((sum, task) => sum + task.total, 0);
  const stack = otherTotal > 0 ? [...named, "other"] : named;
  const per = Math.max(1, Math.ceil(minutes / MAX_BARS));
  const bars = Math.ceil(minutes / per);
  const end = minuteOf(now) + MINUTE_MS;
  const start = end - bars * per * MINUTE_MS;
  const slots = Array.from({ length: bars }, () => new Map<string, number>());
  for (const [minute, counts] of byMinute) {
    const slot = Math.floor((minute - start) / (per * MINUTE_MS));
    const target = slots[slot];
    if (target === undefined) continue;
    for (const [task, failures] of counts) {
      const key = named.includes(task) ? task : "other";
      target.set(key, (target.get(key) ?? 0) + failures);
    }
  }
  const peak = slots.reduce((best, slot) => Math.max(best, [...slot.values()].reduce((a, b) => a + b, 0)), 0);
  const total = tasks.reduce((sum, task) => sum + task.total, 0);
  const legend =
    tasks.length === 0
      ? null
      : stack.map((task, index) => (
          <span key={task} className="legend" data-testid="chart-series">
            <span className="legend__swatch" style={{ background: PALETTE[index % PALETTE.length] }} aria-hidden="true" />
            {task} {formatCount(task === "other" ? otherTotal : (tasks.find((one) => one.task === task)?.total ?? 0))}
          </span>
        ));
  return (
    <ChartFrame
      title="Failures by task"
      testId="chart-failures"
      note={per === 1 ? `per minute, last ${minutes} min` : `per ${per} min, last ${minutes} min`}
      loaded={buckets !== null}
      error={error}
      onRetry={onRetry}
      empty={tasks.length === 0 ? "No failed attempt in this window (retried or dead-lettered ones count)." : null}
      legend={legend}
    >
      {(width) => {
        const f = frame(width, bars * per, now, peak);
        const slot = f.plotWidth / bars;
        const barWidth = Math.max(1, slot - (slot > 4 ? 2 : 0.5));
        return (
          <svg
            width={width}
            height={HEIGHT}
            role="img"
            aria-label={`Failures by task, last ${minutes} minutes: ${formatCount(total)} in all; ${tasks
              .map((task) => `${task.task} ${formatCount(task.total)}`)
              .join(", ")}.`}
            className="chart__svg"
          >
            <Axes f={f} minutes={bars * per} format={(v) => formatCount(Math.round(v))} />
            {slots.map((counts, index) => {
              let base = 0;
              const x = PAD.left + index * slot + (slot - barWidth) / 2;
              const at = new Date(start + index * per * MINUTE_MS);
              return (
                <g key={index}>
                  {counts.size > 0 && (
                    <title>{`${formatClock(at)}: ${[...counts].map(([task, n]) => `${task} ${n}`).join(", ")}`}</title>
                  )}
                  {stack.map((task, position) => {
                    const value = counts.get(task) ?? 0;
                    if (value === 0) return null;
                    const y0 = f.y(base);
                    base += value;
                    const y1 = f.y(base);
                    return (
                      <rect
                        key={task}
                        x={x}
                        y={y1}
                        width={barWidth}
                        height={Math.max(0, y0 - y1)}
                        fill={PALETTE[position % PALETTE.length]}
                      />
                    );
                  })}
                </g>
              );
            })}
          </svg>
        );
      }}
    </ChartFrame>
  );
});
