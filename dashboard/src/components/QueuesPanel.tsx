import type { ReactNode } from "react";

import type { ResourceState } from "../data/resource";
import { formatAge, formatCount, formatDateTime } from "../format";
import type { Queue, QueueAction } from "../services/queues";
import { EmptyState, ErrorState, LoadingState } from "./States";

interface QueueRowActions {
  onAction: (name: string, action: QueueAction) => void;
  /** Names of queues whose request is in flight. */
  inFlight: ReadonlySet<string>;
  /** Why this API key may not pause or resume (not an admin's; null: it may). */
  denied: string | null;
}

interface Column {
  header: string;
  /** What the figure counts, as the header's tooltip. */
  hint?: string;
  className?: string;
  cell: (queue: Queue, actions: QueueRowActions) => ReactNode;
}

function count(value: (queue: Queue) => number): Column["cell"] {
  return (queue) => formatCount(value(queue));
}

function QueueState({ queue }: { queue: Queue }) {
  if (!queue.paused) return <span className="muted">Active</span>;
  return (
    <span
      className="badge badge--paused"
      data-status="paused"
      title={queue.pausedAt ? `Paused since ${formatDateTime(queue.pausedAt)}` : undefined}
    >
      <span className="badge__dot" aria-hidden="true" />
      Paused
    </span>
  );
}

const LABELS: Record<QueueAction, { idle: string; busy: string }> = {
  pause: { idle: "Pause", busy: "Pausing…" },
  resume: { idle: "Resume", busy: "Resuming…" },
};

function QueueButton({ queue, actions }: { queue: Queue; actions: QueueRowActions }) {
  const action: QueueAction = queue.paused ? "resume" : "pause";
  const busy = actions.inFlight.has(queue.name);
  const label = LABELS[action];
  return (
    <button
      type="button"
      className={`button button--small${action === "resume" ? " button--primary" : ""}`}
      onClick={() => {
        if (!busy && actions.denied === null) actions.onAction(queue.name, action);
      }}
      aria-disabled={busy || actions.denied !== null}
      title={actions.denied ?? undefined}
      aria-label={`${label.idle} queue ${queue.name}`}
    >
      {busy ? label.busy : label.idle}
    </button>
  );
}

const COLUMNS: Column[] = [
  { header: "Queue", className: "cell-queue", cell: (queue) => <span className="mono">{queue.name}</span> },
  { header: "State", cell: (queue) => <QueueState queue={queue} /> },
  { header: "Pending", hint: "Jobs a worker may take now", className: "cell-num", cell: count((q) => q.pending) },
  {
    header: "Scheduled",
    hint: "Pending jobs whose run time has not come",
    className: "cell-num",
    cell: count((q) => q.scheduled),
  },
  { header: "Running", className: "cell-num", cell: count((q) => q.running) },
  {
    header: "Oldest pending",
    hint: "How long the oldest job a worker may take has waited",
    className: "cell-num",
    cell: (queue) =>
      queue.oldestPendingAgeSec === null ? <span className="muted">–</span> : formatAge(queue.oldestPendingAgeSec),
  },
  { header: "Done (1 min)", hint: "Jobs done in the last minute", className: "cell-num", cell: count((q) => q.doneLastMinute) },
  {
    header: "Failed (1 min)",
    hint: "Jobs failed in the last minute",
    className: "cell-num",
    cell: count((q) => q.failedLastMinute),
  },
  { header: "Action", className: "cell-action", cell: (queue, actions) => <QueueButton queue={queue} actions={actions} /> },
];

interface QueuesPanelProps extends QueueRowActions {
  state: ResourceState<Queue[]>;
  onReload: () => void;
}

export function QueuesPanel({ state, onAction, inFlight, denied, onReload }: QueuesPanelProps) {
  const queues = state.data?.data ?? null;
  const actions = { onAction, inFlight, denied };
  const paused = queues?.filter((queue) => queue.paused).length ?? 0;

  let body;
  if (queues === null && state.error) {
    body = <ErrorState title="Could not load the queues" error={state.error} onRetry={onReload} />;
  } else if (queues === null) {
    body = <LoadingState label="Loading queues…" />;
  } else if (queues.length === 0) {
    body = (
      <EmptyState title="No queues to show">
        A queue is listed while it has pending or running jobs, for a minute after one of its jobs ends, and once it
        has been paused.
      </EmptyState>
    );
  } else {
    body = (
      <div className="table-wrap">
        <table className="jobs-table queues-table">
          <caption className="sr-only">Queues by name, with their jobs now and in the last minute</caption>
          <thead>
            <tr>
              {COLUMNS.map((column) => (
                <th key={column.header} scope="col" className={column.className} title={column.hint}>
                  {column.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {queues.map((queue) => (
              <tr
                key={queue.name}
                className={queue.paused ? "is-paused" : undefined}
                data-queue={queue.name}
                data-paused={queue.paused}
              >
                {COLUMNS.map((column) => (
                  <td key={column.header} className={column.className} data-label={column.header}>
                    {column.cell(queue, actions)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <section className="panel jobs queues" aria-labelledby="queues-title">
      <div className="jobs__head queues__head">
        <h2 id="queues-title" className="panel__title" tabIndex={-1}>
          Queues
        </h2>
        {queues !== null && queues.length > 0 && (
          <span className="muted">
            {queues.length} {queues.length === 1 ? "queue" : "queues"}
            {paused > 0 && ` · ${paused} paused`}
          </span>
        )}
        {state.data !== null && state.error && (
          <p className="jobs__stale" role="status">
            Showing the last data received: {state.error.message}
          </p>
        )}
      </div>
      <p className="muted queues__note">
        A paused queue keeps its jobs pending: workers take none of them until it is resumed, and the jobs already
        running finish.
        {denied !== null && (
          <>
            {" "}
            <span data-testid="queues-denied">{denied}</span>
          </>
        )}
      </p>
      <div className="jobs__panel" aria-busy={state.loading} data-testid="queues">
        {body}
      </div>
    </section>
  );
}
