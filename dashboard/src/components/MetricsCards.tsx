import { formatCount, STATUS_LABELS } from "../format";
import { routeHref } from "../routing";
import { JOB_STATUSES, type JobListView, type JobStatus, type Metrics } from "../services/jobs";

interface Card {
  id: string;
  label: string;
  value: (metrics: Metrics) => number;
  view?: JobListView;
  tone: string;
}

/** A status's count, linking to its list. */
function statusCard(status: JobStatus): Card {
  return { id: status, label: STATUS_LABELS[status], value: (m) => m[status], view: status, tone: status };
}

/** One card per status, so a status added to the lifecycle does not go uncounted: tsc asks
 *  for its card here. */
const STATUS_CARDS: Record<JobStatus, Card> = {
  pending: statusCard("pending"),
  running: statusCard("running"),
  done: statusCard("done"),
  // The failed jobs are the dead letter queue; the card says so and opens it.
  failed: { id: "failed", label: "Failed (DLQ)", value: (m) => m.dlqCount, view: "dlq", tone: "failed" },
  cancelled: statusCard("cancelled"),
};

const CARDS: Card[] = [
  ...JOB_STATUSES.map((status) => STATUS_CARDS[status]),
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
                <a className="metric__link" href={routeHref({ name: "list", view: card.view, filter: {} })}>
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
