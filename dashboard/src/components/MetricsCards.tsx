import { formatCount } from "../format";
import { routeHref } from "../routing";
import type { JobListView, Metrics } from "../services/jobs";

interface Card {
  id: string;
  label: string;
  value: (metrics: Metrics) => number;
  view?: JobListView;
  tone: string;
}

const CARDS: Card[] = [
  { id: "pending", label: "Pending", value: (m) => m.pending, view: "pending", tone: "pending" },
  { id: "running", label: "Running", value: (m) => m.running, view: "running", tone: "running" },
  { id: "done", label: "Done", value: (m) => m.done, view: "done", tone: "done" },
  { id: "failed", label: "Failed (DLQ)", value: (m) => m.dlqCount, view: "dlq", tone: "failed" },
  { id: "submitted", label: "Submitted", value: (m) => m.jobsSubmitted, tone: "neutral" },
  { id: "retries", label: "Retries", value: (m) => m.retries, tone: "neutral" },
];

export function MetricsCards({ metrics, loading }: { metrics: Metrics | null; loading: boolean }) {
  return (
    <section className="metrics" aria-label="Queue metrics" aria-busy={metrics === null && loading}>
      <ul className="metrics__list">
        {CARDS.map((card) => {
          const value = metrics === null ? "–" : formatCount(card.value(metrics));
          const body = (
            <>
              <span className="metric__label">{card.label}</span>
              <span className="metric__value" data-testid={`metric-${card.id}`}>
                {value}
              </span>
            </>
          );
          return (
            <li key={card.label} className={`metric metric--${card.tone}`}>
              {card.view ? (
                <a className="metric__link" href={routeHref({ name: "list", view: card.view, page: 0 })}>
                  {body}
                </a>
              ) : (
                <div className="metric__link metric__link--static">{body}</div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
