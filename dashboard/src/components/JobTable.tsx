import { memo, type ReactNode } from "react";

import { describePayload, formatAgo, formatDateTime, formatDuration, formatRelative, shortId } from "../format";
import { routeHref } from "../routing";
import { canCancel, canRetry, type Job, type JobListView } from "../services/jobs";
import { ProgressBar } from "./ProgressBar";
import { StatusBadge } from "./StatusBadge";

/** What a row's buttons do, and which requests are in flight (one object while none of it
 *  changes: rows are memoized). */
export interface RowActions {
  onRetry: (job: Job) => void;
  onCancel: (job: Job) => void;
  /** Ids of jobs whose retry request is in flight. */
  retrying: ReadonlySet<string>;
  /** Ids of jobs whose cancel request is in flight. */
  cancelling: ReadonlySet<string>;
  /** Why this API key may not retry or cancel (a read-only key), said by the buttons, which are
   *  off; null: it may. */
  denied: string | null;
}

interface Column {
  header: string;
  className?: string;
  cell: (job: Job, now: number, actions: RowActions) => ReactNode;
}

/** A moment, relative to now; `future` for one that may be ahead (run at). */
function When({ date, now, future = false }: { date: Date | null; now: number; future?: boolean }) {
  if (date === null) return <span className="muted">–</span>;
  return (
    <time dateTime={date.toISOString()} title={formatDateTime(date)}>
      {future ? formatRelative(date, now) : formatAgo(date, now)}
    </time>
  );
}

const jobColumn: Column = {
  header: "Job",
  cell: (job) => (
    <div className="cell-job">
      <a className="mono job-link" href={routeHref({ name: "job", id: job.id })} title={job.id}>
        {shortId(job.id)}
      </a>
      <span className="muted cell-job__task">
        {job.task}
        {job.queue !== "default" ? ` · ${job.queue}` : ""}
      </span>
    </div>
  ),
};

const payloadColumn: Column = {
  header: "Payload",
  className: "cell-payload",
  cell: (job) => <span title={JSON.stringify(job.payload)}>{describePayload(job)}</span>,
};

const statusColumn: Column = { header: "Status", cell: (job) => <StatusBadge status={job.status} /> };

const attemptsColumn: Column = {
  header: "Attempts",
  className: "cell-num",
  cell: (job) => (
    <span title={`${job.attempts} of at most ${job.maxRetries + 1}`}>
      {job.attempts} / {job.maxRetries + 1}
    </span>
  ),
};

const tenantColumn: Column = { header: "Tenant", cell: (job) => job.tenant };

/** A column of one of the job's moments, relative to now. */
function whenColumn(header: string, date: (job: Job) => Date | null): Column {
  return { header, cell: (job, now) => <When date={date(job)} now={now} /> };
}

const createdColumn = whenColumn("Created", (job) => job.createdAt);
const startedColumn = whenColumn("Started", (job) => job.startedAt);
const finishedColumn = whenColumn("Finished", (job) => job.finishedAt);
/** The failed and cancelled lists' finished time, named for how the job ended. */
const failedColumn = whenColumn("Failed", (job) => job.finishedAt);
const cancelledColumn = whenColumn("Cancelled", (job) => job.finishedAt);

const reasonColumn: Column = {
  header: "Reason",
  className: "cell-reason",
  cell: (job) => <span className="reason">{job.lastError ?? "–"}</span>,
};

/** The one thing to do with a job: cancel it while it may run, retry it once it failed or was
 *  cancelled; or where its retry went. */
function JobAction({ job, actions }: { job: Job; actions: RowActions }) {
  if (job.retriedBy !== null) {
    return (
      <a className="retried-link" href={routeHref({ name: "job", id: job.retriedBy })}>
        Retried as <span className="mono">{shortId(job.retriedBy)}</span>
      </a>
    );
  }
  if (canCancel(job.status)) {
    if (job.status === "running" && job.cancelRequestedAt !== null) {
      return (
        <span className="muted stopping" title={`Cancellation requested at ${formatDateTime(job.cancelRequestedAt)}`}>
          Stopping…
        </span>
      );
    }
    const busy = actions.cancelling.has(job.id);
    return (
      <button
        type="button"
        className="button button--small button--danger"
        onClick={() => {
          if (actions.denied === null) actions.onCancel(job);
        }}
        aria-disabled={busy || actions.denied !== null}
        title={actions.denied ?? undefined}
        aria-label={`Cancel job ${shortId(job.id)}`}
      >
        {busy ? "Cancelling…" : "Cancel"}
      </button>
    );
  }
  if (canRetry(job.status)) {
    const busy = actions.retrying.has(job.id);
    return (
      <button
        type="button"
        className="button button--small"
        onClick={() => {
          if (actions.denied === null) actions.onRetry(job);
        }}
        aria-disabled={busy || actions.denied !== null}
        title={actions.denied ?? undefined}
        aria-label={`Retry job ${shortId(job.id)}`}
      >
        {busy ? "Retrying…" : "Retry"}
      </button>
    );
  }
  return <span className="muted">–</span>;
}

const actionColumn: Column = {
  header: "Action",
  className: "cell-action",
  cell: (job, _now, actions) => <JobAction job={job} actions={actions} />,
};

const progressColumn: Column = {
  header: "Progress",
  className: "cell-progress",
  cell: (job) =>
    job.status === "running" && job.progress !== null ? (
      <ProgressBar progress={job.progress} message={job.progressMessage} label={`Progress of job ${shortId(job.id)}`} />
    ) : (
      <span className="muted">–</span>
    ),
};

const COLUMNS: Record<JobListView, Column[]> = {
  all: [
    jobColumn,
    payloadColumn,
    statusColumn,
    tenantColumn,
    attemptsColumn,
    createdColumn,
    finishedColumn,
    actionColumn,
  ],
  pending: [
    jobColumn,
    payloadColumn,
    statusColumn,
    tenantColumn,
    attemptsColumn,
    createdColumn,
    {
      header: "Runs",
      cell: (job, now) =>
        job.runAt.getTime() > now + 1000 ? <When date={job.runAt} now={now} future /> : <span className="muted">when a worker is free</span>,
    },
    actionColumn,
  ],
  running: [
    jobColumn,
    payloadColumn,
    statusColumn,
    { header: "Worker", className: "cell-worker", cell: (job) => <span className="mono">{job.leaseOwner ?? "–"}</span> },
    attemptsColumn,
    startedColumn,
    progressColumn,
    {
      header: "Running for",
      className: "cell-num",
      cell: (job, now) =>
        job.startedAt && job.status === "running" ? formatDuration(Math.max(0, now - job.startedAt.getTime())) : "–",
    },
    actionColumn,
  ],
  done: [
    jobColumn,
    payloadColumn,
    statusColumn,
    tenantColumn,
    attemptsColumn,
    {
      header: "Took",
      className: "cell-num",
      cell: (job) =>
        job.startedAt && job.finishedAt ? formatDuration(job.finishedAt.getTime() - job.startedAt.getTime()) : "–",
    },
    finishedColumn,
  ],
  failed: [
    jobColumn,
    payloadColumn,
    statusColumn,
    reasonColumn,
    attemptsColumn,
    failedColumn,
    actionColumn,
  ],
  cancelled: [
    jobColumn,
    payloadColumn,
    statusColumn,
    tenantColumn,
    attemptsColumn,
    cancelledColumn,
    actionColumn,
  ],
  dlq: [
    jobColumn,
    payloadColumn,
    reasonColumn,
    attemptsColumn,
    tenantColumn,
    failedColumn,
    actionColumn,
  ],
};

/** Rows that can be picked for a bulk action: a checkbox each, and one for the whole page. */
export interface RowSelection {
  selected: ReadonlySet<string>;
  /** Whether a row can be picked (the bulk action applies to it). */
  selectable: (job: Job) => boolean;
  /** Pick or unpick these rows. Stable: rows are memoized. */
  onSelect: (ids: readonly string[], selected: boolean) => void;
}

interface RowProps {
  job: Job;
  columns: Column[];
  now: number;
  actions: RowActions;
  /** Absent: no checkbox column. */
  onSelect: RowSelection["onSelect"] | undefined;
  /** Whether the row has a checkbox, and whether it is ticked. */
  selectable: boolean;
  selected: boolean;
}

const JobRow = memo(function JobRow({ job, columns, now, actions, onSelect, selectable, selected }: RowProps) {
  return (
    <tr
      className={job.status === "running" ? "is-running" : undefined}
      data-job-id={job.id}
      data-status={job.status}
      aria-selected={onSelect && selectable ? selected : undefined}
    >
      {onSelect !== undefined && (
        <td className="cell-select" data-label="Select">
          {selectable && (
            <input
              type="checkbox"
              checked={selected}
              onChange={(event) => onSelect([job.id], event.target.checked)}
              aria-label={`Select job ${shortId(job.id)}`}
            />
          )}
        </td>
      )}
      {columns.map((column) => (
        <td key={column.header} className={column.className} data-label={column.header}>
          {column.cell(job, now, actions)}
        </td>
      ))}
    </tr>
  );
});

interface JobTableProps {
  view: JobListView;
  jobs: readonly Job[];
  caption: string;
  now: number;
  actions: RowActions;
  /** Checkboxes for a bulk action (absent: none). */
  selection?: RowSelection | null;
}

export function JobTable({ view, jobs, caption, now, actions, selection = null }: JobTableProps) {
  const columns = COLUMNS[view];
  const pickable = selection === null ? [] : jobs.filter((job) => selection.selectable(job));
  const allPicked = selection !== null && pickable.length > 0 && pickable.every((job) => selection.selected.has(job.id));
  const somePicked = selection !== null && pickable.some((job) => selection.selected.has(job.id));
  return (
    <div className="table-wrap">
      <table className="jobs-table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {selection !== null && (
              <th scope="col" className="cell-select">
                <input
                  type="checkbox"
                  checked={allPicked}
                  ref={(element) => {
                    if (element) element.indeterminate = somePicked && !allPicked;
                  }}
                  disabled={pickable.length === 0}
                  onChange={(event) => selection.onSelect(pickable.map((job) => job.id), event.target.checked)}
                  aria-label="Select page"
                  title="Select every row on this page"
                />
              </th>
            )}
            {columns.map((column) => (
              <th key={column.header} scope="col" className={column.className}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <JobRow
              key={job.id}
              job={job}
              columns={columns}
              now={now}
              actions={actions}
              onSelect={selection?.onSelect}
              selectable={selection?.selectable(job) ?? false}
              selected={selection?.selected.has(job.id) ?? false}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}
