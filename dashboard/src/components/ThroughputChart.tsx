import { memo, useEffect, useId, useRef, useState } from "react";

import { fillMinutes } from "../live/apply";
import { formatClock, formatCount } from "../format";
import type { ApiError } from "../services/api";
import type { ThroughputBucket } from "../services/jobs";

const HEIGHT = 150;
const PAD = { top: 10, right: 8, bottom: 22, left: 34 };

/** The axis top: 4, 6, 8, then 1, 2, 4, 6 or 8 × 10^n, so the middle tick is whole too. */
export function niceMax(value: number): number {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

/** A measured element's width (its ref, and the width: `fallback` until measured). */
export function useWidth(fallback: number): [React.RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const element = ref.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver((entries) => {
      const measured = entries[0]?.contentRect.width;
      if (measured && measured > 0) setWidth(Math.round(measured));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

interface ThroughputChartProps {
  buckets: readonly ThroughputBucket[] | null;
  minutes: number;
  now: number;
  error: ApiError | null;
}

/** Jobs done and failed per minute, stacked bars, drawn as SVG. Memoized: its buckets stay one
 *  array while no event ends a job, so a render of the page for something else (a live event)
 *  draws nothing again. */
export const ThroughputChart = memo(function ThroughputChart({ buckets, minutes, now, error }: ThroughputChartProps) {
  const titleId = useId();
  const [ref, width] = useWidth(560);
  const filled = fillMinutes(buckets ?? [], minutes, now);
  const done = filled.reduce((sum, bucket) => sum + bucket.done, 0);
  const failed = filled.reduce((sum, bucket) => sum + bucket.failed, 0);
  const peak = filled.reduce((best, bucket) => Math.max(best, bucket.done + bucket.failed), 0);
  const top = niceMax(peak);

  const plotWidth = Math.max(10, width - PAD.left - PAD.right);
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / minutes;
  const barWidth = Math.max(1, slot - (slot > 4 ? 2 : 0.5));
  const y = (value: number) => PAD.top + plotHeight - (value / top) * plotHeight;

  const summary =
    buckets === null
      ? "Loading throughput."
      : `Over the last ${minutes} minutes: ${formatCount(done)} jobs done and ${formatCount(failed)} failed` +
        (peak > 0 ? `; at most ${formatCount(peak)} in one minute.` : ".");

  const ticks = [0, top / 2, top];
  const labelEvery = minutes >= 30 ? 15 : 5;

  return (
    <section className="panel chart" aria-labelledby={titleId}>
      <div className="chart__head">
        <h2 id={titleId} className="panel__title">
          Throughput
        </h2>
        <p className="chart__legend">
          <span className="legend legend--done">
            <span className="legend__swatch" aria-hidden="true" /> Done {formatCount(done)}
          </span>
          <span className="legend legend--failed">
            <span className="legend__swatch" aria-hidden="true" /> Failed {formatCount(failed)}
          </span>
          <span className="muted">per minute, last {minutes} min</span>
        </p>
      </div>
      <div ref={ref} className="chart__canvas">
        <svg width={width} height={HEIGHT} role="img" aria-label={summary} className="chart__svg">
          {ticks.map((tick) => (
            <g key={tick} className="chart__grid">
              <line x1={PAD.left} x2={PAD.left + plotWidth} y1={y(tick)} y2={y(tick)} />
              <text x={PAD.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
                {formatCount(Math.round(tick))}
              </text>
            </g>
          ))}
          {filled.map((bucket, index) => {
            const x = PAD.left + index * slot + (slot - barWidth) / 2;
            const doneTop = y(bucket.done);
            const failedTop = y(bucket.done + bucket.failed);
            const minutesAgo = minutes - 1 - index;
            return (
              <g key={bucket.minute}>
                <title>
                  {`${formatClock(new Date(bucket.minute))}: ${bucket.done} done, ${bucket.failed} failed`}
                </title>
                {/* A transparent full-height target, so thin bars are easy to hover. */}
                <rect x={PAD.left + index * slot} y={PAD.top} width={slot} height={plotHeight} fill="transparent" />
                {bucket.done > 0 && (
                  <rect className="bar bar--done" x={x} y={doneTop} width={barWidth} height={y(0) - doneTop} />
                )}
                {bucket.failed > 0 && (
                  <rect className="bar bar--failed" x={x} y={failedTop} width={barWidth} height={doneTop - failedTop} />
                )}
                {minutesAgo % labelEvery === 0 && (
                  <text className="chart__axis" x={PAD.left + index * slot + slot / 2} y={HEIGHT - 6} textAnchor="middle">
                    {minutesAgo === 0 ? "now" : `−${minutesAgo}m`}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      </div>
      {error && buckets === null && <p className="muted">Throughput unavailable: {error.message}</p>}
    </section>
  );
});

export const THROUGHPUT_MINUTES = 60;
